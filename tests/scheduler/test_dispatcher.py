"""The rolling dispatcher: events, commitments, recovery alerts, warm-start stability."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hospital_ops.domain import DeliveryTask, Priority, Robot, RobotMode, StopKind
from scheduler import (
    Dispatcher,
    DispatchError,
    GreedyPolicy,
    MatrixTravel,
    OrToolsPolicy,
    PlannerParams,
    PlanningError,
    RobotAvailable,
    RobotFault,
    RobotLost,
    RobotStateUpdate,
    TaskAdded,
    TaskCancelled,
    TaskDelivered,
    TaskPickedUp,
    check_plan,
)

NOW = 1_000_000
POINTS = {"PH": (0, 0), "LAB": (100, 0), "W1": (0, 200), "W2": (200, 200), "W3": (300, 0), "DOCK": (50, 50)}
GRID = MatrixTravel.grid(POINTS)
POLICY = OrToolsPolicy(PlannerParams.deterministic(solution_limit=60))


def task(tid: str, pickup: str = "PH", dropoff: str = "W1", **kw: object) -> DeliveryTask:
    kw.setdefault("priority", Priority.ROUTINE)
    kw.setdefault("earliest_s", NOW)
    kw.setdefault("deadline_s", NOW + 3600)
    return DeliveryTask(id=tid, pickup=pickup, dropoff=dropoff, **kw)  # type: ignore[arg-type]


def robot(rid: str, location: str = "DOCK", **kw: object) -> Robot:
    kw.setdefault("available_s", NOW)
    kw.setdefault("home_dock", "DOCK")
    return Robot(id=rid, location=location, **kw)  # type: ignore[arg-type]


def dispatcher(*robots: Robot, policy=POLICY) -> Dispatcher:
    return Dispatcher(GRID, robots, policy=policy, now_s=NOW, docks=("DOCK",))


def test_a_new_task_commits_only_the_next_leg() -> None:
    """The robot is sent its next stop only; the rest of its route stays tentative."""
    d = dispatcher(robot("R1", location="PH"))
    decision = d.handle(TaskAdded(task("A"), NOW))
    assert decision.new_commitments == {"R1": decision.plan.route_of("R1").stops[:1]}
    leg = decision.new_commitments["R1"]
    assert [(s.kind, s.task_id) for s in leg] == [(StopKind.PICKUP, "A")]
    assert decision.plan.eta_of("A") is not None and not decision.replan_pending


def test_a_leg_is_committed_only_when_the_robot_must_set_off() -> None:
    """A pickup due in an hour is not committed now (the robot stays free); tick commits it in time."""
    d = dispatcher(robot("R1", location="DOCK"))
    later = task("L", earliest_s=NOW + 3600, deadline_s=NOW + 7200)
    decision = d.handle(TaskAdded(later, NOW))
    assert decision.plan.robot_for("L") == "R1" and decision.commitments == {}
    # DOCK -> PH is 100 s; at NOW + 3400 the robot must leave within 120 s
    due = d.tick(NOW + 3400)
    assert [(s.kind, s.task_id) for s in due.new_commitments["R1"]] == [(StopKind.PICKUP, "L")]


def test_stops_at_the_same_place_are_one_leg() -> None:
    """Two pickups at the pharmacy are committed together."""
    d = dispatcher(robot("R1", location="DOCK"))
    d.load([task("A"), task("B", dropoff="W2")])
    leg = d.commitments["R1"]
    assert {s.task_id for s in leg} == {"A", "B"} and {s.location for s in leg} == {"PH"}


def test_stat_takes_the_fast_path_then_a_full_replan() -> None:
    """A STAT task is inserted and committed at once; the decision asks for a full re-plan."""
    d = dispatcher(robot("R1", location="PH"), robot("R2", location="W3"))
    d.load([task("A"), task("B", pickup="W3", dropoff="LAB")])
    stat = task("S", pickup="W2", dropoff="LAB", priority=Priority.STAT, deadline_s=NOW + 900)
    fast = d.handle(TaskAdded(stat, NOW + 5))
    assert fast.replan_pending and fast.plan.solver == "insertion"
    assert fast.plan.eta_of("S") is not None
    full = d.replan()
    assert not full.replan_pending and full.plan.robot_for("S") is not None


def test_pickup_and_delivery_move_the_task_along() -> None:
    """Picked up → on board that robot; delivered → gone; the next leg is committed each time."""
    d = dispatcher(robot("R1", location="PH"))
    d.handle(TaskAdded(task("A"), NOW))
    after_pick = d.handle(TaskPickedUp("A", "R1", NOW + 10))
    assert d.robots["R1"].on_board == ("A",)
    assert [(s.kind, s.task_id) for s in after_pick.new_commitments["R1"]] == [(StopKind.DROPOFF, "A")]
    d.handle(TaskDelivered("A", "R1", NOW + 300))
    assert "A" not in d.tasks and d.robots["R1"].on_board == ()


def test_lost_robot_gives_back_unpicked_tasks_and_raises_recovery_alert() -> None:
    """A lost robot's not-yet-picked tasks go to another robot; its on-board items raise an alert."""
    d = dispatcher(robot("R1", location="PH"), robot("R2", location="W3"))
    d.load([task("A"), task("B", dropoff="W2")])
    assert d.plan.robot_for("A") == d.plan.robot_for("B") == "R1"  # both at the pharmacy, one leg
    d.handle(TaskPickedUp("A", "R1", NOW + 5))
    assert any(s.task_id == "B" for s in d.commitments["R1"])  # B committed, not yet picked
    decision = d.handle(RobotLost("R1", NOW + 60))
    assert [(a.robot_id, a.task_ids, a.location) for a in decision.alerts] == [("R1", ("A",), "PH")]
    assert "A" not in d.tasks  # needs recovery, not re-planning
    assert decision.plan.robot_for("B") == "R2"
    assert not decision.plan.route_of("R1").stops
    assert d.robots["R1"].mode is RobotMode.LOST and "R1" not in decision.commitments


