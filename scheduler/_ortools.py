"""Every OR-Tools call of the campus planner lives here (the v10 snake_case rename touches one file).

The routing model (nodes: one start per robot at its location, one dummy end per robot, then a
pickup and a drop-off node per task, or only a drop-off for items already on board):

* arc cost: ``travel_per_s`` × travel seconds at the robot's speed; arcs into an end node cost 0
  (open routes: robots do not return to a depot);
* ``time`` dimension: transit = service at the origin + travel; slack (waiting) allowed; start
  cumul fixed to when the robot is free; pickups no earlier than ``earliest`` and a soft upper
  bound at ``earliest`` (cost per second a request waits); drop-off deadline as a soft upper bound
  weighted by priority; horizon as the hard upper bound;
* pickup-and-delivery pairs on the same vehicle, pickup first; max transit as a node precedence
  ``cumul(pickup) ≥ cumul(drop-off) − max_transit`` (a plain ``solver.Add`` is invisible to the
  local-search filters and makes the search fail);
* ``load`` dimension in drawer units, starting at what is on board; ``distance`` dimension capped
  by the battery range above the reserve;
* compatibility and on-board items via ``SetAllowedVehiclesForIndex``; every task in a
  disjunction with its priority-weighted penalty (on-board drop-offs with a penalty above
  everything else), so an impossible task is left out and reported, never a failed solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from scheduler._model import Instance
from scheduler.params import PlannerParams


@dataclass(frozen=True, slots=True)
class SolveResult:
    #: Visit codes per vehicle (see scheduler._model).
    routes: list[list[int]]
    #: OR-Tools' objective of the returned solution (None if it found none).
    objective: int | None
    status: str
    #: Whether the search started from the given initial routes.
    warm: bool


def _search_parameters(params: PlannerParams, use_own_first: bool) -> pywrapcp.DefaultRoutingSearchParameters:
    sp = pywrapcp.DefaultRoutingSearchParameters()
    first = (
        "PARALLEL_CHEAPEST_INSERTION"
        if use_own_first or params.first_solution == "insertion"
        else params.first_solution
    )
    sp.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    sp.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic)
    sp.time_limit.FromMilliseconds(max(1, round(params.time_limit_s * 1000)))
    if params.solution_limit is not None:
        sp.solution_limit = params.solution_limit
    sp.log_search = params.log_search
    # re-insert unserved tasks by LNS (off by default in OR-Tools): without it the search cannot
    # trade a served task for an unserved one that is cheaper to serve (found by the brute-force test)
    sp.local_search_operators.use_inactive_lns = pywrapcp.BOOL_TRUE
    return sp


def solve(inst: Instance, initial: list[list[int]] | None, params: PlannerParams) -> SolveResult:
    """Build the routing model of ``inst`` and search (from ``initial`` routes when given)."""
    V = len(inst.vehicles)
    tasks = [(k, td) for k, td in enumerate(inst.tasks) if td.vehicles]
    if V == 0 or not tasks:
        return SolveResult(inst.empty_routes(), None, "EMPTY", False)
    if len(tasks) == 1 and tasks[0][1].onboard is not None and initial is not None:
        # a single forced drop-off: nothing to decide, and guided local search with no neighbour
        # to move to would idle until the time limit
        return SolveResult(initial, None, "TRIVIAL", False)

    # ---- nodes ---------------------------------------------------------------------------------
    nloc = len(inst.locs)
    node_loc: list[int] = [veh.start_loc for veh in inst.vehicles] + [nloc] * V
    service: list[int] = [0] * (2 * V)
    demand: list[int] = [0] * (2 * V)
    node_code: list[int] = [-1] * (2 * V)
    code_node: dict[int, int] = {}
    for k, td in tasks:
        if td.onboard is None:
            code_node[2 * k] = len(node_loc)
            node_code.append(2 * k)
            node_loc.append(td.pick_loc)
            service.append(td.service)
            demand.append(td.units)
        code_node[2 * k + 1] = len(node_loc)
        node_code.append(2 * k + 1)
        node_loc.append(td.drop_loc)
        service.append(td.service)
        demand.append(-td.units)
    n_nodes = len(node_loc)

    locs = np.array(node_loc, dtype=np.int64)
    grid = np.ix_(locs, locs)
    ends = np.arange(V, 2 * V)

    def padded(mat: np.ndarray) -> np.ndarray:
        out = np.zeros((nloc + 1, nloc + 1), dtype=np.int64)
        out[:nloc, :nloc] = mat
        return out

    serv = np.array(service, dtype=np.int64)[:, None]
    dist = padded(inst.M_np)[grid]
    dist[:, ends] = 0
    time_mats, cost_mats = [], []
    for t_np in inst.T_np:
        travel = padded(t_np)[grid]
        travel[:, ends] = 0
        time_mats.append(travel + serv)
        time_mats[-1][:, ends] = 0
        cost_mats.append(travel * inst.params.weights.travel_per_s)

    manager = pywrapcp.RoutingIndexManager(n_nodes, V, [int(v) for v in range(V)], [int(V + v) for v in range(V)])
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    time_cbs = [routing.RegisterTransitMatrix(m.tolist()) for m in time_mats]
    cost_cbs = [routing.RegisterTransitMatrix(m.tolist()) for m in cost_mats]
    dist_cb = routing.RegisterTransitMatrix(dist.tolist())
    load_cb = routing.RegisterUnaryTransitVector(demand)
    for v, veh in enumerate(inst.vehicles):
        routing.SetArcCostEvaluatorOfVehicle(cost_cbs[veh.speed_class], v)

    H = inst.horizon
    routing.AddDimensionWithVehicleTransits([time_cbs[veh.speed_class] for veh in inst.vehicles], H, H, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    routing.AddDimensionWithVehicleCapacity(load_cb, 0, [veh.capacity for veh in inst.vehicles], False, "load")
    load_dim = routing.GetDimensionOrDie("load")
    routing.AddDimensionWithVehicleCapacity(dist_cb, 0, [veh.range_m for veh in inst.vehicles], True, "distance")
    for v, veh in enumerate(inst.vehicles):
        time_dim.CumulVar(routing.Start(v)).SetRange(veh.start, veh.start)
        load_dim.CumulVar(routing.Start(v)).SetValue(veh.load)

    all_vehicles = V
    for k, td in tasks:
        d = manager.NodeToIndex(code_node[2 * k + 1])
        allowed = [int(v) for v in td.vehicles]
        if len(allowed) < all_vehicles:
            _allow(routing, d, allowed)
        if td.late_w > 0:
            time_dim.SetCumulVarSoftUpperBound(d, td.deadline, td.late_w)
        if td.onboard is not None:
            routing.AddDisjunction([d], td.penalty)
            continue
        p = manager.NodeToIndex(code_node[2 * k])
        if len(allowed) < all_vehicles:
            _allow(routing, p, allowed)
        routing.AddPickupAndDelivery(p, d)
        solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))
        solver.Add(time_dim.CumulVar(p) <= time_dim.CumulVar(d))
        time_dim.CumulVar(p).SetRange(td.earliest, H)
        if td.wait_w > 0:
            time_dim.SetCumulVarSoftUpperBound(p, td.wait_from, td.wait_w)
        if td.max_transit is not None:
            time_dim.AddNodePrecedence(d, p, -td.max_transit)
        # one disjunction per node (the pair operators expect it); the halves add up to the penalty
        routing.AddDisjunction([p], td.penalty - td.penalty // 2)
        routing.AddDisjunction([d], td.penalty // 2)

    sp = _search_parameters(params, initial is not None)
    warm = False
    solution = None
    if initial is not None:
        routing.CloseModelWithParameters(sp)
        idx_routes = [[manager.NodeToIndex(code_node[c]) for c in seq if c in code_node] for seq in initial]
        start = routing.ReadAssignmentFromRoutes(idx_routes, True)
        if start is not None:
            warm = True
            solution = routing.SolveFromAssignmentWithParameters(start, sp)
    if solution is None:
        solution = routing.SolveWithParameters(sp)
    status = _status_name(routing.status())
    if solution is None:
        return SolveResult(initial if initial is not None else inst.empty_routes(), None, status, warm)

    routes: list[list[int]] = []
    for v in range(V):
        seq: list[int] = []
        index = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            seq.append(node_code[manager.IndexToNode(index)])
            index = solution.Value(routing.NextVar(index))
        routes.append(seq)
    return SolveResult(routes, int(solution.ObjectiveValue()), status, warm)


def _allow(routing: pywrapcp.RoutingModel, index: int, vehicles: list[int]) -> None:
    """Restrict ``index`` to ``vehicles`` (or unperformed).

    ``SetAllowedVehiclesForIndex`` is the idiom, but the 9.15 Python wrapper cannot convert any
    Python sequence to its ``absl::Span<const int>`` argument; restricting the vehicle variable's
    domain is the documented equivalent (-1 = unperformed, kept for the disjunction).
    """
    try:
        routing.SetAllowedVehiclesForIndex(vehicles, index)
    except TypeError:
        routing.VehicleVar(index).SetValues([-1, *vehicles])


def _status_name(status: int) -> str:
    names = {
        0: "ROUTING_NOT_SOLVED",
        1: "ROUTING_SUCCESS",
        2: "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED",
        3: "ROUTING_FAIL",
        4: "ROUTING_FAIL_TIMEOUT",
        5: "ROUTING_INVALID",
        6: "ROUTING_INFEASIBLE",
        7: "ROUTING_OPTIMAL",
    }
    return names.get(int(status), str(status))
