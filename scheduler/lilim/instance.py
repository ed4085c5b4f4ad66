"""Li & Lim PDPTW instance data (immutable) and the integer view the planners work on.

A task id is the row number of the instance file (0 = depot). Coordinates, demands, windows and
service times are kept exactly as read; :func:`scaled` derives the integer matrices both planners
(the pure-Python heuristics and the OR-Tools model) use, so that a plan feasible for them is
feasible for the exact, floating-point semantics of the benchmark as well (travel times are
rounded *up*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Instance:
    """One PDPTW instance: a depot (task 0), pickups and deliveries in pairs, one vehicle type.

    ``pickup_of[d]`` is the pickup of delivery ``d`` and ``delivery_of[p]`` the delivery of pickup
    ``p`` (``-1`` where not applicable, and for the depot). Windows bound the *start* of service.
    """

    name: str
    max_vehicles: int
    capacity: int
    x: tuple[float, ...]
    y: tuple[float, ...]
    demand: tuple[int, ...]
    ready: tuple[int, ...]
    due: tuple[int, ...]
    service: tuple[int, ...]
    pickup_of: tuple[int, ...]
    delivery_of: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.x)
        for field_name in ("y", "demand", "ready", "due", "service", "pickup_of", "delivery_of"):
            if len(getattr(self, field_name)) != n:
                raise ValueError(f"Expected {field_name} to have {n} entries (one per task).")
        if n < 1:
            raise ValueError("Expected at least the depot row.")
        if self.max_vehicles < 1:
            raise ValueError("Expected max_vehicles >= 1.")
        if self.capacity < 1:
            raise ValueError("Expected capacity >= 1.")
        for p, d in self.pairs:
            if self.pickup_of[d] != p:
                raise ValueError(f"Task {d}: delivery does not point back to its pickup {p}.")

    @property
    def num_tasks(self) -> int:
        """Tasks without the depot (pickups + deliveries)."""
        return len(self.x) - 1

    @cached_property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """(pickup, delivery) for every request, ordered by pickup id."""
        return tuple((p, d) for p, d in enumerate(self.delivery_of) if p > 0 and d > 0)

    def dist(self, i: int, j: int) -> float:
        """Euclidean distance between tasks ``i`` and ``j`` (double precision, unrounded)."""
        return math.hypot(self.x[i] - self.x[j], self.y[i] - self.y[j])

    def route_distance(self, route: list[int] | tuple[int, ...]) -> float:
        """Length of depot → route → depot."""
        prev = 0
        total = 0.0
        for t in route:
            total += self.dist(prev, t)
            prev = t
        return total + self.dist(prev, 0)

    def total_distance(self, routes: list[list[int]]) -> float:
        """Total length of all non-empty routes."""
        return sum(self.route_distance(r) for r in routes if r)


@dataclass(frozen=True)
class Scaled:
    """Integer data for the planners: times and distances multiplied by ``scale``.

    ``time[i][j]`` = ceil(scale · dist + scale · service_i), i.e. service at ``i`` plus travel to
    ``j``, rounded up so integer feasibility implies exact feasibility; ``cost[i][j]`` =
    round(scale · dist). Lists of lists: the pure-Python heuristics index them in tight loops.
    """

    scale: int
    n: int
    capacity: int
    demand: list[int]
    ready: list[int]
    due: list[int]
    time: list[list[int]]
    cost: list[list[int]]
    pickup_of: list[int]
    delivery_of: list[int]
    pairs: list[tuple[int, int]]


def scaled(inst: Instance, scale: int = 1000) -> Scaled:
    """Integer view of ``inst`` (see :class:`Scaled`)."""
    n = len(inst.x)
    time: list[list[int]] = []
    cost: list[list[int]] = []
    for i in range(n):
        trow: list[int] = []
        crow: list[int] = []
        for j in range(n):
            d = inst.dist(i, j) * scale
            trow.append(0 if i == j else math.ceil(d - 1e-9) + inst.service[i] * scale)
            crow.append(round(d))
        time.append(trow)
        cost.append(crow)
    return Scaled(
        scale=scale,
        n=n,
        capacity=inst.capacity,
        demand=list(inst.demand),
        ready=[r * scale for r in inst.ready],
        due=[d * scale for d in inst.due],
        time=time,
        cost=cost,
        pickup_of=list(inst.pickup_of),
        delivery_of=list(inst.delivery_of),
        pairs=list(inst.pairs),
    )
