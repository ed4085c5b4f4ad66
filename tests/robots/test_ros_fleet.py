"""The whole robot stack in real processes over real DDS: scheduler node, fleet manager, lift
manager and robot drivers deliver tasks from the store; robots and nodes are killed with SIGKILL.

Each test runs on its own ROS_DOMAIN_ID (localhost discovery) with its own SQLite file, at a
time scale of 100 (a 450 s campus trip takes about 5 s). Waits are generous; nothing asserts a
wall-clock duration.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")

from ros_fleet_kit import PIN, FleetStack, Staff, make_tasks

from hospital_ops.domain import CustodyKind, StopKind, TaskStatus
from robots.alerts import Severity
from robots.scheduling import decode_leg_id

pytestmark = [pytest.mark.ros, pytest.mark.timeout(240)]


def statuses(stack: FleetStack) -> dict[str, TaskStatus]:
    return {r.id: r.status for r in stack.store.list_tasks()}


def custody_kinds(stack: FleetStack) -> dict[str, list[CustodyKind]]:
    out: dict[str, list[CustodyKind]] = {}
    for ev in stack.store.custody_events():
        out.setdefault(ev.task_id, []).append(ev.kind)
    return out


def all_final(stack: FleetStack) -> bool:
    return all(s.terminal for s in statuses(stack).values())


def test_five_robots_deliver_twenty_tasks(tmp_path: Path) -> None:
    """5 robots, lifts, fleet manager, scheduler: 20 tasks (12 from the store as the REST API writes
    them, 8 over SubmitTask) across towers and floors all end delivered with exactly two custody events."""
    with FleetStack(tmp_path, robots=5) as stack:
        now = stack.clock.now_s()
        tasks = make_tasks(20, now)
        for t in tasks[:12]:
            stack.store.add_task(t, actor="nurse", pin=PIN)
        stack.wait_until(lambda: len(stack.states) == 5, "five robot states")
        for t in tasks[12:]:
            resp = stack.submit(t)
            assert resp.accepted, resp.reason
        dup = stack.submit(tasks[12])
        assert not dup.accepted and dup.reason.startswith("task.id:")
        stack.wait_until(lambda: all_final(stack), "every task delivered or failed", timeout=150)
        assert set(statuses(stack).values()) == {TaskStatus.DELIVERED}
        kinds = custody_kinds(stack)
        assert {t.id: kinds.get(t.id) for t in tasks} == {
            t.id: [CustodyKind.LOADED, CustodyKind.DELIVERED] for t in tasks
        }
        assert len({r.robot_id for r in stack.store.list_tasks()}) >= 2
        robots = {r.id: r.robot for r in stack.store.list_robots()}
        assert set(robots) == {"R1", "R2", "R3", "R4", "R5"}


def test_a_fleet_in_dispatch_zones_delivers_each_task_with_a_robot_of_its_zone(tmp_path: Path) -> None:
    """The scheduler node with --robots-per-zone 2 plans 4 robots in 2 dispatch zones (tower groups,
    as the twin does for 30+ robots): it logs the zones, every task is delivered with exactly two
    custody events, and each by a robot of the zone of its tower."""
    with FleetStack(tmp_path, robots=4, scheduler_args=("--robots-per-zone", "2")) as stack:
        tasks = make_tasks(8, stack.clock.now_s())
        for t in tasks:
            stack.store.add_task(t, actor="nurse", pin=PIN)
        stack.wait_until(lambda: "dispatch zones:" in stack.logs["scheduler"].read_text(), "the zones logged")
        line = next(x for x in stack.logs["scheduler"].read_text().splitlines() if "dispatch zones:" in x)
        zones: dict[str, set[str]] = {}  # building → robots of its zone
        for part in line.split("dispatch zones:", 1)[1].split(";"):
            head, robots = part.split(":")
            buildings = head[head.index("(") + 1 : head.index(")")].split()
            for b in buildings:
                zones[b] = set(robots.split())
        assert len({frozenset(r) for r in zones.values()}) == 2
        stack.wait_until(lambda: all_final(stack), "every task delivered", timeout=150)
        assert set(statuses(stack).values()) == {TaskStatus.DELIVERED}
        kinds = custody_kinds(stack)
        assert all(kinds[t.id] == [CustodyKind.LOADED, CustodyKind.DELIVERED] for t in tasks), kinds
        for t in tasks:
            tower = next(x for x in (t.pickup, t.dropoff) if x.startswith("T")).split("-")[0]
            assert stack.store.get_task(t.id).robot_id in zones[tower], (t.id, tower)


def test_robot_killed_mid_leg_hands_back_its_tasks(tmp_path: Path) -> None:
    """kill -9 a robot driving with items on board: it is declared lost, its unpicked tasks go to
    other robots and are delivered, its on-board items raise alerts (also in the store), no task lost."""
    with FleetStack(tmp_path, robots=3) as stack:
        tasks = make_tasks(9, stack.clock.now_s())
        for t in tasks:
            stack.store.add_task(t, actor="nurse", pin=PIN)

        def victim() -> str | None:
            planned = Counter(r.robot_id for r in stack.store.list_tasks(status=TaskStatus.PLANNED))
            for rid, st in stack.states.items():
                carrying = [d for d in st.drawers if d.loaded]
                if carrying and st.phase in ("walking", "waiting_lift", "riding_lift") and planned[rid]:
                    return rid
            return None

        stack.wait_until(lambda: victim() is not None, "a robot on the move with items and more work", timeout=90)
        rid = victim()
        assert rid is not None
        st = stack.states[rid]
        on_board = {d.task_id for d in st.drawers if d.loaded}
        unpicked = {r.id for r in stack.store.list_tasks(status=TaskStatus.PLANNED, robot_id=rid)}
        stack.kill9(rid)
        killed_at = time.monotonic()
        stack.wait_until(
            lambda: any(a.code == "robot_lost" and a.robot_id == rid and not a.task_id for a in stack.alerts),
            "the robot_lost alert",
            allow_dead=(rid,),
        )
        lost_after = time.monotonic() - killed_at
        stack.wait_until(
            lambda: not any(r.robot_id == rid for r in stack.store.list_tasks(status=TaskStatus.PLANNED)),
            "its unpicked tasks re-planned",
            allow_dead=(rid,),
        )
        # measured, not asserted (wall clock): printed for the report (pytest -s)
        print(f"\nkill -9 {rid}: lost after {lost_after:.1f} s, re-planned after {time.monotonic() - killed_at:.1f} s")
        # its unpicked tasks leave it and are delivered by the others
        stack.wait_until(
            lambda: all(
                s.terminal or (s is TaskStatus.PICKED_UP and r.robot_id == rid)
                for r in stack.store.list_tasks()
                for s in [r.status]
            ),
            "every task delivered but those on board the lost robot",
            timeout=150,
            allow_dead=(rid,),
        )
        final = {r.id: r for r in stack.store.list_tasks()}
        assert unpicked and on_board
        assert all(final[t].status is TaskStatus.DELIVERED and final[t].robot_id != rid for t in unpicked)
        assert {t for t, r in final.items() if r.status is TaskStatus.PICKED_UP} == on_board
        assert all(final[t].robot_id == rid for t in on_board)
        assert {t for t, r in final.items() if r.status is TaskStatus.DELIVERED} == {t.id for t in tasks} - on_board
        stored = stack.store.list_alerts(kind="robot.robot_lost")
        assert {a.subject for a in stored} >= {f"robot:{rid}"} | {f"task:{t}" for t in on_board}
        assert stack.store.get_robot(rid).robot.mode.value == "lost"


def test_robot_silent_past_the_lost_timeout_comes_back_without_double_handling(tmp_path: Path) -> None:
    """SIGSTOP a robot driving to a pickup for longer than the lost timeout, then SIGCONT (out of reach,
    not dead): it is declared lost, its leg is revoked (cancelled, and again when it is back; never
    adopted) and its tasks re-planned; when it is back every task is still delivered exactly once
    (one LOADED, one DELIVERED each), whichever robot got the items."""
    with FleetStack(tmp_path, robots=2) as stack:
        tasks = make_tasks(4, stack.clock.now_s())
        for t in tasks:
            stack.store.add_task(t, actor="nurse", pin=PIN)

        def driving_to_pickup() -> str | None:
            for rid, st in stack.states.items():
                if "/p:" in st.current_leg_id and st.phase in ("walking", "waiting_lift", "riding_lift"):
                    return rid
            return None

        stack.wait_until(lambda: driving_to_pickup() is not None, "a robot driving to a pickup", timeout=60)
        rid = driving_to_pickup()
        assert rid is not None
        leg = stack.states[rid].current_leg_id
        stack.signal(rid, signal.SIGSTOP)
        try:
            stack.wait_until(
                lambda: f"leg {leg} of {rid} revoked (robot lost)" in stack.logs["scheduler"].read_text(),
                "the robot declared lost and its leg revoked",
                timeout=30,
            )
            pickups = [tid for kind, tid in decode_leg_id(leg) or [] if kind is StopKind.PICKUP]
            assert pickups
            stack.wait_until(
                lambda: all(stack.store.get_task(t).robot_id != rid for t in pickups),
                "its tasks re-planned",
                timeout=30,
            )
        finally:
            stack.signal(rid, signal.SIGCONT)
        stack.wait_until(lambda: all_final(stack), "every task delivered", timeout=150)
        assert set(statuses(stack).values()) == {TaskStatus.DELIVERED}
        kinds = custody_kinds(stack)
        assert all(kinds[t.id] == [CustodyKind.LOADED, CustodyKind.DELIVERED] for t in tasks), kinds
        log = stack.logs["scheduler"].read_text()
        assert f"adopted leg {leg}" not in log
        back = [a for a in stack.alerts if a.code == "robot_lost" and a.robot_id == rid and not a.task_id]
        assert [a.severity for a in back][:2] == [int(Severity.CRITICAL), int(Severity.INFO)]  # lost, then back


def test_scheduler_and_fleet_manager_killed_and_restarted(tmp_path: Path) -> None:
    """kill -9 the scheduler node mid-run and start it again, then the fleet manager: the restarted
    scheduler adopts the legs in progress; every task is delivered once (one LOADED, one DELIVERED).
    A task submitted over ROS with a badge only (due after the restart) opens with that badge: the
    restarted scheduler read the badge's hash from the store."""
    staff = Staff(badges={"B01": "BADGE-0042"})
    with FleetStack(tmp_path, robots=3, staff=staff) as stack:
        tasks = make_tasks(10, stack.clock.now_s())
        for t in tasks:
            stack.store.add_task(t, actor="nurse", pin=PIN)
        stack.wait_until(
            lambda: (
                sum(s is TaskStatus.PICKED_UP for s in statuses(stack).values()) >= 2
                and any(st.current_leg_id for st in stack.states.values())
            ),
            "legs in progress",
            timeout=90,
        )
        now = stack.clock.now_s()
        (badged,) = make_tasks(1, now, prefix="B")
        badged = dataclasses.replace(badged, earliest_s=now + 1200, deadline_s=now + 4800)
        resp = stack.submit(badged, badges=["BADGE-0042"])
        assert resp.accepted, resp.reason
        stack.staff.paused = True  # robots reaching a stop wait there: their legs stay in progress
        stack.kill9("scheduler")
        more = make_tasks(4, stack.clock.now_s(), prefix="N")
        for t in more:  # arrive while the scheduler is down: only the store has them
            stack.store.add_task(t, actor="nurse", pin=PIN)
        stack.start("scheduler")
        stack.wait_until(lambda: stack.logs["scheduler"].read_text().count("scheduler started") == 2, "the restart")
        stack.staff.paused = False
        stack.wait_until(
            lambda: sum(s is TaskStatus.DELIVERED for s in statuses(stack).values()) >= 6, "more deliveries"
        )
        stack.kill9("fleet_manager")
        stack.start("fleet_manager")
        stack.wait_until(lambda: all_final(stack), "every task delivered", timeout=150)
        assert set(statuses(stack).values()) == {TaskStatus.DELIVERED}
        kinds = custody_kinds(stack)
        assert all(kinds[t.id] == [CustodyKind.LOADED, CustodyKind.DELIVERED] for t in (*tasks, *more, badged))
        assert {e.method for e in stack.store.custody_events(task_id="B01")} == {"badge"}
        assert [r[3] for r in staff.replies if r[1] == "B01"] == ["loaded", "delivered"]
        assert not [a for a in stack.store.list_alerts() if a.kind == "robot.robot_lost"]
        restarted = stack.logs["scheduler"].read_text().split("scheduler started", 1)[1]
        assert re.search(r"adopted leg \S+ of R\d", restarted), restarted[:2000]


def test_controlled_drawer_three_wrong_pins_lock_out(tmp_path: Path) -> None:
    """A controlled-substance drawer does not open with a wrong PIN; three lock it, a critical alert is
    stored, the task fails; the other task is delivered."""
    staff = Staff(wrong={"T01": 3})
    with FleetStack(tmp_path, robots=1, staff=staff) as stack:
        tasks = make_tasks(2, stack.clock.now_s(), controlled_every=1)
        assert tasks[0].handling.controlled
        for t in tasks:
            stack.store.add_task(t, actor="pharmacist", pin=PIN)
        stack.wait_until(lambda: all_final(stack), "both tasks final", timeout=120)
        final = statuses(stack)
        assert final == {"T01": TaskStatus.FAILED, "T02": TaskStatus.DELIVERED}
        assert [r[2:] for r in staff.replies if r[1] == "T01"] == [(1, "denied"), (1, "denied"), (2, "locked_out")]
        assert custody_kinds(stack)["T01"] == [CustodyKind.DENIED, CustodyKind.DENIED, CustodyKind.LOCKED_OUT]
        (alert,) = stack.store.list_alerts(kind="robot.drawer_locked_out")
        assert alert.severity.value == "critical" and alert.subject == "task:T01"
