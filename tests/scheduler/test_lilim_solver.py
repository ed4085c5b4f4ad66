"""Our Li & Lim planner, its building blocks and the OR-Tools baseline, judged by the checker."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.lilim import heuristics as H
from scheduler.lilim.checker import check
from scheduler.lilim.instance import scaled
from scheduler.lilim.read import parse_instance, truncate_instance_text
from scheduler.lilim.solver import SolverParams, solve, solve_baseline

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "lilim" / "100"
needs_data = pytest.mark.skipif(not (DATA / "lr201.txt").is_file(), reason="shared Li & Lim data absent")


def _small(name: str, pairs: int = 10) -> str:
    return truncate_instance_text((DATA / f"{name}.txt").read_text(), pairs)


@needs_data
@pytest.mark.parametrize("name", ["lc101", "lr201", "lrc105"])
def test_solves_a_truncated_instance_feasibly(name: str) -> None:
    """Ten requests of a real instance: the plan passes the checker and the reported numbers match it."""
    text = _small(name)
    inst = parse_instance(text, name=name)
    res = solve(inst, SolverParams(time_limit=20, steps=150, seed=3))
    verdict = check(text, res.routes)
    assert verdict.feasible, verdict.violations
    assert res.vehicles == verdict.vehicles
    assert res.distance == pytest.approx(verdict.distance)
    assert res.lower_bound is not None and res.lower_bound <= res.vehicles
    assert [ph.name for ph in res.phases] == ["construct", "route elimination", "ruin and recreate"]


@needs_data
def test_same_seed_and_step_budget_give_the_same_plan() -> None:
    """With a step budget the planner is reproducible for a given seed."""
    inst = parse_instance(_small("lrc105", 12))
    params = SolverParams(time_limit=30, steps=120, seed=7)
    assert solve(inst, params).routes == solve(inst, params).routes


@needs_data
def test_baseline_gives_a_feasible_plan() -> None:
    """The plain OR-Tools model solves a small instance feasibly."""
    text = _small("lc101", 6)
    res = solve_baseline(parse_instance(text), time_limit=0.5)
    assert res.routes
    assert check(text, res.routes).feasible


@needs_data
def test_fewer_routes_than_construction_and_never_below_lower_bound() -> None:
    """Route elimination never ends above the constructed count nor below the lower bound."""
    sc = scaled(parse_instance(_small("lc101", 20)))
    rng = random.Random(1)
    start = H.construct(sc, rng)
    lb = H.vehicle_lower_bound(sc)
    out = H.minimise_routes(sc, start, rng, H.Budget(float("inf"), steps=300), lb)
    assert lb <= out.vehicles <= start.vehicles


def test_instance_without_requests_needs_no_vehicle() -> None:
    """A depot-only instance is solved with zero routes, by both planners."""
    inst = parse_instance("3 10 1\n0 0 0 0 0 100 0 0 0\n")
    assert solve(inst, SolverParams(time_limit=1)).routes == []
    assert solve_baseline(inst, time_limit=0.2).routes == []


def test_parameters_check_themselves() -> None:
    """Out-of-range parameters are refused with a message naming them."""
    with pytest.raises(ValueError, match="time_limit"):
        SolverParams(time_limit=0)
    with pytest.raises(ValueError, match="route_share"):
        SolverParams(route_share=1.5)
    with pytest.raises(ValueError, match="k_max"):
        H.ElimParams(k_max=0)
    with pytest.raises(ValueError, match="t_start"):
        H.LnsParams(t_start=0.1, t_end=1)


@st.composite
def instances(draw: st.DrawFn) -> str:
    """Random small PDPTW instances where every request fits a route of its own."""
    pairs = draw(st.integers(1, 6))
    cap = draw(st.integers(10, 40))
    service = draw(st.integers(0, 10))
    rows: list[list[int]] = []
    for _ in range(pairs):
        pickup = [draw(st.integers(0, 50)), draw(st.integers(0, 50))]
        delivery = [draw(st.integers(0, 50)), draw(st.integers(0, 50))]
        q = draw(st.integers(1, cap))
        a = draw(st.integers(0, 200))
        w = draw(st.integers(75, 200))  # >= any depot distance (<= 71)
        b = draw(st.integers(0, 400))
        latest_d = max(b + draw(st.integers(0, 100)), a + w + service + 75)
        rows.append([*pickup, q, a, a + w, service])
        rows.append([*delivery, -q, b, latest_d, service])
    order = draw(st.permutations(range(2 * pairs)))  # ids not ordered pickup-first
    new_id = {old: k + 1 for k, old in enumerate(order)}
    horizon = max(r[4] for r in rows) + service + 80
    lines = [f"{pairs} {cap} 1", f"0 25 25 0 0 {horizon} 0 0 0"]
    for old in order:
        x, y, dem, e, lt, s = rows[old]
        partner = new_id[old + 1] if old % 2 == 0 else new_id[old - 1]
        p_idx, d_idx = (0, partner) if old % 2 == 0 else (partner, 0)
        lines.append(f"{new_id[old]} {x} {y} {dem} {e} {lt} {s} {p_idx} {d_idx}")
    return "\n".join(lines) + "\n"


@given(text=instances(), seed=st.integers(0, 1000))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_plan_on_random_instances_passes_the_checker(text: str, seed: int) -> None:
    """Whatever the instance and seed, the planner's plan is feasible for the independent checker."""
    inst = parse_instance(text)
    res = solve(inst, SolverParams(time_limit=10, steps=30, seed=seed))
    verdict = check(text, res.routes)
    assert verdict.feasible, (verdict.violations, res.routes)
    assert res.distance == pytest.approx(verdict.distance)


@given(text=instances(), seed=st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_best_insertion_is_the_cheapest_feasible_insertion(text: str, seed: int) -> None:
    """The pruned best insertion equals brute force over all positions checked from scratch."""
    sc = scaled(parse_instance(text))
    rng = random.Random(seed)
    pairs = list(sc.pairs)
    rng.shuffle(pairs)
    *placed, (p, d) = pairs
    route = H.Route([0, 0], sc)
    for q, e in placed:  # build some feasible route first
        b = H.best_insertion(sc, route, q, e)
        if b is not None:
            route.nodes = H.insert_pair(route.nodes, q, e, b[1], b[2])
            route.update(sc)
    brute = None
    n = len(route.nodes)
    for i in range(n - 1):
        for j in range(i, n - 1):
            trial = H.Route(H.insert_pair(route.nodes, p, d, i, j), sc)
            ok = all(t <= sc.due[v] for v, t in zip(trial.nodes, trial.a, strict=True))
            ok = ok and max(trial.ld) <= sc.capacity
            if ok and (brute is None or trial.cost - route.cost < brute):
                brute = trial.cost - route.cost
    got = H.best_insertion(sc, route, p, d)
    assert (got[0] if got else None) == brute
