"""The greedy (Open-RMF-style) baseline and the dispatch policies."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hospital_ops.domain import Capability, DeliveryTask, Handling, Priority, Robot, StopKind
from scheduler import (
    DispatchPolicy,
    GreedyPolicy,
    MatrixTravel,
    OrToolsPolicy,
    PlannerParams,
    Problem,
    check_plan,
    plan,
    plan_greedy,
)

NOW = 1_000_000
POINTS = {"PH": (0, 0), "LAB": (100, 0), "W1": (0, 200), "W2": (200, 200), "W3": (300, 0), "DOCK": (50, 50)}
GRID = MatrixTravel.grid(POINTS)


def task(tid: str, pickup: str = "PH", dropoff: str = "W1", **kw: object) -> DeliveryTask:
    kw.setdefault("priority", Priority.ROUTINE)
    kw.setdefault("earliest_s", NOW)
    kw.setdefault("deadline_s", NOW + 3600)
    return DeliveryTask(id=tid, pickup=pickup, dropoff=dropoff, **kw)  # type: ignore[arg-type]


def robot(rid: str, location: str = "DOCK", **kw: object) -> Robot:
    kw.setdefault("available_s", NOW)
    return Robot(id=rid, location=location, **kw)  # type: ignore[arg-type]


def problem(tasks: list[DeliveryTask], robots: list[Robot]) -> Problem:
    return Problem(tuple(tasks), tuple(robots), NOW, GRID, docks=("DOCK",))


def test_each_task_goes_to_the_robot_that_finishes_it_soonest() -> None:
    """In arrival order, a task joins the queue of the robot that would complete it first."""
    tasks = [task("A", earliest_s=NOW), task("B", pickup="W3", dropoff="W2", earliest_s=NOW + 10)]
    result = plan_greedy(problem(tasks, [robot("NEAR_PH", location="PH"), robot("NEAR_W3", location="W3")]))
    assert result.robot_for("A") == "NEAR_PH" and result.robot_for("B") == "NEAR_W3"
    assert check_plan(problem(tasks, [robot("NEAR_PH", location="PH"), robot("NEAR_W3", location="W3")]), result).ok


def test_one_task_at_a_time_and_priority_only_reorders_the_queue() -> None:
    """A later STAT jumps ahead of queued routine work; tasks are never interleaved."""
    tasks = [
        task("R1", earliest_s=NOW),
        task("R2", dropoff="W2", earliest_s=NOW + 1),
        task("S", dropoff="W3", priority=Priority.STAT, earliest_s=NOW + 2),
    ]
    p = problem(tasks, [robot("ONLY", location="PH")])
    result = plan_greedy(p)
    stops = result.route_of("ONLY").stops
    assert [(s.kind, s.task_id) for s in stops[:2]] == [(StopKind.PICKUP, "S"), (StopKind.DROPOFF, "S")]
    kinds = [s.kind for s in stops if s.task_id]
    assert kinds == [StopKind.PICKUP, StopKind.DROPOFF] * 3
    assert check_plan(p, result).ok


def test_on_board_items_are_delivered_first_and_never_moved() -> None:
    """Items already on board go first, on their robot."""
    tasks = [task("OB", dropoff="W3"), task("NEW")]
    p = problem(tasks, [robot("R1", location="PH", on_board=("OB",)), robot("R2", location="W3")])
    result = plan_greedy(p)
    assert result.robot_for("OB") == "R1"
    assert result.route_of("R1").stops[0].task_id == "OB"
    assert check_plan(p, result).ok


def test_incompatible_task_is_reported_not_dropped() -> None:
    """The baseline reports what it cannot serve, with the same reasons as the planner."""
    p = problem([task("C", handling=Handling(controlled=True))], [robot("R1", capabilities=frozenset())])
    assert plan_greedy(p).unassigned == {"C": "no robot with locked drawers"}


def test_planner_is_at_least_as_good_as_greedy_on_a_campus_like_snapshot() -> None:
    """On a fixed busy snapshot the planner's objective is no worse than the baseline's."""
    from hospital_ops.campus import default_campus
    from scheduler.scenarios import campus_sites, snapshot

    campus = default_campus()
    p = snapshot(campus, campus_sites(campus), n_tasks=30, n_robots=6, seed=7)
    greedy = plan_greedy(p)
    ours = plan(p, PlannerParams.deterministic(solution_limit=30))
    assert check_plan(p, greedy).ok and check_plan(p, ours).ok
    assert ours.objective <= greedy.objective


def test_policies_satisfy_the_protocol() -> None:
    """Both policies are DispatchPolicy implementations with a full and a fast path."""
    p = problem([task("A")], [robot("R1")])
    for policy in (OrToolsPolicy(PlannerParams.deterministic(solution_limit=20)), GreedyPolicy()):
        assert isinstance(policy, DispatchPolicy)
        full = policy.plan(p, None)
        fast = policy.insert(p, full)
        assert check_plan(p, full).ok and check_plan(p, fast).ok


NAMES = list(POINTS)


@st.composite
def small_problems(draw: st.DrawFn) -> Problem:
    robots = [
        Robot(
            id=f"R{i}",
            location=draw(st.sampled_from(NAMES)),
            available_s=NOW + draw(st.sampled_from([0, 300])),
            capacity_units=4,
            capabilities=frozenset(draw(st.sets(st.sampled_from(list(Capability))))),
            battery_pct=draw(st.sampled_from([100.0, 50.0, 15.0])),
            consumption_pct_per_km=draw(st.sampled_from([4.0, 150.0])),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    tasks = []
    for i in range(draw(st.integers(1, 6))):
        pickup = draw(st.sampled_from(NAMES))
        earliest = NOW + draw(st.integers(-300, 600))
        tasks.append(
            DeliveryTask(
                id=f"T{i}",
                pickup=pickup,
                dropoff=draw(st.sampled_from([n for n in NAMES if n != pickup])),
                priority=draw(st.sampled_from(list(Priority))),
                earliest_s=earliest,
                deadline_s=earliest + draw(st.integers(0, 1800)),
                units=draw(st.integers(1, 4)),
                handling=Handling(
                    controlled=draw(st.booleans()),
                    cold_chain=draw(st.booleans()),
                    max_transit_s=draw(st.sampled_from([None, 250])),
                ),
            )
        )
    return Problem(tuple(tasks), tuple(robots), NOW, GRID, docks=("DOCK",))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_greedy_plans_pass_the_checker(p: Problem) -> None:
    """Every greedy plan is valid and accounts for every task."""
    result = plan_greedy(p)
    report = check_plan(p, result)
    assert report.ok, report.summary()
    assert result.solver == "greedy"
