"""The fleet demo's plain parts (task mix, report) and the bridge's mapping to the web app's contract."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from robots_testkit import FakeClock

from hospital_ops.campus import Campus, default_campus
from hospital_ops.domain import CustodyEvent, CustodyKind, Priority, RobotMode
from hospital_ops.store import Store
from robots.bridge_core import drawer_answer, drawer_command, lift_report, robot_report
from robots.credentials import FAST_HASHER
from robots.driver_core import DriverConfig, OpenOutcome, RobotDriverCore
from robots.fleet_demo import DemoConfig, demo_tasks, report, turnaround
from robots.lifts import LiftView

NOW = 1_800_000_000


def test_demo_tasks_are_realistic_due_now_and_seeded() -> None:
    """Demo tasks come from the scenario mix, are all requested now, have their own 6-digit PINs, and
    the same seed gives the same tasks."""
    campus = default_campus()
    a = demo_tasks(campus, 30, NOW, seed=3)
    assert [d.task for d in a] == [d.task for d in demo_tasks(campus, 30, NOW, seed=3)]
    assert all(d.task.earliest_s == NOW and d.task.deadline_s > NOW for d in a)
    assert all(d.task.pickup in campus.locations and d.task.dropoff in campus.locations for d in a)
    assert all(len(d.pin) == 6 and d.pin.isdigit() for d in a)
    assert {d.task.kind.value for d in a} == {"medication", "specimen"}
    with pytest.raises(ValueError, match="tasks"):
        demo_tasks(campus, -1, NOW)
    with pytest.raises(ValueError, match="robots"):
        DemoConfig(robots=0)


def test_turnaround_per_priority() -> None:
    """Mean and P95 of delivery minus request, per priority; NaN where nothing was delivered."""
    tasks = [d.task for d in demo_tasks(default_campus(), 40, NOW, seed=1)]
    delivered = {t.id: NOW + 100 * (i + 1) for i, t in enumerate(tasks) if t.priority is not Priority.STAT}
    out = turnaround(tasks, delivered)
    assert set(out) == {"stat", "urgent", "routine"}
    assert out["stat"]["delivered"] == 0 and math.isnan(out["stat"]["mean_s"])
    urgent = [delivered[t.id] - NOW for t in tasks if t.priority is Priority.URGENT]
    assert out["urgent"]["delivered"] == len(urgent)
    assert out["urgent"]["mean_s"] == pytest.approx(sum(urgent) / len(urgent), abs=0.1)
    assert max(urgent) >= out["urgent"]["p95_s"] >= out["urgent"]["mean_s"]


def test_report_has_the_issue_keys(tmp_path: Path) -> None:
    """The JSON keys of the issue, counted from the store."""
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}", hasher=FAST_HASHER)
    items = demo_tasks(default_campus(), 3, NOW)
    for d in items:
        store.add_task(d.task, actor="demo", pin=d.pin)
    t = items[0].task
    store.transition_task(t.id, "planned", actor="x", robot_id="R1")
    store.record_custody(
        CustodyEvent(t.id, "R1", CustodyKind.LOADED, t.pickup, NOW + 60, "pin"), transition="picked_up"
    )
    store.record_custody(
        CustodyEvent(t.id, "R1", CustodyKind.DELIVERED, t.dropoff, NOW + 600, "pin"), transition="delivered"
    )
    store.transition_task(items[1].task.id, "failed", actor="x")
    out = report(store, [d.task for d in items], robots=2, processes=6)
    assert set(out) == {"robots", "tasks", "delivered", "failed", "turnaround_s", "custody_events", "processes"}
    assert (out["robots"], out["tasks"], out["delivered"], out["failed"], out["custody_events"], out["processes"]) == (
        2, 3, 1, 1, 2, 6,
    )  # fmt: skip
    assert out["turnaround_s"][t.priority.value]["mean_s"] == 600.0
    store.close()


def test_robot_and_lift_reports_fit_the_fleet_report(tiny_campus: Campus) -> None:
    """Robot entries carry an id and a RobotMode value ('lost' when lost); lifts an id; JSON-safe."""
    snap = RobotDriverCore(DriverConfig("R1", "DOCK"), tiny_campus, clock=FakeClock(), start_at_s=NOW).snapshot()
    r = robot_report(snap)
    assert r["id"] == "R1" and r["mode"] in [m.value for m in RobotMode] and r["drawers"][0]["state"] == "empty"
    assert robot_report(snap, lost=True)["mode"] == "lost"
    lift = lift_report(LiftView("A-L1", "A", True, "", 1, ("1", "2"), ("R1",), ("R2", "R3")))
    assert lift == {"id": "A-L1", "building": "A", "in_service": True, "reason": "", "capacity": 1,
                    "riders": ["R1"], "queue": 2, "waiting": ["R2", "R3"]}  # fmt: skip


def test_the_web_app_accepts_the_bridges_report(tiny_campus: Campus) -> None:
    """The dashboard's own validator of POST /api/v1/fleet/report takes what the bridge sends."""
    from ops_dashboard.rest import _fleet_problem

    snap = RobotDriverCore(DriverConfig("R1", "DOCK"), tiny_campus, clock=FakeClock(), start_at_s=NOW).snapshot()
    lift = lift_report(LiftView("A-L1", "A", True, "", 1, ("1", "2"), ("R1",), ("R2",)))
    assert _fleet_problem({"robots": [robot_report(snap)], "lifts": [lift]}) is None


def test_drawer_commands_from_the_web_app() -> None:
    """open_drawer data is checked (field named, secret never echoed); answers carry ok and a reason."""
    cmd = drawer_command(
        {"robot_id": "R1", "task_id": "T1", "end": "dropoff", "method": "pin", "secret": "2468", "actor": "n.li"}
    )
    assert (cmd.pin, cmd.badge, cmd.actor) == ("2468", "", "n.li")
    badge = drawer_command({"robot_id": "R1", "task_id": "T1", "end": "pickup", "method": "badge", "secret": "B-7"})
    assert (badge.pin, badge.badge) == ("", "B-7")
    for bad, field in (({"robot_id": "R1"}, "task_id"), ({"robot_id": "R1", "task_id": "T", "end": "x", "method": "pin",
                                                           "secret": "9999"}, "end")):  # fmt: skip
        with pytest.raises(ValueError, match=field) as info:
            drawer_command(bad)
        assert "9999" not in str(info.value)
    ok = drawer_answer(OpenOutcome.OPENED, "delivered", 1, 3, "drawer 1 open")
    assert ok["ok"] and "reason" not in ok
    no = drawer_answer(OpenOutcome.DENIED, "denied", 1, 2, "wrong PIN; 2 attempt(s) left")
    assert not no["ok"] and no["reason"].startswith("wrong PIN or badge") and no["attempts_left"] == 2
