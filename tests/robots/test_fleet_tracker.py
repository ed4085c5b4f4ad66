"""Fleet tracker: heartbeats from RobotState, robots lost within 5 s, the planner's view."""

from __future__ import annotations

import dataclasses

import pytest
from robots_testkit import FakeClock

from hospital_ops.campus import Campus
from hospital_ops.domain import RobotMode, StopKind
from robots.alerts import AlertCode, Severity
from robots.driver_core import DriverConfig, LegStop, RobotDriverCore, RobotSnapshot
from robots.fleet import FleetTracker, Liveness, Transition


def snap(campus: Campus, robot_id: str = "R1", start: str = "W1", **cfg: object) -> RobotSnapshot:
    return RobotDriverCore(DriverConfig(robot_id, start, **cfg), campus, clock=FakeClock()).snapshot()  # type: ignore[arg-type]


def test_robot_is_lost_after_five_silent_seconds(tiny_campus: Campus, clock: FakeClock) -> None:
    """Silent for 4.9 s a robot is alive; at 5 s it is LOST, once, with a critical alert."""
    fleet = FleetTracker(clock=clock)
    fleet.heartbeat(snap(tiny_campus))
    clock.tick(4.9)
    assert fleet.check() == [] and fleet.alive() == ["R1"]
    clock.tick(0.1)
    (t,) = fleet.check()
    assert (t.robot_id, t.liveness) == ("R1", Liveness.LOST) and t.silent_s == pytest.approx(5.0)
    assert fleet.lost() == ["R1"] and fleet.check() == []
    (alert,) = fleet.drain_alerts()
    assert (alert.code, alert.severity, alert.location) == (AlertCode.ROBOT_LOST, Severity.CRITICAL, "W1")


def test_steady_heartbeats_keep_a_robot_alive(tiny_campus: Campus, clock: FakeClock) -> None:
    """A robot publishing every 0.5 s is never declared lost, however long it runs."""
    fleet = FleetTracker(clock=clock)
    for _ in range(100):
        fleet.heartbeat(snap(tiny_campus))
        clock.tick(0.5)
        assert fleet.check() == []
    assert fleet.liveness("R1") is Liveness.ALIVE


def test_lost_robot_comes_back_with_its_next_heartbeat(tiny_campus: Campus, clock: FakeClock) -> None:
    """A heartbeat after the loss brings the robot back (INFO alert) and re-arms the loss check."""
    fleet = FleetTracker(clock=clock, lost_after_s=5.0)
    fleet.heartbeat(snap(tiny_campus))
    clock.tick(8.0)
    fleet.check()
    back = fleet.heartbeat(snap(tiny_campus))
    assert back == Transition("R1", Liveness.ALIVE, 8.0)
    assert [a.severity for a in fleet.drain_alerts()] == [Severity.CRITICAL, Severity.INFO]
    clock.tick(5.0)
    assert [t.liveness for t in fleet.check()] == [Liveness.LOST]


def test_each_robot_is_judged_on_its_own(tiny_campus: Campus, clock: FakeClock) -> None:
    """Only the silent robot is lost; the others stay alive."""
    fleet = FleetTracker(clock=clock)
    fleet.heartbeat(snap(tiny_campus, "R1"))
    fleet.heartbeat(snap(tiny_campus, "R2"))
    clock.tick(3.0)
    fleet.heartbeat(snap(tiny_campus, "R2"))
    clock.tick(3.0)
    assert [t.robot_id for t in fleet.check()] == ["R1"]
    assert fleet.alive() == ["R2"] and fleet.lost() == ["R1"]


def test_late_state_does_not_overwrite_newer(tiny_campus: Campus, clock: FakeClock) -> None:
    """An older state (replayed or late) counts as a heartbeat but keeps the newer state."""
    fleet = FleetTracker(clock=clock)
    new = dataclasses.replace(snap(tiny_campus), at_s=2000.0, location="W3")
    old = dataclasses.replace(new, at_s=1000.0, location="W1")
    fleet.heartbeat(new)
    clock.tick(4.0)
    fleet.heartbeat(old)
    clock.tick(4.0)
    assert fleet.check() == []
    assert fleet.snapshot("R1").location == "W3"  # type: ignore[union-attr]


def test_planner_view_marks_lost_robots_and_their_stranded_items(
    tiny_campus: Campus, clock: FakeClock, pin_hash: str
) -> None:
    """Lost robots are LOST for the planner; tasks locked in them are listed as stranded."""
    core = RobotDriverCore(DriverConfig("R1", "PHARM", drawers=3), tiny_campus, clock=FakeClock())
    core.start_leg("L1", [LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash=pin_hash)])
    core.open_drawer("pin", task_id="T1", pin="4321")
    fleet = FleetTracker(clock=clock)
    fleet.heartbeat(core.snapshot())
    fleet.heartbeat(snap(tiny_campus, "R2", start="DOCK", battery_pct=50.0))
    (r1, r2) = fleet.robots()
    assert (r1.id, r1.mode, r1.on_board, r1.capacity_units) == ("R1", RobotMode.BUSY, ("T1",), 3)
    assert (r2.id, r2.mode, r2.battery_pct, r2.location) == ("R2", RobotMode.CHARGING, 50.0, "DOCK")
    clock.tick(6.0)
    fleet.heartbeat(snap(tiny_campus, "R2", start="DOCK", battery_pct=51.0))
    fleet.check()
    assert fleet.robots()[0].mode is RobotMode.LOST
    assert fleet.stranded_tasks() == {"T1": "R1"}
    assert "carrying T1" in fleet.drain_alerts()[0].message


def test_bad_inputs_are_refused(tiny_campus: Campus) -> None:
    """A non-positive loss time and a heartbeat without robot id are refused with the field."""
    with pytest.raises(ValueError, match="lost_after_s: must be positive"):
        FleetTracker(lost_after_s=0)
    with pytest.raises(ValueError, match="robot_id: a heartbeat needs"):
        FleetTracker().heartbeat(dataclasses.replace(snap(tiny_campus), robot_id=""))


def test_forget_retires_a_robot(tiny_campus: Campus, clock: FakeClock) -> None:
    """A retired robot is no longer tracked or reported lost."""
    fleet = FleetTracker(clock=clock)
    fleet.heartbeat(snap(tiny_campus))
    assert fleet.forget("R1") and not fleet.forget("R1")
    clock.tick(60.0)
    assert fleet.check() == [] and fleet.robots() == []
