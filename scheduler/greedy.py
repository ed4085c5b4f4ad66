"""The baseline: an Open-RMF-style greedy dispatcher, in the same interface as the planner.

Each robot has a queue of whole tasks (pickup then drop-off, one task at a time; items already
on board are delivered first). Tasks are taken in arrival order (earliest pickup, then id); each
goes to the robot that would *finish it* soonest when it joins that robot's queue. Priorities only
reorder a queue: a task goes in after every queued task of the same or higher priority, ahead of
lower ones. Deadlines play no part in the choice; capabilities, drawer capacity, battery range
and max transit are respected (a robot that cannot take the task is skipped).
"""

from __future__ import annotations

from hospital_ops.domain import Plan
from scheduler._model import Instance, RouteEval
from scheduler.params import PlannerParams
from scheduler.problem import Problem, validate


def _flatten(inst: Instance, queue: list[int]) -> list[int]:
    seq: list[int] = []
    for k in queue:
        if inst.tasks[k].onboard is None:
            seq.append(2 * k)
        seq.append(2 * k + 1)
    return seq


def plan_greedy(problem: Problem, params: PlannerParams | None = None) -> Plan:
    """Assign every open task greedily (see the module doc); same Plan shape as :func:`scheduler.plan`."""
    params = params if params is not None else PlannerParams()
    validate(problem)
    inst = Instance(problem, params)
    queues: list[list[int]] = [[] for _ in inst.vehicles]
    onboard = sorted(
        (k for k, td in enumerate(inst.tasks) if td.onboard is not None),
        key=lambda k: (inst.tasks[k].task.deadline_s, inst.tasks[k].task.id),
    )
    for k in onboard:
        v = inst.tasks[k].onboard
        assert v is not None
        cand = [*queues[v], k]
        if isinstance(inst.evaluate(v, _flatten(inst, cand)), RouteEval):
            queues[v] = cand
    arrivals = sorted(
        (k for k, td in enumerate(inst.tasks) if td.onboard is None and td.vehicles),
        key=lambda k: (inst.tasks[k].task.earliest_s, inst.tasks[k].task.id),
    )
    for k in arrivals:
        rank = inst.tasks[k].task.priority.rank
        best: tuple[int, int, list[int]] | None = None
        for v in inst.tasks[k].vehicles:
            q = queues[v]
            pos = len(q)
            for i, other in enumerate(q):
                td = inst.tasks[other]
                if td.onboard is None and td.task.priority.rank > rank:
                    pos = i
                    break
            cand = [*q[:pos], k, *q[pos:]]
            seq = _flatten(inst, cand)
            ev = inst.evaluate(v, seq)
            if not isinstance(ev, RouteEval):
                continue
            finish = ev.times[seq.index(2 * k + 1)]
            if best is None or finish < best[0]:
                best = (finish, v, cand)
        if best is not None:
            queues[best[1]] = best[2]
    return inst.to_plan([_flatten(inst, q) for q in queues], "greedy")
