"""Dispatch zones: the campus's robots split into tower groups, one rolling dispatcher each.

Why. On a 5,000-bed campus one dispatcher over the whole fleet does work on every event that
grows with the fleet (re-timing every route, compiling every robot into the planning problem),
and its periodic OR-Tools search grows with robots × open tasks. Events themselves grow with the
beds, so the total cost grew much faster than the beds: 13.7× the CPU for 5× the beds in the
twin (6.5× with zones). Large hospitals run their transport that way too: a robot pool per group
of towers, near its wards' lifts, sharing the central pharmacy and laboratory. With zones of a
bounded size the work per event and per search is bounded, and the total grows with the campus.

What a zone is. A contiguous run of *zoned buildings* (inpatient towers and the emergency
department, in street order) with its own robots. A task belongs to the zone of its first zoned
end (pickup, else drop-off): a dose from the central pharmacy to ward T3-07 is T3's zone's, a
specimen from the ED to the laboratory is the ED's zone's. Tasks with no zoned end (pharmacy →
outpatient clinic) go to the zone with the most robots. A task that needs equipment no robot of
its zone has (a cold box) goes to the nearest zone that has it, so no task is stranded by zoning.

What it costs. No robot is shared across zones: a burst in one tower group is not helped by
idle robots two towers away. :func:`plan_zones` therefore sizes the zones by expected work
(tasks per building) and gives every zone its share of each kind of robot. One zone (the default
for small fleets) is exactly the single dispatcher.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hospital_ops.campus import Campus
from hospital_ops.domain import Capability, DeliveryTask, Plan, Robot
from scheduler.dispatcher import (
    Decision,
    Dispatcher,
    DispatchError,
    Event,
    RobotAvailable,
    RobotFault,
    RobotLost,
    RobotStateUpdate,
    TaskAdded,
    TaskCancelled,
    TaskDelivered,
    TaskPickedUp,
)
from scheduler.staging import apportion

#: Building kinds that form zones; the others (pharmacy, laboratory, outpatients) are shared.
ZONED_KINDS = frozenset({"inpatient_tower", "emergency"})


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    #: Zoned buildings, in street order.
    buildings: tuple[str, ...]
    robots: tuple[str, ...]
    #: Charging docks the zone's robots use (in its buildings, else the nearest building's).
    docks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Zoning:
    """Zones of a campus, and which zone a task or a robot belongs to."""

    zones: tuple[Zone, ...]
    #: location id → building id (from the campus).
    building_of: Mapping[str, str]
    #: Capabilities of each robot (to keep tasks where some robot can carry them).
    robot_caps: Mapping[str, frozenset[Capability]]
    _building_zone: dict[str, str] = field(init=False, repr=False)
    _robot_zone: dict[str, str] = field(init=False, repr=False)
    _order: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.zones:
            raise ValueError("zones: at least one zone is needed")
        bz: dict[str, str] = {}
        rz: dict[str, str] = {}
        for z in self.zones:
            for b in z.buildings:
                if b in bz:
                    raise ValueError(f"zones: building {b} is in zones {bz[b]} and {z.id}")
                bz[b] = z.id
            for r in z.robots:
                if r in rz:
                    raise ValueError(f"zones: robot {r} is in zones {rz[r]} and {z.id}")
                rz[r] = z.id
        object.__setattr__(self, "_building_zone", bz)
        object.__setattr__(self, "_robot_zone", rz)
        object.__setattr__(self, "_order", {z.id: i for i, z in enumerate(self.zones)})

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(z.id for z in self.zones)

    def zone(self, zone_id: str) -> Zone:
        return self.zones[self._order[zone_id]]

    def robot_zone(self, robot_id: str) -> str:
        try:
            return self._robot_zone[robot_id]
        except KeyError:
            raise DispatchError(f"robot {robot_id}: in no dispatch zone") from None

    def place_zone(self, location: str) -> str | None:
        """The zone of the building ``location`` is in, or None for a shared building."""
        return self._building_zone.get(self.building_of.get(location, ""))

    def task_zone(self, task: DeliveryTask, members: Mapping[str, Iterable[str]] | None = None) -> str:
        """The zone that plans ``task`` (see the module doc); ``members``: each zone's robots, if
        not the ones planned here."""
        crews = members if members is not None else {z.id: z.robots for z in self.zones}
        home = self.place_zone(task.pickup) or self.place_zone(task.dropoff)
        if home is None:
            home = max(self.zones, key=lambda z: (len(tuple(crews[z.id])), -self._order[z.id])).id
        need = task.handling.required_capabilities()
        if self.can_carry(crews[home], need):
            return home
        return next((z for z in self.nearest_first(home) if self.can_carry(crews[z], need)), home)

    def nearest_first(self, zone_id: str) -> list[str]:
        """The other zones, nearest along the street first."""
        i = self._order[zone_id]
        others = [z.id for z in self.zones if z.id != zone_id]
        return sorted(others, key=lambda z: (abs(self._order[z] - i), self._order[z]))

    def can_carry(self, robots: Iterable[str], need: frozenset[Capability]) -> bool:
        """Can one of ``robots`` carry a task needing ``need``?"""
        return any(need <= self.robot_caps.get(r, frozenset()) for r in robots)


def split_street(weights: Sequence[float], parts: int) -> list[int]:
    """Cut a row of buildings with ``weights`` into ``parts`` contiguous runs with the smallest
    heaviest run (ties: earlier cuts); returns the run sizes. Exact (dynamic programming)."""
    n = len(weights)
    if parts < 1 or parts > n:
        raise ValueError(f"parts: must be between 1 and {n}, got {parts}")
    prefix = [0.0]
    for w in weights:
        prefix.append(prefix[-1] + w)
    inf = math.inf
    # best[k][i]: smallest heaviest run cutting the first i buildings into k runs
    best = [[inf] * (n + 1) for _ in range(parts + 1)]
    cut = [[0] * (n + 1) for _ in range(parts + 1)]
    best[0][0] = 0.0
    for k in range(1, parts + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                v = max(best[k - 1][j], prefix[i] - prefix[j])
                if v < best[k][i] - 1e-9:
                    best[k][i], cut[k][i] = v, j
    sizes: list[int] = []
    i = n
    for k in range(parts, 0, -1):
        j = cut[k][i]
        sizes.append(i - j)
        i = j
    return sizes[::-1]


def plan_zones(
    campus: Campus,
    robots: Sequence[Robot],
    *,
    robots_per_zone: int,
    work: Mapping[str, float] | None = None,
    docks: Iterable[str] = (),
) -> Zoning:
    """Zones of about ``robots_per_zone`` robots over the campus's zoned buildings.

    ``work``: expected tasks per zoned building (e.g. a day's requests by their zoned end; beds
    when not given). Buildings are cut into contiguous runs of balanced work; each zone gets
    robots in proportion to its work, separately for each kind of robot (so cold boxes are spread
    too), at least one robot per zone. ``docks``: charging docks, each zone using those in its
    buildings (the nearest building's when it has none).
    """
    if robots_per_zone < 1:
        raise ValueError(f"robots_per_zone: must be at least 1, got {robots_per_zone}")
    street = sorted((b for b in campus.buildings.values() if b.kind in ZONED_KINDS), key=lambda b: (b.origin[0], b.id))
    building_of = {loc.id: loc.building for loc in campus.locations.values()}
    caps = {r.id: r.capabilities for r in robots}
    if not street or not robots:
        only = Zone("Z1", tuple(b.id for b in street), tuple(r.id for r in robots), tuple(docks))
        return Zoning((only,), building_of, caps)
    if work is None:
        beds: dict[str, float] = {}
        for w in campus.wards:
            beds[w.building] = beds.get(w.building, 0.0) + w.beds
        work = beds
    weights = [max(0.0, float(work.get(b.id, 0.0))) for b in street]
    if sum(weights) <= 0:
        weights = [1.0] * len(street)
    parts = max(1, min(len(street), len(robots), round(len(robots) / robots_per_zone)))
    sizes = split_street(weights, parts)
    runs: list[tuple[str, ...]] = []
    zone_work: dict[str, float] = {}
    i = 0
    for k, size in enumerate(sizes):
        runs.append(tuple(b.id for b in street[i : i + size]))
        zone_work[f"Z{k + 1}"] = sum(weights[i : i + size])
        i += size
    members: dict[str, list[str]] = {z: [] for z in zone_work}
    kinds: dict[frozenset[Capability], list[str]] = {}
    for r in robots:
        kinds.setdefault(r.capabilities, []).append(r.id)
    # one robot per zone first, then the rest by work; each kind of robot apportioned on its own
    floor = dict.fromkeys(zone_work, 1)
    left = len(robots) - len(zone_work)
    share = apportion(left, zone_work)
    quota = {z: floor[z] + share[z] for z in zone_work}
    for kind in sorted(kinds, key=lambda c: (len(kinds[c]), sorted(c))):
        ids = kinds[kind]
        room = {z: quota[z] - len(members[z]) for z in zone_work}
        split = apportion(len(ids), {z: zone_work[z] for z in zone_work if room[z] > 0} or zone_work)
        it = iter(ids)
        for z in zone_work:
            for _ in range(min(split.get(z, 0), room[z])):
                members[z].append(next(it))
        for rid in it:  # what quotas could not place: to the zones still short, in order
            z = max(zone_work, key=lambda z: (quota[z] - len(members[z]), zone_work[z]))
            members[z].append(rid)
    all_docks = tuple(docks)
    order = {r.id: i for i, r in enumerate(robots)}
    zones = []
    for (z, ids), run in zip(members.items(), runs, strict=True):
        ids.sort(key=order.__getitem__)  # the fleet's own order within a zone
        own = tuple(d for d in all_docks if building_of.get(d) in run)
        zones.append(Zone(z, run, tuple(ids), own or _nearest_docks(campus, run, all_docks)))
    return Zoning(tuple(zones), building_of, caps)


def _nearest_docks(campus: Campus, buildings: tuple[str, ...], docks: tuple[str, ...]) -> tuple[str, ...]:
    """The docks of the building nearest to a zone that has none of its own (the ED: the next tower's)."""
    places = [loc.id for loc in campus.locations.values() if loc.building in buildings]
    if not places or not docks:
        return docks
    here = places[0]
    nearest = min(docks, key=lambda d: (campus.distance_m(here, d), d))
    return tuple(d for d in docks if campus.locations[d].building == campus.locations[nearest].building)


def _joined(plans: Sequence[Plan], at_s: int) -> Plan:
    """Zones' plans as one campus plan (their robots and tasks are disjoint)."""
    return Plan(
        tuple(r for p in plans for r in p.routes),
        {k: v for p in plans for k, v in p.unassigned.items()},
        at_s,
        plans[0].solver if plans else "",
        sum(p.objective for p in plans),
    )


def _merged(decisions: Sequence[Decision], at_s: int) -> Decision:
    return Decision(
        at_s=at_s,
        plan=_joined([d.plan for d in decisions], at_s),
        commitments={k: v for d in decisions for k, v in d.commitments.items()},
        new_commitments={k: v for d in decisions for k, v in d.new_commitments.items()},
        alerts=tuple(a for d in decisions for a in d.alerts),
        replan_pending=any(d.replan_pending for d in decisions),
    )


class ZonedDispatcher:
    """One :class:`Dispatcher` per zone behind the dispatcher's own interface.

    An event goes to the zone of its task or robot, and its :class:`Decision` speaks for that
    zone's robots only (``Decision.scope``), or for the whole campus with ``whole_decisions``;
    :meth:`load` and :meth:`replan` run the zones named (every zone by default), :meth:`tick`
    every zone. Robots stay in their zone.
    """

    def __init__(self, zoning: Zoning, make: Callable[[Zone], Dispatcher], *, whole_decisions: bool = False) -> None:
        self.zoning = zoning
        #: Every decision speaks for the whole campus (all zones' plans and commitments), for callers
        #: that record the plan as a whole (the scheduler node); else an event's decision covers
        #: its zone only (cheaper: the twin).
        self.whole_decisions = whole_decisions
        self._zones: dict[str, Dispatcher] = {z.id: make(z) for z in zoning.zones}
        for z in zoning.zones:
            known = set(self._zones[z.id].robots)
            if known != set(z.robots):
                raise DispatchError(f"zone {z.id}: its dispatcher has robots {sorted(known)}, not {list(z.robots)}")
        self._scope = {z.id: frozenset(z.robots) for z in zoning.zones}
        self._zone_of_scope = {scope: z for z, scope in self._scope.items()}
        self._robot_zone = {r: z.id for z in zoning.zones for r in z.robots}
        self._task_zone: dict[str, str] = {}

    @classmethod
    def build(
        cls, zoning: Zoning, travel: object, robots: Iterable[Robot], *, whole_decisions: bool = False, **kwargs: object
    ) -> ZonedDispatcher:
        """Dispatchers made the usual way (``Dispatcher(travel, robots, docks=..., **kwargs)``)."""
        by_id = {r.id: r for r in robots}

        def make(z: Zone) -> Dispatcher:
            return Dispatcher(travel, [by_id[r] for r in z.robots], docks=z.docks, **kwargs)  # type: ignore[arg-type]

        return cls(zoning, make, whole_decisions=whole_decisions)

    # ---- read-only views (whole campus) --------------------------------------------------------
    @property
    def zones(self) -> Mapping[str, Dispatcher]:
        return dict(self._zones)

    @property
    def now_s(self) -> int:
        return max(d.now_s for d in self._zones.values())

    @property
    def plan(self) -> Plan | None:
        """Every zone's current plan as one (None before the first decision)."""
        plans = [d.plan for d in self._zones.values() if d.plan is not None]
        return _joined(plans, max(p.created_s for p in plans)) if plans else None

    @property
    def tasks(self) -> dict[str, DeliveryTask]:
        return {k: v for d in self._zones.values() for k, v in d.tasks.items()}

    @property
    def robots(self) -> dict[str, Robot]:
        return {k: v for d in self._zones.values() for k, v in d.robots.items()}

    @property
    def commitments(self) -> dict[str, tuple]:  # type: ignore[type-arg]
        return {k: v for d in self._zones.values() for k, v in d.commitments.items()}

    def task_zone(self, task_id: str) -> str | None:
        """The zone planning the open task ``task_id`` (None if it is not open)."""
        return self._task_zone.get(task_id)

    def zone_for(self, task: DeliveryTask) -> str:
        """The zone a new ``task`` goes to."""
        return self.zoning.task_zone(task)

    def robot_zone(self, robot_id: str) -> str:
        """The zone the robot works in."""
        try:
            return self._robot_zone[robot_id]
        except KeyError:
            raise DispatchError(f"robot {robot_id}: in no dispatch zone") from None

    def members(self, zone_id: str) -> tuple[str, ...]:
        """The zone's robots, in the fleet's order."""
        return self.zoning.zone(zone_id).robots

    # ---- events --------------------------------------------------------------------------------
    def handle(self, event: Event) -> Decision:
        """Apply ``event`` in its zone (see :meth:`Dispatcher.handle`); the decision's scope is that zone."""
        match event:
            case TaskAdded(task=task):
                if task.id in self._task_zone:
                    raise DispatchError(f"task {task.id}: already open")
                zone = self.zone_for(task)
            case TaskCancelled(task_id=tid) | TaskPickedUp(task_id=tid) | TaskDelivered(task_id=tid):
                zone = self._open_zone(tid)
            case RobotFault(robot_id=rid) | RobotLost(robot_id=rid):
                zone = self.robot_zone(rid)
            case RobotAvailable(robot=robot) | RobotStateUpdate(robot=robot):
                zone = self.robot_zone(robot.id)
            case _:
                raise DispatchError(f"unknown event {event!r}")
        if isinstance(event, TaskPickedUp | TaskDelivered) and self.robot_zone(event.robot_id) != zone:
            raise DispatchError(
                f"task {event.task_id}: robot {event.robot_id} is in zone "
                f"{self.robot_zone(event.robot_id)}, the task in zone {zone}"
            )
        decision = self._zones[zone].handle(event)
        self._after(event, zone, decision)
        return self._whole(decision) if self.whole_decisions else _scoped(decision, self._scope[zone])

    def load(
        self, tasks: Iterable[DeliveryTask], at_s: int | None = None, zones: Iterable[str] | None = None
    ) -> Decision:
        """Add open tasks, each to its zone, and re-plan the zones that got tasks plus ``zones``
        (None: every zone). All or nothing on bad input."""
        groups: dict[str, list[DeliveryTask]] = {z: [] for z in self._zones}
        seen: set[str] = set()
        # items already on a robot are planned by the robot's zone (its drop-off is forced onto it)
        carried = {
            t: self._robot_zone[r.id] for d in self._zones.values() for r in d.robots.values() for t in r.on_board
        }
        for t in tasks:
            if t.id in self._task_zone or t.id in seen:
                raise DispatchError(f"task {t.id}: already open")
            seen.add(t.id)
            groups[carried.get(t.id) or self.zone_for(t)].append(t)
        at = at_s if at_s is not None else self.now_s
        for z, batch in groups.items():  # every batch checked before any zone takes its own
            if batch:
                self._zones[z].check(batch, at)
        wanted = self._which(zones) | {z for z, batch in groups.items() if batch}
        decisions = []
        for z, d in self._zones.items():
            if z not in wanted:
                continue
            decisions.append(d.load(groups[z], at) if groups[z] else d.replan(at))
            for t in groups[z]:
                self._task_zone[t.id] = z
        return self._decision(decisions, wanted, at)

    def replan(self, at_s: int | None = None, zones: Iterable[str] | None = None) -> Decision:
        """A full re-plan of ``zones`` (None: every zone); see :meth:`Dispatcher.replan`."""
        wanted = self._which(zones)
        decisions = [d.replan(at_s) for z, d in self._zones.items() if z in wanted]
        return self._decision(decisions, wanted, at_s if at_s is not None else self.now_s)

    def tick(self, at_s: int) -> Decision:
        decisions = [d.tick(at_s) for d in self._zones.values()]
        return _merged(decisions, max(dec.at_s for dec in decisions))

    # ---- internals -----------------------------------------------------------------------------
    def _which(self, zones: Iterable[str] | None) -> set[str]:
        if zones is None:
            return set(self._zones)
        wanted = set(zones)
        unknown = wanted - set(self._zones)
        if unknown:
            raise DispatchError(f"zones: no such zone {', '.join(sorted(unknown))}")
        return wanted

    def _decision(self, decisions: list[Decision], wanted: set[str], at_s: int) -> Decision:
        """The zones' decisions as one; scoped to their robots unless every zone took part."""
        merged = _merged(decisions, max((d.at_s for d in decisions), default=at_s))
        if wanted == set(self._zones):
            return merged
        if self.whole_decisions:
            return self._whole(merged)
        return _scoped(merged, frozenset().union(*(self._scope[z] for z in wanted)))

    def _whole(self, decision: Decision) -> Decision:
        """``decision`` (of some zones) with every zone's current plan and commitments."""
        plan = self.plan
        return Decision(
            at_s=decision.at_s,
            plan=plan if plan is not None else decision.plan,
            commitments=self.commitments,
            new_commitments=decision.new_commitments,
            alerts=decision.alerts,
            replan_pending=decision.replan_pending,
        )

    def zone_of(self, decision: Decision) -> str | None:
        """The zone an event's decision speaks for (None: several or all)."""
        return self._zone_of_scope.get(decision.scope) if decision.scope is not None else None

    def _open_zone(self, tid: str) -> str:
        try:
            return self._task_zone[tid]
        except KeyError:
            raise DispatchError(f"task {tid}: not an open task") from None

    def _after(self, event: Event, zone: str, decision: Decision) -> None:
        match event:
            case TaskAdded(task=task):
                self._task_zone[task.id] = zone
            case TaskCancelled(task_id=tid) | TaskDelivered(task_id=tid):
                self._task_zone.pop(tid, None)
        for alert in decision.alerts:  # items on a retired robot leave the plan
            for tid in alert.task_ids:
                self._task_zone.pop(tid, None)


def _scoped(decision: Decision, scope: frozenset[str]) -> Decision:
    return Decision(
        at_s=decision.at_s,
        plan=decision.plan,
        commitments=decision.commitments,
        new_commitments=decision.new_commitments,
        alerts=decision.alerts,
        replan_pending=decision.replan_pending,
        scope=scope,
    )
