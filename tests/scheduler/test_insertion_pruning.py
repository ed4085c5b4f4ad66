"""Candidate pruning in the insertion fast path (``PlannerParams.insertion_candidates``): exact when
the limit covers the fleet, and never at the expense of a task or of a capability rule."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hospital_ops.domain import Capability, DeliveryTask, Handling, Priority, Robot
from scheduler import Dispatcher, MatrixTravel, OrToolsPolicy, PlannerParams, Problem, TaskAdded, check_plan, quick_plan
from scheduler._model import Instance

NOW = 1_000_000
POINTS = {
    f"P{i}": (x, y)
    for i, (x, y) in enumerate(
        [(0, 0), (120, 0), (0, 200), (200, 200), (300, 40), (60, 90), (250, 300), (400, 400), (30, 350)]
    )
}
GRID = MatrixTravel.grid(POINTS)
NAMES = list(POINTS)
LOCKED = frozenset({Capability.LOCKED_DRAWERS})
PLAIN: frozenset[Capability] = frozenset()
COLD = frozenset({Capability.LOCKED_DRAWERS, Capability.COLD_BOX})


def random_problem(seed: int, n_robots: int, n_tasks: int, *, n_open_robots: int = 0) -> Problem:
    """Tasks of every priority and handling; a fleet mixing unlocked, locked and cold-box robots."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n_tasks):
        pickup = rng.choice(NAMES)
        earliest = NOW + rng.randrange(-300, 1200)
        tasks.append(
            DeliveryTask(
                id=f"T{i:02d}",
                pickup=pickup,
                dropoff=rng.choice([n for n in NAMES if n != pickup]),
                priority=rng.choice(list(Priority)),
                earliest_s=earliest,
                deadline_s=earliest + rng.randrange(300, 2400),
                units=rng.randint(1, 2),
                handling=Handling(
                    controlled=rng.random() < 0.4,
                    cold_chain=rng.random() < 0.15,
                    max_transit_s=rng.choice([None, None, None, 900]),
                ),
                service_s=rng.choice([0, 30, 60]),
            )
        )
    robots = []
    for i in range(n_robots):
        caps = PLAIN if i < n_open_robots else rng.choice([LOCKED, LOCKED, COLD, PLAIN])
        robots.append(
            Robot(
                id=f"R{i:02d}",
                location=rng.choice(NAMES),
                available_s=NOW + rng.choice([0, 0, 120, 600]),
                capacity_units=rng.randint(2, 4),
                capabilities=caps,
                battery_pct=rng.choice([100.0, 60.0, 35.0]),
            )
        )
    return Problem(tuple(tasks), tuple(robots), NOW, GRID)


@pytest.mark.parametrize("seed", range(6))
def test_pruned_insertion_equals_full_insertion_when_k_covers_the_fleet(seed: int) -> None:
    """With ``insertion_candidates`` ≥ the number of robots the fast path tries every robot: the
    plan is the same, stop for stop, as without pruning."""
    problem = random_problem(seed, n_robots=6, n_tasks=14)
    full = quick_plan(problem, None, PlannerParams(), seed)
    for k in (6, 7, 50):
        pruned = quick_plan(problem, None, PlannerParams(insertion_candidates=k), seed)
        assert pruned.routes == full.routes
        assert pruned.unassigned == full.unassigned
        assert pruned.objective == full.objective


def test_pruning_leaves_full_replans_global() -> None:
    """``scheduler.plan`` (the full re-plan) ignores the limit: same plan with and without it."""
    from scheduler import plan

    problem = random_problem(3, n_robots=8, n_tasks=12)
    base = PlannerParams.deterministic(solution_limit=30)
    a = plan(problem, base, 0)
    b = plan(problem, base.replace(insertion_candidates=1), 0)
    assert a.routes == b.routes and a.unassigned == b.unassigned


