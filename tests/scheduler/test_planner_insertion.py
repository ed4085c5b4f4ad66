"""The fast insertion evaluator (used for construction, warm-start repair and STAT commits) agrees
exactly with the full route evaluator, and the campus snapshots plan cleanly."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hospital_ops.domain import DeliveryTask, Handling, Priority, Robot
from scheduler import MatrixTravel, PlannerParams, Problem, check_plan, plan, plan_greedy, quick_plan
from scheduler._insertion import _best_by_full_evaluation, best_in_route, build_cache
from scheduler._model import Instance

NOW = 1_000_000
POINTS = {
    f"P{i}": (x, y)
    for i, (x, y) in enumerate([(0, 0), (120, 0), (0, 200), (200, 200), (300, 40), (60, 90), (250, 300)])
}
GRID = MatrixTravel.grid(POINTS)
NAMES = list(POINTS)


@st.composite
def loaded_instances(draw: st.DrawFn) -> tuple[Instance, int]:
    seed = draw(st.integers(0, 10**6))
    rng = random.Random(seed)
    tasks = []
    for i in range(rng.randint(3, 9)):
        pickup = rng.choice(NAMES)
        earliest = NOW + rng.randrange(-300, 900)
        tasks.append(
            DeliveryTask(
                id=f"T{i}",
                pickup=pickup,
                dropoff=rng.choice([n for n in NAMES if n != pickup]),
                priority=rng.choice(list(Priority)),
                earliest_s=earliest,
                deadline_s=earliest + rng.randrange(0, 1500),
                units=rng.randint(1, 2),
                handling=Handling(max_transit_s=rng.choice([None, None, 400, 700])),
                service_s=rng.choice([0, 30, 60]),
            )
        )
    robots = [
        Robot(
            id=f"R{i}",
            location=rng.choice(NAMES),
            available_s=NOW + rng.choice([0, 200]),
            capacity_units=rng.randint(2, 4),
            speed_mps=rng.choice([1.0, 1.5]),
            consumption_pct_per_km=rng.choice([4.0, 40.0]),
        )
        for i in range(rng.randint(1, 2))
    ]
    inst = Instance(Problem(tuple(tasks), tuple(robots), NOW, GRID), PlannerParams())
    return inst, seed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loaded_instances())
def test_fast_insertion_equals_full_evaluation(case: tuple[Instance, int]) -> None:
    """Taking one task out of a route and re-inserting it: the incremental evaluator finds the same
    best cost increase as trying every position with the full evaluator."""
    inst, seed = case
    routes = inst.empty_routes()
    inst.insert_all(inst.insertion_order(range(len(inst.tasks)), seed % 7), routes)
    rng = random.Random(seed)
    for v, route in enumerate(routes):
        for k in sorted({c >> 1 for c in route}):
            base = [c for c in route if c >> 1 != k]
            cache = build_cache(inst, v, base)
            assert cache is not None
            fast = best_in_route(inst, cache, k, None)
            full = _best_by_full_evaluation(inst, cache, k, None)
            assert (fast is None) == (full is None)
            if fast is not None and full is not None:
                assert fast[0] == full[0]
                assert inst.route_cost(v, fast[1]) == cache.cost + fast[0]
            if rng.random() < 0.3:
                break


def test_campus_snapshot_plans_pass_the_checker() -> None:
    """On the real campus (lifts, towers) the planner, the fast path and the baseline all give valid plans."""
    from hospital_ops.campus import default_campus
    from scheduler.scenarios import campus_sites, snapshot

    campus = default_campus()
    p = snapshot(campus, campus_sites(campus), n_tasks=40, n_robots=10, seed=3)
    ours = plan(p, PlannerParams.deterministic(solution_limit=30))
    for result in (ours, quick_plan(p, ours), quick_plan(p, None), plan_greedy(p)):
        report = check_plan(p, result)
        assert report.ok, report.summary()
        assert set(result.unassigned) | {t for r in result.routes for t in r.task_ids} == {t.id for t in p.tasks}