def test_robot_dropping_under_its_reserve_hands_over_its_unpicked_tasks() -> None:
    """A state update with the battery under the reserve: the robot finishes its committed leg and
    delivers what it holds, but its later, unpicked tasks move to another robot."""
    d = dispatcher(robot("R1", location="PH"), robot("R2", location="W3"))
    d.load([task("A", dropoff="W1"), task("B", pickup="W1", dropoff="W2")])
    assert d.plan.robot_for("A") == d.plan.robot_for("B") == "R1"
    assert [s.task_id for s in d.commitments["R1"]] == ["A"]
    low = dataclasses.replace(d.robots["R1"], battery_pct=5.0)
    decision = d.handle(RobotStateUpdate(low, NOW + 3))
    assert decision.plan.robot_for("A") == "R1"  # committed pickup, then its drop-off
    assert decision.plan.robot_for("B") == "R2"


def test_fault_reported_in_a_state_update_is_handled_like_a_fault_event() -> None:
    """A state update saying FAULT retires the robot the same way."""
    d = dispatcher(robot("R1", location="PH"), robot("R2", location="W3"))
    d.load([task("A")])
    carrier = d.plan.robot_for("A")
    d.handle(TaskPickedUp("A", carrier, NOW + 5))
    decision = d.handle(RobotStateUpdate(dataclasses.replace(d.robots[carrier], mode=RobotMode.FAULT), NOW + 9))
    assert decision.alerts and decision.alerts[0].task_ids == ("A",)
    fault = d.handle(RobotFault("R2" if carrier == "R1" else "R1", NOW + 10, "bumper"))
    assert fault.alerts == ()