def test_pruned_best_insertion_is_among_the_earliest_arrivals() -> None:
    """With a limit of 2 the task goes to one of the two robots that can reach its pickup first,
    here the two parked next to it, not to the far ones."""
    task = DeliveryTask(id="S", pickup="P0", dropoff="P1", priority=Priority.STAT, earliest_s=NOW, deadline_s=NOW + 900)
    robots = [Robot(id=f"R{i}", location=loc, available_s=NOW) for i, loc in enumerate(["P7", "P0", "P6", "P5", "P8"])]
    problem = Problem((task,), tuple(robots), NOW, GRID)
    inst = Instance(problem, PlannerParams())
    routes = inst.empty_routes()
    assert inst.insertion_candidates(0, routes, {}, 2) == [1, 3]
    inst.candidate_limit = 2
    best = inst.best_insertion(0, routes)
    assert best is not None and best[1] == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n_robots=st.integers(2, 9),
    n_tasks=st.integers(1, 16),
    limit=st.integers(1, 4),
    n_open=st.integers(0, 3),
)
def test_pruning_never_breaks_a_capability_rule_and_never_drops_a_task(
    seed: int, n_robots: int, n_tasks: int, limit: int, n_open: int
) -> None:
    """Whatever the limit: a controlled substance only ever rides in a robot with locked drawers
    (cold chain: a cold box), every task is routed or reported unassigned with a reason, the
    plan passes the checker, and at every step the pruned search finds a place for a task exactly
    when the full search does (the other robots are tried when the nearest cannot take it)."""
    problem = random_problem(seed, n_robots, n_tasks, n_open_robots=min(n_open, n_robots))
    params = PlannerParams(insertion_candidates=limit)
    result = quick_plan(problem, None, params, seed)
    robots = {r.id: r for r in problem.robots}
    tasks = {t.id: t for t in problem.tasks}
    routed: set[str] = set()
    for route in result.routes:
        for stop in route.stops:
            if stop.task_id is None:
                continue
            routed.add(stop.task_id)
            need = tasks[stop.task_id].handling.required_capabilities()
            assert need <= robots[route.robot_id].capabilities, (stop.task_id, route.robot_id)
    assert routed | set(result.unassigned) == set(tasks)
    assert not routed & set(result.unassigned)
    assert all(result.unassigned.values())
    assert check_plan(problem, result).ok, check_plan(problem, result).summary()

    # step by step: the pruned insertion fails only where the full one fails too
    inst = Instance(problem, params)
    routes = inst.empty_routes()
    for k in inst.insertion_order(range(len(inst.tasks)), seed):
        inst.candidate_limit = None
        full = inst.best_insertion(k, routes)
        inst.candidate_limit = limit
        pruned = inst.best_insertion(k, routes)
        assert (pruned is None) == (full is None)
        if pruned is not None and full is not None:
            assert pruned[0] >= full[0]  # never better than the exact cheapest insertion
            assert k in {c >> 1 for c in pruned[2]}
            assert pruned[1] in inst.tasks[k].vehicles
            routes[pruned[1]] = pruned[2]


def test_dispatcher_fast_path_with_pruning_serves_a_controlled_stat_on_a_locked_robot() -> None:
    """The dispatcher's STAT fast path with a limit of 1: the nearest robot has no locked drawers,
    so the controlled STAT dose goes to a locked one (the limit counts only allowed robots)."""
    robots = [
        Robot(id="NEAR", location="P0", available_s=NOW, capabilities=PLAIN),
        Robot(id="FAR", location="P7", available_s=NOW, capabilities=LOCKED),
        Robot(id="FARTHER", location="P6", available_s=NOW, capabilities=LOCKED),
    ]
    policy = OrToolsPolicy(PlannerParams.deterministic(solution_limit=20, insertion_candidates=1))
    d = Dispatcher(GRID, robots, policy=policy, now_s=NOW)
    dose = DeliveryTask(
        id="DOSE",
        pickup="P0",
        dropoff="P1",
        priority=Priority.STAT,
        earliest_s=NOW,
        deadline_s=NOW + 1800,
        handling=Handling(controlled=True),
    )
    decision = d.handle(TaskAdded(dose, NOW))
    assert decision.replan_pending
    carriers = [r.robot_id for r in decision.plan.routes if any(s.task_id == "DOSE" for s in r.stops)]
    assert carriers in (["FAR"], ["FARTHER"])
    assert "DOSE" not in decision.unassigned
