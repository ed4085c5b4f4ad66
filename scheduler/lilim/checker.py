"""Independent feasibility checker for Li & Lim PDPTW solutions.

Deliberately self-contained: it parses the instance text itself and recomputes everything in
double precision from the coordinates, sharing no code with the reader or the planners, so a
bug there cannot hide a bad solution here. Semantics (as used to rank best-known solutions):
vehicles leave the depot at its opening time and must be back by its closing time; travel time
equals Euclidean distance; a vehicle arriving early waits; service must *start* by ``latest``;
the load never exceeds the capacity; every request (pickup + delivery) is served exactly once,
both tasks on the same route, pickup first; at most ``K`` non-empty routes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Slack allowed on time-window comparisons, absorbing floating-point summation order only.
TIME_EPS = 1e-6


@dataclass(frozen=True)
class _Task:
    x: float
    y: float
    demand: int
    earliest: float
    latest: float
    service: float
    pickup: int
    delivery: int


@dataclass
class CheckResult:
    """Outcome of :func:`check`: ``feasible`` iff ``violations`` is empty."""

    vehicles: int
    distance: float
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations


def _parse(text: str) -> tuple[int, int, list[_Task]]:
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    k, q = int(lines[0][0]), int(lines[0][1])
    tasks = []
    for parts in lines[1:]:
        _, x, y, dem, e, lt, s, p, d = parts
        tasks.append(_Task(float(x), float(y), int(dem), float(e), float(lt), float(s), int(p), int(d)))
    return k, q, tasks


def check(instance_text: str, routes: Sequence[Sequence[int]]) -> CheckResult:
    """Check ``routes`` (task ids without the depot, one list per vehicle) against the instance text."""
    max_vehicles, capacity, tasks = _parse(instance_text)
    n = len(tasks)
    depot = tasks[0]
    bad: list[str] = []
    seen: dict[int, int] = {}
    distance = 0.0
    used = [list(r) for r in routes if len(r) > 0]
    if len(used) > max_vehicles:
        bad.append(f"fleet: {len(used)} routes exceed the {max_vehicles} vehicles available")
    for r, route in enumerate(used):
        position: dict[int, int] = {}
        load = 0
        t = depot.earliest
        px, py = depot.x, depot.y
        for pos, task_id in enumerate(route):
            if not isinstance(task_id, numbers.Integral) or isinstance(task_id, bool) or not 0 < task_id < n:
                bad.append(f"route {r}: {task_id!r} is not a task id (1..{n - 1})")
                continue
            if task_id in seen:
                bad.append(f"task {task_id}: visited more than once (routes {seen[task_id]} and {r})")
            seen[task_id] = r
            position[task_id] = pos
            task = tasks[task_id]
            leg = math.hypot(task.x - px, task.y - py)
            distance += leg
            t = max(t + leg, task.earliest)
            if t > task.latest + TIME_EPS:
                bad.append(f"task {task_id}: time window: service starts at {t:.4f} > latest {task.latest:g}")
            t += task.service
            load += task.demand
            if load > capacity:
                bad.append(f"task {task_id}: capacity: load {load} > {capacity} on route {r}")
            if load < 0:
                bad.append(f"task {task_id}: capacity: load {load} < 0 on route {r}")
            px, py = task.x, task.y
        leg = math.hypot(depot.x - px, depot.y - py)
        distance += leg
        t += leg
        if t > depot.latest + TIME_EPS:
            bad.append(f"route {r}: time window: back at the depot at {t:.4f} > {depot.latest:g}")
        for task_id, pos in position.items():
            task = tasks[task_id]
            if task.pickup == 0 and task.delivery > 0:  # a pickup
                d = task.delivery
                if d not in position:
                    where = f"route {seen[d]}" if d in seen else "no route"
                    bad.append(f"request {task_id}->{d}: split pair: delivery on {where}, pickup on route {r}")
                elif position[d] < pos:
                    bad.append(f"request {task_id}->{d}: precedence: delivery before pickup on route {r}")
    for task_id in range(1, n):
        if task_id not in seen:
            bad.append(f"task {task_id}: not served")
    return CheckResult(vehicles=len(used), distance=distance, violations=bad)
