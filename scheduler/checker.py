"""An independent plan checker: does a plan honour every rule of its problem?

It shares no code with the planner: travel comes straight from ``problem.travel.matrix`` and every
rule is re-derived from the domain types. Checked, per route and overall:

* ``robot``: routes name known robots, at most one route each; faulted/lost robots have no stops;
* ``stop``: stops name known tasks at the task's own pickup / drop-off location; CHARGE last;
* ``pairing`` / ``precedence`` / ``same_robot``: each open task has one pickup then one drop-off on
  the same robot (or is in ``unassigned``, never both, never neither);
* ``on_board``: items on board are only dropped, and only by the robot that carries them;
* ``capacity``: drawer units on board never exceed the robot's capacity;
* ``compatibility``: controlled items only with locked drawers, cold-chain only with a cold box;
* ``reserve``: a robot below its battery reserve picks nothing up;
* ``eta``: each stop's ETA is no earlier than the previous departure plus travel at the robot's
  speed (the first from when and where the robot is free); departures cover the service time;
* ``earliest``: no pickup before the task's earliest time;
* ``max_transit``: drop-off ETA − pickup ETA within the task's max transit;
* ``battery``: task legs within the range above the reserve (above zero for a robot already under
  it), and the whole route including a charge leg within what the battery holds (never flat);
* ``distance``: the route's ``distance_m`` matches its legs.

Lateness (drop-off ETA past the deadline) is not a violation: it is reported per task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hospital_ops.domain import Plan, RobotMode, StopKind
from scheduler.problem import Problem
from scheduler.travel import as_matrix

_DEAD = frozenset({RobotMode.FAULT, RobotMode.LOST})


@dataclass(frozen=True, slots=True)
class Violation:
    code: str
    message: str
    task_id: str | None = None
    robot_id: str | None = None


@dataclass(frozen=True, slots=True)
class CheckReport:
    violations: tuple[Violation, ...]
    #: Routed tasks: seconds the drop-off ETA is past the deadline (0 = on time).
    lateness_s: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        if self.ok:
            return "plan OK"
        return "; ".join(v.message for v in self.violations)


def check_plan(problem: Problem, plan: Plan) -> CheckReport:
    """Check ``plan`` against ``problem``; see the module doc for the rules."""
    out: list[Violation] = []

    def bad(code: str, message: str, task_id: str | None = None, robot_id: str | None = None) -> None:
        out.append(Violation(code, message, task_id, robot_id))

    tasks = {t.id: t for t in problem.tasks}
    robots = {r.id: r for r in problem.robots}
    carrier = {tid: r.id for r in problem.robots for tid in r.on_board}
    picked_by: dict[str, str] = {}
    dropped_by: dict[str, str] = {}
    lateness: dict[str, int] = {}
    seen_routes: set[str] = set()
    #: tasks dropped off on a route before (or without) being picked up on that route
    early_drop: set[str] = set()

    for route in plan.routes:
        rid = route.robot_id
        robot = robots.get(rid)
        if robot is None:
            bad("robot", f"route for unknown robot {rid}", robot_id=rid)
            continue
        if rid in seen_routes:
            bad("robot", f"robot {rid} has two routes", robot_id=rid)
            continue
        seen_routes.add(rid)
        if not route.stops:
            if route.distance_m != 0:
                bad("distance", f"robot {rid}: empty route with distance {route.distance_m} m", robot_id=rid)
            continue
        if robot.mode in _DEAD:
            bad("robot", f"robot {rid} is {robot.mode.value} but has stops", robot_id=rid)

        points = [robot.location, *(s.location for s in route.stops)]
        try:
            mat = as_matrix(problem.travel.matrix(list(dict.fromkeys(points)), robot.speed_mps))
        except (KeyError, ValueError) as exc:
            bad("stop", f"robot {rid}: unknown location in route ({exc})", robot_id=rid)
            continue
        secs, metres, ix = mat.seconds, mat.metres, mat.index

        load = sum(tasks[t].units for t in robot.on_board if t in tasks)
        under_reserve = robot.battery_pct < robot.min_battery_pct
        free_at = max(problem.now_s, robot.available_s)
        here = robot.location
        task_m = 0
        total_m = 0
        pick_eta: dict[str, int] = {}
        for n, s in enumerate(route.stops):
            leg_s = int(secs[ix[here], ix[s.location]])
            leg_m = int(metres[ix[here], ix[s.location]])
            total_m += leg_m
            if s.eta_s < free_at + leg_s:
                bad(
                    "eta",
                    f"robot {rid} stop {n} ({s.kind.value} {s.task_id or s.location}): ETA {s.eta_s} is before "
                    f"{free_at + leg_s} (free at {free_at} + {leg_s} s travel)",
                    s.task_id,
                    rid,
                )
            if s.kind is StopKind.CHARGE:
                if s.task_id is not None:
                    bad("stop", f"robot {rid}: charge stop names task {s.task_id}", s.task_id, rid)
                if n != len(route.stops) - 1:
                    bad("stop", f"robot {rid}: charge stop is not the last stop", robot_id=rid)
                here = s.location
                free_at = s.departure_s if s.departure_s is not None else s.eta_s
                continue
            task_m += leg_m
            tid = s.task_id
            task = tasks.get(tid) if tid is not None else None
            if tid is None or task is None:
                bad("stop", f"robot {rid} stop {n}: unknown task {tid!r}", tid, rid)
                here = s.location
                free_at = s.eta_s
                continue
            service_end = s.eta_s + task.service_s
            if s.departure_s is not None and s.departure_s < service_end:
                bad("eta", f"task {tid}: departs at {s.departure_s} before service ends at {service_end}", tid, rid)
            if s.kind is StopKind.PICKUP:
                if s.location != task.pickup:
                    bad("stop", f"task {tid}: pickup at {s.location}, expected {task.pickup}", tid, rid)
                if tid in carrier:
                    bad("on_board", f"task {tid}: already on board robot {carrier[tid]} but picked up again", tid, rid)
                if tid in picked_by:
                    bad("pairing", f"task {tid}: picked up twice ({picked_by[tid]} and {rid})", tid, rid)
                picked_by[tid] = rid
                pick_eta[tid] = s.eta_s
                if s.eta_s < task.earliest_s:
                    bad(
                        "earliest",
                        f"task {tid}: picked up at {s.eta_s}, before its earliest {task.earliest_s}",
                        tid,
                        rid,
                    )
                if not task.handling.required_capabilities() <= robot.capabilities:
                    missing = ", ".join(
                        sorted(c.value for c in task.handling.required_capabilities() - robot.capabilities)
                    )
                    bad("compatibility", f"task {tid}: robot {rid} lacks {missing}", tid, rid)
                if under_reserve:
                    bad("reserve", f"task {tid}: robot {rid} is below its battery reserve but picks up", tid, rid)
                load += task.units
                if load > robot.capacity_units:
                    bad(
                        "capacity",
                        f"robot {rid}: {load} drawer units on board after picking up {tid}, capacity {robot.capacity_units}",
                        tid,
                        rid,
                    )
            else:
                if s.location != task.dropoff:
                    bad("stop", f"task {tid}: drop-off at {s.location}, expected {task.dropoff}", tid, rid)
                if tid in dropped_by:
                    bad("pairing", f"task {tid}: dropped off twice ({dropped_by[tid]} and {rid})", tid, rid)
                dropped_by[tid] = rid
                if tid in carrier:
                    if carrier[tid] != rid:
                        bad("on_board", f"task {tid}: on board robot {carrier[tid]} but dropped off by {rid}", tid, rid)
                elif tid not in pick_eta:
                    early_drop.add(tid)
                else:
                    transit = s.eta_s - pick_eta[tid]
                    limit = task.handling.max_transit_s
                    if limit is not None and transit > limit:
                        bad("max_transit", f"task {tid}: {transit} s in transit, limit {limit} s", tid, rid)
                load -= task.units
                lateness[tid] = max(0, s.eta_s - task.deadline_s)
            here = s.location
            free_at = s.departure_s if s.departure_s is not None else service_end

        if route.distance_m != total_m:
            bad("distance", f"robot {rid}: distance_m {route.distance_m} but its legs sum to {total_m} m", robot_id=rid)
        if robot.consumption_pct_per_km > 0:
            per_m = robot.consumption_pct_per_km / 1000
            spare = robot.battery_pct if under_reserve else robot.battery_pct - robot.min_battery_pct
            if task_m * per_m > spare + 1e-9:
                bad(
                    "battery",
                    f"robot {rid}: {task_m} m of task legs need {task_m * per_m:.1f} % battery, {spare:.1f} % to spare",
                    robot_id=rid,
                )
            if total_m * per_m > robot.battery_pct + 1e-9:
                bad("battery", f"robot {rid}: {total_m} m would run the battery flat", robot_id=rid)

    for tid, rid in picked_by.items():
        if tid not in dropped_by:
            bad("pairing", f"task {tid}: picked up by {rid} but never dropped off", tid, rid)
        elif dropped_by[tid] != rid:
            bad("same_robot", f"task {tid}: picked up by {rid}, dropped off by {dropped_by[tid]}", tid)
        elif tid in early_drop:
            bad("precedence", f"task {tid}: dropped off before it is picked up", tid, rid)
    for tid in early_drop:
        if tid not in picked_by:
            bad("pairing", f"task {tid}: dropped off by {dropped_by[tid]} but never picked up", tid)

    for tid in tasks:
        routed = tid in dropped_by
        if tid in plan.unassigned:
            if routed or tid in picked_by:
                bad("pairing", f"task {tid}: both routed and unassigned", tid)
            if not str(plan.unassigned[tid]).strip():
                bad("pairing", f"task {tid}: unassigned without a reason", tid)
        elif not routed:
            bad("pairing", f"task {tid}: neither routed nor reported unassigned", tid)
    for tid in plan.unassigned:
        if tid not in tasks:
            bad("pairing", f"unassigned names unknown task {tid}", tid)
    return CheckReport(tuple(out), lateness)