#: One random event: (seconds since the last one, kind roll in [0, 1), choice index).
EVENT = st.tuples(st.integers(0, 119), st.floats(0, 1, exclude_max=True), st.integers(0, 10**6))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(events=[(r.randrange(0, 120), r.random(), r.randrange(10**6)) for r in [random.Random(5)] for _ in range(40)])
@given(events=st.lists(EVENT, min_size=1, max_size=30))
def test_items_on_board_never_change_robot_across_replans(events: list[tuple[int, float, int]]) -> None:
    """Hypothesis drives a stream of new tasks, pickups, drop-offs, cancellations, battery reports,
    faults and returns: after every re-plan each on-board item stays planned on its carrier (or is
    unassigned for recovery), and every open task is committed, planned or unassigned with a reason."""
    names = list(POINTS)
    d = dispatcher(
        robot("R1", location="PH"), robot("R2", location="W3"), robot("R3", location="LAB", capacity_units=2)
    )
    now = NOW
    for step, (gap, roll, pick) in enumerate(events):
        now += gap
        open_unpicked = [t for t in d.tasks if all(t not in r.on_board for r in d.robots.values())]
        if roll < 0.4 or not d.tasks:
            pickup = names[pick % len(names)]
            others = [n for n in names if n != pickup]
            dropoff = others[(pick // 7) % len(others)]
            prio = list(Priority)[(pick // 41) % len(Priority)]
            d.handle(
                TaskAdded(task(f"T{step}", pickup, dropoff, priority=prio, earliest_s=now, deadline_s=now + 1800), now)
            )
        elif roll < 0.7 and d.commitments:
            legs = sorted(d.commitments.items())
            rid, leg = legs[pick % len(legs)]
            stop = leg[0]
            if stop.kind is StopKind.PICKUP:
                d.handle(TaskPickedUp(stop.task_id, rid, max(now, stop.eta_s)))
            elif stop.kind is StopKind.DROPOFF:
                d.handle(TaskDelivered(stop.task_id, rid, max(now, stop.eta_s)))
            else:
                d.handle(
                    RobotAvailable(dataclasses.replace(d.robots[rid], location=stop.location, battery_pct=100.0), now)
                )
        elif roll < 0.8 and open_unpicked:
            victims = sorted(open_unpicked)
            d.handle(TaskCancelled(victims[pick % len(victims)], now))
        else:
            ids = sorted(d.robots)
            r = d.robots[ids[pick % len(ids)]]
            if r.mode in (RobotMode.FAULT, RobotMode.LOST):
                d.handle(RobotAvailable(dataclasses.replace(r, mode=RobotMode.IDLE), now))
            elif pick % 5 == 0:
                d.handle(RobotFault(r.id, now, "bumper"))
            else:
                d.handle(RobotStateUpdate(dataclasses.replace(r, battery_pct=max(30.0, r.battery_pct - 5)), now))
        plan = d.plan
        for r in d.robots.values():
            for tid in r.on_board:
                assert plan.robot_for(tid) in (r.id, None), f"step {step}: {tid} moved off {r.id}"
                assert plan.robot_for(tid) == r.id or tid in plan.unassigned
        for tid in d.tasks:
            committed = any(s.task_id == tid for leg in d.commitments.values() for s in leg)
            assert committed or plan.robot_for(tid) is not None or tid in plan.unassigned


def test_warm_start_keeps_a_stable_plan() -> None:
    """A re-plan with nothing changed keeps every task on the same robot."""
    d = dispatcher(robot("R1", location="PH"), robot("R2", location="W3"))
    first = d.load([task("A"), task("B", pickup="W3", dropoff="LAB"), task("C", pickup="W2", dropoff="W1")])
    before = {t: first.plan.robot_for(t) for t in "ABC"}
    again = d.replan(NOW + 1)
    assert {t: again.plan.robot_for(t) for t in "ABC"} == before
    assert again.new_commitments == {}
    update = d.handle(RobotStateUpdate(d.robots["R1"], NOW + 2))
    assert update.replan_pending and {t: update.plan.robot_for(t) for t in "ABC"} == before


def test_cancelling_a_committed_pickup_frees_the_robot() -> None:
    """Cancelling an unpicked task releases its commitment; cancelling on-board items is refused."""
    d = dispatcher(robot("R1", location="DOCK"))
    d.handle(TaskAdded(task("A"), NOW))
    assert "R1" in d.commitments
    decision = d.handle(TaskCancelled("A", NOW + 5))
    assert "A" not in d.tasks and decision.commitments == {}
    d.handle(TaskAdded(task("B"), NOW + 6))
    d.handle(TaskPickedUp("B", "R1", NOW + 100))
    with pytest.raises(DispatchError, match="task B: cannot cancel, items are on board robot R1"):
        d.handle(TaskCancelled("B", NOW + 101))


def test_bad_events_are_refused_and_leave_the_state_alone() -> None:
    """Unknown tasks or robots, duplicate tasks and bad input are clear errors; nothing changes."""
    d = dispatcher(robot("R1"))
    d.handle(TaskAdded(task("A"), NOW))
    with pytest.raises(DispatchError, match="task A: already open"):
        d.handle(TaskAdded(task("A"), NOW))
    with pytest.raises(DispatchError, match="task Z: not an open task"):
        d.handle(TaskPickedUp("Z", "R1", NOW))
    with pytest.raises(DispatchError, match="robot R9: unknown robot"):
        d.handle(TaskPickedUp("A", "R9", NOW))
    with pytest.raises(PlanningError, match="task X: dropoff: unknown location 'ATTIC'"):
        d.handle(TaskAdded(task("X", dropoff="ATTIC"), NOW))
    assert set(d.tasks) == {"A"}


def test_robot_sent_to_charge_is_left_alone_until_available() -> None:
    """A robot committed to charging gets no tasks until it reports back available."""
    low = robot("LOW", location="PH", battery_pct=15.0)
    d = dispatcher(low, robot("OK", location="W3"))
    decision = d.handle(TaskAdded(task("A"), NOW))
    assert [s.kind for s in decision.commitments["LOW"]] == [StopKind.CHARGE]
    problem, _ = d.snapshot()
    assert "LOW" not in {r.id for r in problem.robots}
    back = d.handle(RobotAvailable(dataclasses.replace(low, location="DOCK", battery_pct=100.0), NOW + 900))
    assert "LOW" not in back.commitments or back.commitments["LOW"][0].kind is not StopKind.CHARGE


def test_adopt_folds_an_outside_plan_into_the_current_state() -> None:
    """A plan computed from an older snapshot is fitted to tasks added since."""
    d = dispatcher(robot("R1", location="PH"), robot("R2", location="W3"))
    d.load([task("A")])
    problem, previous = d.snapshot()
    outside = POLICY.plan(problem, previous)
    d.handle(TaskAdded(task("B", pickup="W3", dropoff="LAB"), NOW + 1))
    adopted = d.adopt(outside)
    assert adopted.plan.robot_for("B") is not None and adopted.plan.robot_for("A") is not None


def test_greedy_policy_drives_the_same_dispatcher() -> None:
    """The dispatcher works with the greedy baseline as its policy."""
    d = dispatcher(robot("R1", location="PH"), policy=GreedyPolicy())
    decision = d.handle(TaskAdded(task("A"), NOW))
    assert decision.plan.solver == "greedy" and "R1" in decision.new_commitments


def test_fast_path_plan_is_valid_for_the_planning_snapshot() -> None:
    """The plan behind a decision passes the checker against the dispatcher's planning snapshot."""
    d = dispatcher(robot("R1", location="PH"), robot("R2", location="W3"))
    d.load([task("A"), task("B", pickup="W3", dropoff="LAB")])
    d.handle(TaskPickedUp("A", d.plan.robot_for("A"), NOW + 10))
    problem, _ = d.snapshot()
    fresh = POLICY.insert(problem, None)
    assert check_plan(problem, fresh).ok
