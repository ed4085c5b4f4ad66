"""The planning problem (immutable) and its validation.

A :class:`Problem` is a snapshot: the open tasks (not yet delivered: waiting for pickup, or on
board a robot), the robots as they are now, the campus clock and the travel data. Tasks on board
are named by ``Robot.on_board``; their :class:`DeliveryTask` must be among ``tasks`` too (the
planner needs their drop-off and deadline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hospital_ops.domain import Capability, DeliveryTask, Robot, RobotMode
from scheduler.travel import TravelTimes


class PlanningError(ValueError):
    """Input the planner cannot work with; the message names the task (or robot) and the reason."""

    def __init__(self, message: str, *, task_id: str | None = None, robot_id: str | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.robot_id = robot_id


#: Robots in these modes get no work at all.
UNAVAILABLE_MODES = frozenset({RobotMode.FAULT, RobotMode.LOST})

_CAP_NAMES = {Capability.LOCKED_DRAWERS: "locked drawers", Capability.COLD_BOX: "a cold box"}


def describe_capabilities(caps: Iterable[Capability]) -> str:
    """'locked drawers and a cold box' (for reasons shown to people)."""
    names = [_CAP_NAMES.get(c, str(c)) for c in sorted(caps, key=str)]
    return " and ".join(names) if names else "no special equipment"


@dataclass(frozen=True, slots=True, eq=False)
class Problem:
    """Open tasks, robots, the campus clock (``now_s``) and travel data. Immutable."""

    tasks: tuple[DeliveryTask, ...]
    robots: tuple[Robot, ...]
    now_s: int
    travel: TravelTimes
    #: Charging docks to send a robot without ``home_dock`` to (nearest one).
    docks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "robots", tuple(self.robots))
        object.__setattr__(self, "docks", tuple(self.docks))
        if isinstance(self.now_s, bool) or not isinstance(self.now_s, int):
            raise PlanningError(f"now_s: must be whole seconds on the campus clock, got {self.now_s!r}")
        for t in self.tasks:
            if not isinstance(t, DeliveryTask):
                raise PlanningError(f"tasks: expected DeliveryTask, got {type(t).__name__}")
        for r in self.robots:
            if not isinstance(r, Robot):
                raise PlanningError(f"robots: expected Robot, got {type(r).__name__}")

    def replace(self, **changes: Any) -> Problem:
        return dataclasses.replace(self, **changes)

    def task(self, task_id: str) -> DeliveryTask:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def robot(self, robot_id: str) -> Robot:
        for r in self.robots:
            if r.id == robot_id:
                return r
        raise KeyError(robot_id)

    def on_board(self) -> dict[str, str]:
        """task id → id of the robot that has the items in its drawers."""
        return {tid: r.id for r in self.robots for tid in r.on_board}


def _known(travel: TravelTimes, loc: str) -> bool:
    try:
        return loc in travel.locations
    except (AttributeError, TypeError):
        try:
            travel.matrix([loc])
        except (KeyError, ValueError):
            return False
        return True


def validate(problem: Problem) -> None:
    """Raise :class:`PlanningError` on input no plan can be made from (naming task and reason).

    Checked: duplicate task or robot ids; unknown locations; a deadline before the earliest
    pickup; items bigger than every robot's drawers; on-board tasks that are missing, on two
    robots, or overflow their robot. Problems one plan can still live with (no robot with the
    right equipment, max transit impossible, ...) are not errors: the plan reports those tasks
    in ``Plan.unassigned`` with the reason.
    """
    seen: set[str] = set()
    for t in problem.tasks:
        if t.id in seen:
            raise PlanningError(f"task {t.id}: duplicate task id", task_id=t.id)
        seen.add(t.id)
    robot_ids: set[str] = set()
    for r in problem.robots:
        if r.id in robot_ids:
            raise PlanningError(f"robot {r.id}: duplicate robot id", robot_id=r.id)
        robot_ids.add(r.id)

    travel = problem.travel
    for t in problem.tasks:
        for field_name in ("pickup", "dropoff"):
            loc = getattr(t, field_name)
            if not _known(travel, loc):
                raise PlanningError(f"task {t.id}: {field_name}: unknown location {loc!r}", task_id=t.id)
        if t.deadline_s < t.earliest_s:
            raise PlanningError(
                f"task {t.id}: deadline_s: {t.deadline_s} is before the earliest pickup {t.earliest_s}",
                task_id=t.id,
            )
    for r in problem.robots:
        if not _known(travel, r.location):
            raise PlanningError(f"robot {r.id}: location: unknown location {r.location!r}", robot_id=r.id)
        if r.home_dock is not None and not _known(travel, r.home_dock):
            raise PlanningError(f"robot {r.id}: home_dock: unknown location {r.home_dock!r}", robot_id=r.id)
    for d in problem.docks:
        if not _known(travel, d):
            raise PlanningError(f"docks: unknown location {d!r}")

    if problem.robots:
        biggest = max(r.capacity_units for r in problem.robots)
        for t in problem.tasks:
            if t.units > biggest:
                raise PlanningError(
                    f"task {t.id}: units: {t.units} drawer units is too big for every robot (largest holds {biggest})",
                    task_id=t.id,
                )

    by_id = {t.id: t for t in problem.tasks}
    carrier: dict[str, str] = {}
    for r in problem.robots:
        load = 0
        for tid in r.on_board:
            if tid not in by_id:
                raise PlanningError(
                    f"task {tid}: on board robot {r.id} but missing from the problem's tasks",
                    task_id=tid,
                    robot_id=r.id,
                )
            if tid in carrier:
                raise PlanningError(
                    f"task {tid}: on board two robots ({carrier[tid]} and {r.id})", task_id=tid, robot_id=r.id
                )
            carrier[tid] = r.id
            load += by_id[tid].units
        if load > r.capacity_units:
            raise PlanningError(
                f"robot {r.id}: on_board: {load} drawer units on board exceed its capacity {r.capacity_units}",
                robot_id=r.id,
            )
