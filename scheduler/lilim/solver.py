"""Li & Lim PDPTW planners: ours (:func:`solve`) and the plain OR-Tools baseline (:func:`solve_baseline`).

Every OR-Tools call of the benchmark lives in this module, so the v10 API rename touches one file.

Our planner, within one wall-clock budget (model building included):

1. cheapest-insertion construction and a vehicle lower bound (clique of incompatible requests);
2. route elimination by guided ejection search with a short ruin-and-recreate tidy-up after
   each route removed (pure Python, :mod:`scheduler.lilim.heuristics`), for at most
   ``route_share`` of the budget, stopping early at the lower bound;
3. distance minimisation with the fleet fixed by ruin and recreate (pure Python) for the rest of
   the budget; it can still drop a route that empties out;
4. optionally (``polish_share`` > 0, off by default) an OR-Tools guided local search
   warm-started from that solution with exactly its vehicles (``ReadAssignmentFromRoutes``),
   kept only if better. Measured on lc1/lr1 with 15 % of the budget it changed one result of 21
   (one where ruin and recreate had stalled), so the time is better spent in step 3.

OR-Tools alone is weak here, which is why steps 2–3 are our own: with the fleet at the
best-known size the tight solutions leave its local search almost no feasible neighbour (on
lr205 it generated ~5 million neighbours in 4 s and accepted 61), and with optional requests and
a penalty it rarely reaches zero dropped requests (see docs/benchmarks-lilim.md).

Integer data (``Scaled``): distances ×``scale`` rounded for the cost, travel times rounded *up*
so every integer-feasible plan is feasible in exact arithmetic; results are reported with the
unrounded Euclidean distance recomputed from the coordinates.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from scheduler.lilim import heuristics as H
from scheduler.lilim.instance import Instance, Scaled, scaled

#: Fixed cost per vehicle of the plain baseline, in distance units (more than any plan's length).
BASELINE_FIXED_COST = 10_000


@dataclass(frozen=True)
class SolverParams:
    """Parameters of :func:`solve`.

    ``steps`` makes a run reproducible: the route-elimination and ruin-and-recreate phases then
    stop after that many iterations each (the annealing cools by iteration count) and the
    OR-Tools polish is skipped; ``time_limit`` remains a safety cap. Without ``steps`` the phases
    share the wall-clock budget and the result depends on how much search fits in it.
    """

    time_limit: float = 10.0
    seed: int = 1
    scale: int = 1000
    route_share: float = 0.4
    polish_share: float = 0.0
    steps: int | None = None
    elim: H.ElimParams = field(default_factory=H.ElimParams)
    lns: H.LnsParams = field(default_factory=H.LnsParams)

    def __post_init__(self) -> None:
        if not self.time_limit > 0:
            raise ValueError("Expected time_limit > 0.")
        if self.scale < 1:
            raise ValueError("Expected scale >= 1.")
        if not 0 <= self.route_share <= 1:
            raise ValueError("Expected route_share in [0, 1].")
        if not 0 <= self.polish_share < 1:
            raise ValueError("Expected polish_share in [0, 1).")
        if self.route_share + self.polish_share > 1:
            raise ValueError("Expected route_share + polish_share <= 1.")
        if self.steps is not None and self.steps < 1:
            raise ValueError("Expected steps >= 1.")


@dataclass(frozen=True)
class Phase:
    """What one phase of :func:`solve` produced."""

    name: str
    seconds: float
    vehicles: int
    distance: float


@dataclass(frozen=True)
class SolveResult:
    """A plan (routes of task ids, depot excluded) and how it was obtained."""

    routes: list[list[int]]
    vehicles: int
    distance: float
    seconds: float
    lower_bound: int | None = None
    phases: tuple[Phase, ...] = ()


def solve(inst: Instance, params: SolverParams | None = None) -> SolveResult:
    """Our planner: vehicles first, then distance (see the module docstring)."""
    params = params or SolverParams()
    t_start = time.monotonic()
    deadline = t_start + params.time_limit
    rng = random.Random(params.seed)
    sc = scaled(inst, params.scale)
    phases: list[Phase] = []

    def mark(name: str, sol: H.Solution, since: float) -> float:
        now = time.monotonic()
        phases.append(Phase(name, now - since, sol.vehicles, inst.total_distance(sol.as_lists())))
        return now

    t = t_start
    sol = H.construct(sc, rng)
    lb = H.vehicle_lower_bound(sc)
    t = mark("construct", sol, t)

    route_deadline = deadline if params.steps else min(deadline, t_start + params.route_share * params.time_limit)
    sol = H.minimise_routes(sc, sol, rng, H.Budget(route_deadline, params.steps), lb, params.elim)
    t = mark("route elimination", sol, t)

    polish = params.polish_share > 0 and params.steps is None
    lns_deadline = deadline - (params.polish_share * params.time_limit if polish else 0.0)
    sol = H.lns(sc, sol, rng, H.Budget(lns_deadline, params.steps), params.lns)
    t = mark("ruin and recreate", sol, t)

    if polish and sol.vehicles > 0:
        routes = _polish(sc, sol.as_lists(), deadline - time.monotonic())
        cand = H.Solution.from_lists(sc, routes)
        if cand.better_than(sol):
            sol = cand
        t = mark("OR-Tools polish", sol, t)

    routes = sol.as_lists()
    return SolveResult(
        routes=routes,
        vehicles=len(routes),
        distance=inst.total_distance(routes),
        seconds=time.monotonic() - t_start,
        lower_bound=lb,
        phases=tuple(phases),
    )


def solve_baseline(inst: Instance, time_limit: float, scale: int = 1000) -> SolveResult:
    """The plain OR-Tools model: the file's K vehicles with a fixed cost each, distance arc cost,
    PARALLEL_CHEAPEST_INSERTION then GUIDED_LOCAL_SEARCH, default search parameters otherwise.
    Returns no routes if OR-Tools finds no solution in time."""
    t_start = time.monotonic()
    sc = scaled(inst, scale)
    model = _build_model(sc, inst.max_vehicles, fixed_cost=BASELINE_FIXED_COST * scale)
    params = _search_params(time_limit - (time.monotonic() - t_start))
    assignment = model.routing.SolveWithParameters(params)
    routes = _routes_of(model, assignment) if assignment else []
    return SolveResult(
        routes=routes,
        vehicles=len(routes),
        distance=inst.total_distance(routes),
        seconds=time.monotonic() - t_start,
    )


# --------------------------------------------------------------------------- OR-Tools model


@dataclass
class _Model:
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    vehicles: int


def _build_model(sc: Scaled, vehicles: int, *, fixed_cost: int = 0) -> _Model:
    """Routing model: distance arc cost, time (waiting allowed) and load dimensions, P&D pairs."""
    manager = pywrapcp.RoutingIndexManager(sc.n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(sc.cost))
    if fixed_cost:
        routing.SetFixedCostOfAllVehicles(fixed_cost)
    horizon = sc.due[0]
    routing.AddDimension(routing.RegisterTransitMatrix(sc.time), horizon, horizon, False, "Time")
    time_dim = routing.GetDimensionOrDie("Time")
    for node in range(1, sc.n):
        time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(sc.ready[node], sc.due[node])
    for v in range(vehicles):
        time_dim.CumulVar(routing.Start(v)).SetRange(sc.ready[0], sc.due[0])
        time_dim.CumulVar(routing.End(v)).SetRange(sc.ready[0], sc.due[0])
    load = routing.RegisterUnaryTransitVector(sc.demand)
    routing.AddDimensionWithVehicleCapacity(load, 0, [sc.capacity] * vehicles, True, "Load")
    solver = routing.solver()
    for p, d in sc.pairs:
        pi, di = manager.NodeToIndex(p), manager.NodeToIndex(d)
        routing.AddPickupAndDelivery(pi, di)
        solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
        solver.Add(time_dim.CumulVar(pi) <= time_dim.CumulVar(di))
    return _Model(manager, routing, vehicles)


def _search_params(seconds: float) -> pywrapcp.DefaultRoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    return params


def _routes_of(model: _Model, assignment: pywrapcp.Assignment) -> list[list[int]]:
    routing, manager = model.routing, model.manager
    out: list[list[int]] = []
    for v in range(model.vehicles):
        idx = assignment.Value(routing.NextVar(routing.Start(v)))
        route: list[int] = []
        while not routing.IsEnd(idx):
            route.append(manager.IndexToNode(idx))
            idx = assignment.Value(routing.NextVar(idx))
        if route:
            out.append(route)
    return out


def _polish(sc: Scaled, routes: list[list[int]], seconds: float) -> list[list[int]]:
    """OR-Tools guided local search from ``routes`` with exactly that many vehicles, no fixed cost."""
    t0 = time.monotonic()
    model = _build_model(sc, len(routes))
    seconds -= time.monotonic() - t0
    if seconds <= 0.05:
        return routes
    params = _search_params(seconds)
    model.routing.CloseModelWithParameters(params)
    start = model.routing.ReadAssignmentFromRoutes(routes, True)
    if start is None:
        return routes
    assignment = model.routing.SolveFromAssignmentWithParameters(start, params)
    return _routes_of(model, assignment) if assignment else routes
