"""Fleet manager core (no ROS): lost robots alerted and stored, on-board items alerted per task,
alerts stored once (also after a restart), robots upserted, restart seeding from the store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from robots_testkit import PIN, FakeClock

from hospital_ops.campus import Campus
from hospital_ops.domain import RobotMode, StopKind
from hospital_ops.store import Store
from robots.alerts import Alert, AlertCode, Severity
from robots.credentials import FAST_HASHER, hash_pin
from robots.driver_core import DriverConfig, LegStop, RobotDriverCore
from robots.fleet_service import FleetService

T0 = 1_800_000_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'fm.db'}", hasher=FAST_HASHER)
    yield s
    s.close()


def loaded_robot(campus: Campus, wall: FakeClock) -> RobotDriverCore:
    """R1 with task T1 in a drawer."""
    robot = RobotDriverCore(DriverConfig("R1", "PHARM", dwell_s=0.0), campus, clock=wall, start_at_s=T0)
    robot.start_leg("L1", [LegStop(StopKind.PICKUP, "PHARM", "T1", hash_pin(PIN, FAST_HASHER))])
    robot.advance(0.0)
    assert robot.open_drawer("pin", task_id="T1", pin=PIN).custody is not None
    return robot


def test_lost_robot_alerts_and_store(tiny_campus: Campus, store: Store) -> None:
    """Silent 4.5 s: a robot alert and one per item on board, all stored, robot LOST in the store;
    a heartbeat brings it back (INFO); nothing is alerted twice."""
    wall = FakeClock(0.0)
    fleet = FleetService(store, campus_now=lambda: T0 + 100, wall=wall, store_period_s=2.0)
    robot = loaded_robot(tiny_campus, wall)
    assert fleet.on_state(robot.snapshot()) == []
    assert store.get_robot("R1").robot.on_board == ("T1",)
    wall.tick(4.4)
    assert fleet.check() == []
    wall.tick(0.1)
    alerts = fleet.check()
    assert [(a.code, a.severity, a.robot_id, a.task_id) for a in alerts] == [
        (AlertCode.ROBOT_LOST, Severity.CRITICAL, "R1", ""),
        (AlertCode.ROBOT_LOST, Severity.CRITICAL, "R1", "T1"),
    ]
    assert all(a.at_s == T0 + 100 for a in alerts) and fleet.check() == []
    stored = store.list_alerts(kind="robot.robot_lost")
    assert {a.subject for a in stored} == {"robot:R1", "task:T1"} and all(
        a.severity.value == "critical" for a in stored
    )
    assert store.get_robot("R1").robot.mode is RobotMode.LOST
    for a in alerts:  # its own alerts come back over /fleet/alerts: stored once
        fleet.on_alert(a)
    assert len(store.list_alerts(kind="robot.robot_lost")) == 2
    wall.tick(1.0)
    back = fleet.on_state(robot.snapshot())
    assert [(a.severity, a.robot_id) for a in back] == [(Severity.INFO, "R1")]
    assert store.get_robot("R1").robot.mode is not RobotMode.LOST


def test_robot_alerts_are_stored_once_even_after_a_restart(store: Store) -> None:
    """A drawer lock-out from a robot is stored once, and a restarted manager (replayed topic) does not
    store it again."""
    alert = Alert(AlertCode.DRAWER_LOCKED_OUT, Severity.CRITICAL, "drawer 0 of R1 locked out", T0, "R1", "T9", "W1")
    fleet = FleetService(store, campus_now=lambda: T0)
    fleet.on_alert(alert)
    fleet.on_alert(alert)
    again = FleetService(store, campus_now=lambda: T0)
    again.on_alert(alert)
    (stored,) = store.list_alerts(kind="robot.drawer_locked_out")
    assert stored.subject == "task:T9" and stored.message.startswith("drawer 0 of R1 locked out")


def test_restart_tracks_robots_known_to_the_store(tiny_campus: Campus, store: Store) -> None:
    """After a restart, a robot the store knows but nobody hears is declared lost 4.5 s later (with its
    on-board item); one already LOST in the store is not alerted again; its stored record is kept."""
    wall = FakeClock(0.0)
    first = FleetService(store, campus_now=lambda: T0, wall=wall)
    first.on_state(loaded_robot(tiny_campus, wall).snapshot())
    other = RobotDriverCore(DriverConfig("R2", "DOCK", drawers=6), tiny_campus, clock=wall, start_at_s=T0)
    first.on_state(other.snapshot())
    store.upsert_robot(dataclasses.replace(store.get_robot("R2").robot, mode=RobotMode.LOST), heartbeat=False)
    wall2 = FakeClock(0.0)
    restarted = FleetService(store, campus_now=lambda: T0 + 50, wall=wall2)
    assert restarted.tracker.alive() == ["R1", "R2"]
    wall2.tick(4.5)
    alerts = restarted.check()
    assert [(a.robot_id, a.task_id) for a in alerts] == [("R1", ""), ("R1", "T1")]
    assert store.get_robot("R1").robot.mode is RobotMode.LOST
    r2 = store.get_robot("R2").robot
    assert r2.mode is RobotMode.LOST and r2.capacity_units == 6
