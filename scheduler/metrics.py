"""Service metrics of a plan, or of what actually happened (the digital twin feeds real times).

``delivery_metrics`` is the general form: tasks, when each was delivered (None = not delivered),
and how far the robots drove. ``plan_metrics`` reads those from a plan (drop-off ETAs, route
distances). A STAT task that is not delivered counts as late, never as missing from the ratio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hospital_ops.domain import DeliveryTask, Plan, Priority, StopKind
from scheduler.problem import Problem


@dataclass(frozen=True, slots=True)
class ServiceMetrics:
    tasks: int
    delivered: int
    not_delivered: int
    stat_tasks: int
    stat_on_time: int
    #: STAT tasks delivered by their deadline, % of all STAT tasks (100 if there are none).
    stat_on_time_pct: float
    #: All tasks delivered by their deadline, % of all tasks.
    on_time_pct: float
    #: Σ seconds past the deadline over delivered tasks.
    total_lateness_s: int
    lateness_by_priority_s: dict[str, int]
    max_lateness_s: int
    robot_km: float
    #: Mean seconds from earliest pickup to delivery, delivered tasks.
    mean_turnaround_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def delivery_metrics(
    tasks: Iterable[DeliveryTask], delivered_s: Mapping[str, int | None], robot_metres: float
) -> ServiceMetrics:
    """Metrics from delivery times (``delivered_s[task id]``, absent or None = not delivered)."""
    tasks = list(tasks)
    by_prio = {p.value: 0 for p in Priority}
    total = worst = on_time = stat = stat_on_time = delivered = 0
    turnaround = 0
    for t in tasks:
        at = delivered_s.get(t.id)
        if t.priority is Priority.STAT:
            stat += 1
        if at is None:
            continue
        delivered += 1
        late = max(0, at - t.deadline_s)
        turnaround += at - t.earliest_s
        total += late
        worst = max(worst, late)
        by_prio[t.priority.value] += late
        if late == 0:
            on_time += 1
            if t.priority is Priority.STAT:
                stat_on_time += 1
    n = len(tasks)
    return ServiceMetrics(
        tasks=n,
        delivered=delivered,
        not_delivered=n - delivered,
        stat_tasks=stat,
        stat_on_time=stat_on_time,
        stat_on_time_pct=round(100.0 * stat_on_time / stat, 2) if stat else 100.0,
        on_time_pct=round(100.0 * on_time / n, 2) if n else 100.0,
        total_lateness_s=total,
        lateness_by_priority_s=by_prio,
        max_lateness_s=worst,
        robot_km=round(robot_metres / 1000.0, 3),
        mean_turnaround_s=round(turnaround / delivered, 1) if delivered else 0.0,
    )


def plan_metrics(problem: Problem, plan: Plan) -> ServiceMetrics:
    """Metrics of a plan as if executed on time: drop-off ETAs as delivery times."""
    delivered = {
        s.task_id: s.eta_s for r in plan.routes for s in r.stops if s.kind is StopKind.DROPOFF and s.task_id is not None
    }
    metres = sum(r.distance_m for r in plan.routes)
    return delivery_metrics(problem.tasks, delivered, metres)
