"""The public planning entries: :func:`plan` (OR-Tools) and :func:`quick_plan` (insertion only).

``plan(problem, params, seed)``:

1. validate the problem (bad input → :class:`PlanningError` naming the task and the reason);
2. compile it (:class:`scheduler._model.Instance`): matrices, eligibility, objective weights,
   tasks that can never be served are set aside with their reason;
3. build a start (``first_solution: insertion``, the default): the previous plan's routes for
   tasks still open (``params.previous``), or empty routes; then the tasks not in them: on-board
   drop-offs, STAT tasks by regret insertion, the rest by cheapest insertion in deadline order;
   then each late task is moved to its cheapest place if that helps. (OR-Tools' own first-solution
   strategies are selectable but much weaker here: PARALLEL_CHEAPEST_INSERTION left 17 of 200
   tasks unserved within a 1 s limit on the campus benchmark);
4. local search in OR-Tools (guided local search by default) until ``time_limit_s`` or
   ``solution_limit``;
5. with deadline margins (``params.deadline_margin``; drop-offs are aimed that long before their
   deadlines), move tasks the margins left past their real deadline to their best places under
   the real deadlines (``Instance.deadline_repair``);
6. decode into a :class:`Plan`: absolute ETAs (earliest feasible schedule), charge stops, every
   task either routed or in ``Plan.unassigned`` with a reason.

The seed only steers our construction (it shuffles routine tasks whose deadlines fall in the same
10-minute bucket); OR-Tools routing exposes no seed (its random generator is fixed). So
``(problem, params, seed)`` → the same plan whenever the search stops on ``solution_limit``
rather than on the clock (see :mod:`scheduler.params`). ``time_limit_s`` bounds the OR-Tools search;
compiling, construction and decoding come on top (about 0.2–0.3 s for 200 tasks and 50 robots).
"""

from __future__ import annotations

from hospital_ops.domain import Plan, RobotMode
from scheduler import _ortools
from scheduler._model import Instance
from scheduler.params import PlannerParams
from scheduler.problem import Problem, validate


def _start_routes(inst: Instance, params: PlannerParams, seed: int) -> list[list[int]] | None:
    if params.previous is not None:
        routes = inst.routes_from_plan(params.previous)
    elif params.first_solution == "insertion":
        routes = inst.empty_routes()
    else:
        return None
    inst.repair(routes)
    served = inst.served(routes)
    missing = [k for k in range(len(inst.tasks)) if k not in served]
    inst.construct(missing, routes, seed)
    inst.relocate_late(routes)
    return routes


def plan(problem: Problem, params: PlannerParams | None = None, seed: int = 0) -> Plan:
    """Plan every open task of ``problem`` on its robots (see the module doc)."""
    params = params if params is not None else PlannerParams()
    validate(problem)
    inst = Instance(problem, params)
    start = _start_routes(inst, params, seed)
    result = _ortools.solve(inst, start, params)
    routes = [list(r) for r in result.routes]
    removed = inst.repair(routes)
    if removed:
        inst.insert_all(inst.insertion_order(removed, seed), routes)
    if start is not None and inst.objective(start) < inst.objective(routes):
        routes = start
    routes = inst.deadline_repair(routes)
    solver = f"ortools/{params.metaheuristic.lower()}" + ("/warm" if params.previous is not None else "")
    return inst.to_plan(routes, solver)


def quick_plan(problem: Problem, previous: Plan | None, params: PlannerParams | None = None, seed: int = 0) -> Plan:
    """Keep ``previous``'s routes and insert every task they lack at its cheapest feasible place.

    No OR-Tools: milliseconds, for committing a STAT task at once while a full :func:`plan`
    runs later. Tasks that no longer fit where they were (times moved on) are re-inserted too.
    With ``params.insertion_candidates`` = k, each task is tried only on the k allowed robots that
    could reach its pickup earliest (the others only if none of those can take it), so the search
    per task no longer grows with the fleet; ``None`` (default) tries every allowed robot.
    """
    params = params if params is not None else PlannerParams()
    validate(problem)
    inst = Instance(problem, params)
    inst.candidate_limit = params.insertion_candidates
    routes = inst.routes_from_plan(previous) if previous is not None else inst.empty_routes()
    inst.repair(routes)
    served = inst.served(routes)
    missing = [k for k in range(len(inst.tasks)) if k not in served]
    inst.insert_all(inst.insertion_order(missing, seed), routes)
    return inst.to_plan(routes, "insertion")


def charge_report(problem: Problem, plan: Plan, params: PlannerParams | None = None) -> dict[str, str]:
    """Robots that need charging, with why: below their reserve now (they get no new tasks), or
    ending their planned route below ``battery.charge_below_pct``. Robots already charging are left out."""
    params = params if params is not None else PlannerParams()
    out: dict[str, str] = {}
    for r in problem.robots:
        if r.mode in (RobotMode.CHARGING, RobotMode.FAULT, RobotMode.LOST):
            continue
        if r.battery_pct < r.min_battery_pct:
            out[r.id] = f"below its battery reserve ({r.battery_pct:.0f} % < {r.min_battery_pct:.0f} %)"
            continue
        route = plan.route_of(r.id)
        metres = route.distance_m if route is not None else 0  # includes a planned charge leg
        end = r.battery_pct - r.consumption_pct_per_km * metres / 1000
        if end < params.battery.charge_below_pct:
            out[r.id] = f"ends its route at {end:.0f} % (threshold {params.battery.charge_below_pct:.0f} %)"
    return out
