"""The rolling dispatcher: an event-driven state machine over the planner (pure, no threads).

Feed it events (:class:`TaskAdded`, :class:`TaskCancelled`, :class:`TaskPickedUp`,
:class:`TaskDelivered`, :class:`RobotFault`, :class:`RobotLost`, :class:`RobotAvailable`,
:class:`RobotStateUpdate`); each one updates the state, re-plans (warm-started from the previous
plan) and returns a :class:`Decision`: the full tentative plan and the *commitments*.

Commitments. Only the next leg of each robot is committed: its next stop, plus the stops right
after it at the same place (two pickups at the pharmacy are one leg), and only once the robot
must set off for it within ``commit_within_s`` (a pickup due in an hour is not committed now, so
the robot stays free for a STAT task meanwhile; :meth:`Dispatcher.tick` commits legs as they fall
due). A committed leg is not re-planned: for planning, the robot "starts" where and when its
committed leg ends, with a committed pickup counted as on board. A commitment ends when the robot
reports the stop done (:class:`TaskPickedUp` / :class:`TaskDelivered`, or charging), or with the
robot (fault, lost).

Invariants: items on board never move to another robot (they are drop-off-only visits forced onto
their robot); a robot that faults or is lost gives its not-yet-picked tasks back to the pool and
raises a :class:`RecoveryAlert` for what is in its drawers (those tasks leave the plan).

Fast path: a :class:`TaskAdded` whose priority is in ``fast_priorities`` (STAT by default) is
inserted into the current plan at its cheapest place (milliseconds) and committed at once; the
decision says ``replan_pending`` and the caller runs :meth:`Dispatcher.replan` afterwards (a ROS
node does it off the callback; the twin right away). :class:`RobotStateUpdate` (robots report
several times a minute) also takes the fast path unless ``full_replan_on_state_update``: the
routes are kept and re-timed from the new state, and a task a robot can no longer do (battery
under its reserve, ...) moves to the cheapest other robot. For a full plan computed elsewhere (another
thread or process), :meth:`Dispatcher.snapshot` gives the input and :meth:`Dispatcher.adopt`
folds the result into the state as it is by then.

Not thread-safe: serialise calls (the ROS node uses one mutually exclusive callback group).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from hospital_ops.domain import (
    DeliveryTask,
    Plan,
    Priority,
    Robot,
    RobotMode,
    RobotRoute,
    Stop,
    StopKind,
)
from scheduler.policy import DispatchPolicy, OrToolsPolicy
from scheduler.problem import UNAVAILABLE_MODES, Problem, validate
from scheduler.travel import TravelTimes, as_matrix


class DispatchError(ValueError):
    """An event that does not fit the dispatcher's state (unknown task or robot, ...)."""


# ---- events ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TaskAdded:
    task: DeliveryTask
    at_s: int


@dataclass(frozen=True, slots=True)
class TaskCancelled:
    task_id: str
    at_s: int


@dataclass(frozen=True, slots=True)
class TaskPickedUp:
    task_id: str
    robot_id: str
    at_s: int


@dataclass(frozen=True, slots=True)
class TaskDelivered:
    task_id: str
    robot_id: str
    at_s: int


@dataclass(frozen=True, slots=True)
class RobotFault:
    robot_id: str
    at_s: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RobotLost:
    robot_id: str
    at_s: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RobotAvailable:
    """A robot (back from charging, repaired, or new) ready for work."""

    robot: Robot
    at_s: int


@dataclass(frozen=True, slots=True)
class RobotStateUpdate:
    """Where a robot is, its battery and mode. ``on_board`` is ignored: pickup/delivery events own it."""

    robot: Robot
    at_s: int


Event = (
    TaskAdded
    | TaskCancelled
    | TaskPickedUp
    | TaskDelivered
    | RobotFault
    | RobotLost
    | RobotAvailable
    | RobotStateUpdate
)


# ---- results -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecoveryAlert:
    """Items on board a robot that faulted or was lost: someone has to fetch them."""

    robot_id: str
    task_ids: tuple[str, ...]
    location: str
    at_s: int
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    at_s: int
    #: The whole tentative plan, committed legs included (ETAs on the campus clock).
    plan: Plan
    #: Every robot's committed leg now.
    commitments: dict[str, tuple[Stop, ...]]
    #: Legs committed by this decision (what to send to robots now).
    new_commitments: dict[str, tuple[Stop, ...]]
    alerts: tuple[RecoveryAlert, ...] = ()
    #: The fast path was taken: call :meth:`Dispatcher.replan` when convenient.
    replan_pending: bool = False
    #: The robots this decision speaks for (``plan`` and ``commitments`` cover only them); None:
    #: every robot. A zoned dispatcher's event decisions cover one zone (``scheduler.zones``).
    scope: frozenset[str] | None = None

    @property
    def unassigned(self) -> dict[str, str]:
        return self.plan.unassigned


@dataclass(slots=True)
class _State:
    tasks: dict[str, DeliveryTask] = field(default_factory=dict)
    robots: dict[str, Robot] = field(default_factory=dict)
    commitments: dict[str, tuple[Stop, ...]] = field(default_factory=dict)
    plan: Plan | None = None
    now_s: int = 0


_ROBOT_FIELDS = tuple(f.name for f in dataclasses.fields(Robot))


def _with_available(r: Robot, available_s: int) -> Robot:
    """``dataclasses.replace(r, available_s=...)`` without re-running validation (hot path)."""
    new = object.__new__(Robot)
    for name in _ROBOT_FIELDS:
        object.__setattr__(new, name, getattr(r, name))
    object.__setattr__(new, "available_s", available_s)
    return new


class Dispatcher:
    """See the module doc. ``policy`` defaults to :class:`OrToolsPolicy`."""

    def __init__(
        self,
        travel: TravelTimes,
        robots: Iterable[Robot] = (),
        *,
        policy: DispatchPolicy | None = None,
        now_s: int = 0,
        docks: Iterable[str] = (),
        seed: int = 0,
        fast_priorities: Iterable[Priority] = (Priority.STAT,),
        full_replan_on_state_update: bool = False,
        commit_within_s: int = 120,
    ) -> None:
        self.travel = travel
        self.policy: DispatchPolicy = policy if policy is not None else OrToolsPolicy()
        self.docks = tuple(docks)
        self.seed = seed
        self.fast_priorities = frozenset(fast_priorities)
        self.full_replan_on_state_update = full_replan_on_state_update
        if commit_within_s < 0:
            raise DispatchError(f"commit_within_s: must not be negative, got {commit_within_s}")
        self.commit_within_s = commit_within_s
        self._s = _State(now_s=now_s)
        self._init_caches()
        for r in robots:
            if r.id in self._s.robots:
                raise DispatchError(f"robot {r.id}: duplicate robot id")
            self._s.robots[r.id] = r

    def _init_caches(self) -> None:
        #: Per robot: (state, committed leg, view at the leg's end, that view started now) — see _problem.
        self._views: dict[str, tuple[Robot, tuple[Stop, ...] | None, Robot, Robot | None]] = {}
        #: Travel seconds of one pair at one speed (static campus data).
        self._pair_s: dict[tuple[str, str, float], int] = {}
        #: Per robot: (location, committed leg, metres of the leg).
        self._leg_m: dict[str, tuple[str, tuple[Stop, ...], int]] = {}

    # ---- read-only views -------------------------------------------------------------------
    @property
    def now_s(self) -> int:
        return self._s.now_s

    @property
    def plan(self) -> Plan | None:
        return self._s.plan

    @property
    def tasks(self) -> dict[str, DeliveryTask]:
        return dict(self._s.tasks)

    @property
    def robots(self) -> dict[str, Robot]:
        return dict(self._s.robots)

    @property
    def commitments(self) -> dict[str, tuple[Stop, ...]]:
        return dict(self._s.commitments)

    def fork(self) -> Dispatcher:
        """An independent copy of the dispatcher (what-if runs, benchmarks); shares immutables."""
        twin = object.__new__(Dispatcher)
        twin.travel, twin.policy, twin.docks = self.travel, self.policy, self.docks
        twin.seed, twin.fast_priorities = self.seed, self.fast_priorities
        twin.full_replan_on_state_update = self.full_replan_on_state_update
        twin.commit_within_s = self.commit_within_s
        s = self._s
        twin._s = _State(dict(s.tasks), dict(s.robots), dict(s.commitments), s.plan, s.now_s)
        twin._init_caches()
        return twin

    def load(self, tasks: Iterable[DeliveryTask], at_s: int | None = None) -> Decision:
        """Add many open tasks at once (start-up, recovery from the store) and plan them together."""
        new = self.check(tasks, at_s)
        at = max(self._s.now_s, at_s if at_s is not None else self._s.now_s)
        self._s.tasks.update(new)
        return self.replan(at)

    def check(self, tasks: Iterable[DeliveryTask], at_s: int | None = None) -> dict[str, DeliveryTask]:
        """Raise :class:`DispatchError` / :class:`scheduler.PlanningError` if :meth:`load` would
        refuse ``tasks``; the state is not changed. Returns them by id."""
        s = self._s
        at = max(s.now_s, at_s if at_s is not None else s.now_s)
        new: dict[str, DeliveryTask] = {}
        for t in tasks:
            if t.id in s.tasks or t.id in new:
                raise DispatchError(f"task {t.id}: already open")
            new[t.id] = t
        all_tasks = (*s.tasks.values(), *new.values())
        validate(Problem(all_tasks, tuple(s.robots.values()), at, self.travel, self.docks))
        return new

    # ---- events --------------------------------------------------------------------------------
    def handle(self, event: Event) -> Decision:
        """Apply ``event``, re-plan, commit next legs. Raises :class:`DispatchError` /
        :class:`scheduler.PlanningError` for an event that cannot apply (state unchanged)."""
        s = self._s
        at = max(s.now_s, int(event.at_s))
        alerts: list[RecoveryAlert] = []
        fast = False
        match event:
            case TaskAdded(task=task):
                if task.id in s.tasks:
                    raise DispatchError(f"task {task.id}: already open")
                # reject bad input before it enters the pool
                validate(Problem((*s.tasks.values(), task), tuple(s.robots.values()), at, self.travel, self.docks))
                s.tasks[task.id] = task
                fast = task.priority in self.fast_priorities
            case TaskCancelled(task_id=tid):
                self._task(tid)
                holder = self._carrier(tid)
                if holder is not None:
                    raise DispatchError(
                        f"task {tid}: cannot cancel, items are on board robot {holder} (deliver or recover them)"
                    )
                self._release_task(tid)
                del s.tasks[tid]
            case TaskPickedUp(task_id=tid, robot_id=rid):
                task = self._task(tid)
                robot = self._robot(rid)
                other = self._carrier(tid)
                if other is not None:
                    raise DispatchError(f"task {tid}: already on board robot {other}")
                self._release_task(tid, keep=(rid, StopKind.PICKUP))
                self._complete(rid, tid, StopKind.PICKUP)
                s.robots[rid] = dataclasses.replace(
                    robot, on_board=(*robot.on_board, tid), location=task.pickup, available_s=at
                )
            case TaskDelivered(task_id=tid, robot_id=rid):
                task = self._task(tid)
                robot = self._robot(rid)
                holder = self._carrier(tid)
                if holder is not None and holder != rid:
                    raise DispatchError(f"task {tid}: on board robot {holder}, not {rid}")
                self._complete(rid, tid, StopKind.DROPOFF)
                self._release_task(tid)
                s.robots[rid] = dataclasses.replace(
                    robot,
                    on_board=tuple(t for t in robot.on_board if t != tid),
                    location=task.dropoff,
                    available_s=at,
                )
                del s.tasks[tid]
            case RobotFault(robot_id=rid, reason=why) | RobotLost(robot_id=rid, reason=why):
                mode = RobotMode.FAULT if isinstance(event, RobotFault) else RobotMode.LOST
                alerts.extend(self._retire(rid, mode, at, why or mode.value))
            case RobotAvailable(robot=robot):
                prev = s.robots.get(robot.id)
                on_board = prev.on_board if prev is not None else robot.on_board
                for tid in on_board:
                    self._task(tid)
                s.commitments.pop(robot.id, None)
                mode = RobotMode.IDLE if robot.mode in (*UNAVAILABLE_MODES, RobotMode.CHARGING) else robot.mode
                s.robots[robot.id] = dataclasses.replace(robot, on_board=on_board, mode=mode)
            case RobotStateUpdate(robot=robot):
                prev = self._robot(robot.id)
                if robot.mode in UNAVAILABLE_MODES:
                    alerts.extend(self._retire(robot.id, robot.mode, at, f"reported {robot.mode.value}"))
                else:
                    fast = not self.full_replan_on_state_update
                    s.robots[robot.id] = dataclasses.replace(robot, on_board=prev.on_board)
                    commit = s.commitments.get(robot.id)
                    if robot.mode is RobotMode.CHARGING and commit and commit[0].kind is StopKind.CHARGE:
                        del s.commitments[robot.id]
            case _:
                raise DispatchError(f"unknown event {event!r}")
        s.now_s = at
        problem = self._problem()
        plan = self.policy.insert(problem, s.plan, self.seed) if fast else self.policy.plan(problem, s.plan, self.seed)
        return self._install(plan, tuple(alerts), replan_pending=fast)

    def replan(self, at_s: int | None = None) -> Decision:
        """A full re-plan now (after a fast-path decision, or periodically as ETAs drift)."""
        if at_s is not None:
            self._s.now_s = max(self._s.now_s, int(at_s))
        plan = self.policy.plan(self._problem(), self._s.plan, self.seed)
        return self._install(plan, ())

    def tick(self, at_s: int) -> Decision:
        """Let time pass: re-time the plan (fast path) and commit legs that fell due."""
        self._s.now_s = max(self._s.now_s, int(at_s))
        plan = self.policy.insert(self._problem(), self._s.plan, self.seed)
        return self._install(plan, ())

    def snapshot(self) -> tuple[Problem, Plan | None]:
        """The planning input as it is now (for a re-plan computed outside the dispatcher)."""
        return self._problem(), self._s.plan

    def adopt(self, plan: Plan) -> Decision:
        """Install a plan computed from an earlier :meth:`snapshot`, fitted to the state now."""
        fitted = self.policy.insert(self._problem(), plan, self.seed)
        return self._install(fitted, ())

    # ---- internals -----------------------------------------------------------------------------
    def _task(self, tid: str) -> DeliveryTask:
        try:
            return self._s.tasks[tid]
        except KeyError:
            raise DispatchError(f"task {tid}: not an open task") from None

    def _robot(self, rid: str) -> Robot:
        try:
            return self._s.robots[rid]
        except KeyError:
            raise DispatchError(f"robot {rid}: unknown robot") from None

    def _carrier(self, tid: str) -> str | None:
        return next((r.id for r in self._s.robots.values() if tid in r.on_board), None)

    def _release_task(self, tid: str, keep: tuple[str, StopKind] | None = None) -> None:
        """Drop ``tid``'s stops from every commitment (except ``keep`` = (robot, kind))."""
        s = self._s
        for rid, stops in list(s.commitments.items()):
            rest = tuple(st for st in stops if st.task_id != tid or (keep is not None and (rid, st.kind) == keep))
            if rest != stops:
                if rest:
                    s.commitments[rid] = rest
                else:
                    del s.commitments[rid]

    def _complete(self, rid: str, tid: str, kind: StopKind) -> None:
        s = self._s
        stops = s.commitments.get(rid)
        if not stops:
            return
        rest = tuple(st for st in stops if not (st.task_id == tid and st.kind is kind))
        if rest:
            s.commitments[rid] = rest
        else:
            del s.commitments[rid]

    def _retire(self, rid: str, mode: RobotMode, at: int, why: str) -> list[RecoveryAlert]:
        s = self._s
        robot = self._robot(rid)
        s.commitments.pop(rid, None)
        alerts = []
        if robot.on_board:
            alerts.append(RecoveryAlert(rid, robot.on_board, robot.location, at, why))
            for tid in robot.on_board:
                s.tasks.pop(tid, None)
        s.robots[rid] = dataclasses.replace(robot, mode=mode, on_board=())
        return alerts

    def _problem(self) -> Problem:
        """Planning snapshot: every robot starts where its committed leg ends.

        This runs on every event, for every robot, so a robot's planning view is cached (by the
        identity of its state and committed leg) and only its start time is brought up to now.
        """
        s = self._s
        now = s.now_s
        views = self._views
        planned_robots: list[Robot] = []
        for r in s.robots.values():
            stops = s.commitments.get(r.id)
            if not stops:
                if r.available_s >= now:
                    planned_robots.append(r)
                    continue
                base = r
            elif any(st.kind is StopKind.CHARGE for st in stops):
                continue  # on its way to charge: back with RobotAvailable
            else:
                hit = views.get(r.id)
                if hit is not None and hit[0] is r and hit[1] is stops:
                    base = hit[2]
                else:
                    base = self._leg_end_view(r, stops)
                    views[r.id] = (r, stops, base, None)
                if base.available_s >= now:
                    planned_robots.append(base)
                    continue
            hit = views.get(r.id)
            if hit is not None and hit[0] is r and hit[1] is stops and hit[3] is not None and hit[3].available_s == now:
                planned_robots.append(hit[3])
                continue
            view = _with_available(base, now)
            views[r.id] = (r, stops, base, view)
            planned_robots.append(view)
        committed_drops = {
            st.task_id for stops in s.commitments.values() for st in stops if st.kind is StopKind.DROPOFF
        }
        tasks = tuple(t for t in s.tasks.values() if t.id not in committed_drops)
        return Problem(tasks, tuple(planned_robots), now, self.travel, self.docks)

    def _leg_end_view(self, r: Robot, stops: tuple[Stop, ...]) -> Robot:
        """``r`` as it will be at the end of its committed leg ``stops`` (place, time, load, battery)."""
        on_board = list(r.on_board)
        here = r.location
        for st in stops:
            here = st.location
            if st.kind is StopKind.PICKUP and st.task_id not in on_board:
                on_board.append(st.task_id)  # type: ignore[arg-type]
            elif st.kind is StopKind.DROPOFF and st.task_id in on_board:
                on_board.remove(st.task_id)  # type: ignore[arg-type]
        last = stops[-1]
        free = last.departure_s if last.departure_s is not None else last.eta_s
        battery = max(0.0, r.battery_pct - r.consumption_pct_per_km * self._leg_metres(r, stops) / 1000)
        return dataclasses.replace(
            r, location=here, available_s=free, on_board=tuple(on_board), battery_pct=round(battery, 3)
        )

    def _install(self, plan: Plan, alerts: tuple[RecoveryAlert, ...], *, replan_pending: bool = False) -> Decision:
        s = self._s
        new: dict[str, tuple[Stop, ...]] = {}
        for route in plan.routes:
            robot = s.robots.get(route.robot_id)
            if robot is None or robot.mode in UNAVAILABLE_MODES:
                continue
            if route.robot_id in s.commitments or not route.stops:
                continue
            first = route.stops[0]
            if not self._due(robot, first):
                continue  # no need to set off yet: stays tentative, free for what comes up
            leg = [first]
            if first.kind is not StopKind.CHARGE:
                for st in route.stops[1:]:
                    prev_free = leg[-1].departure_s if leg[-1].departure_s is not None else leg[-1].eta_s
                    if st.location != first.location or st.kind is StopKind.CHARGE:
                        break
                    if st.eta_s > prev_free + self.commit_within_s:
                        break
                    leg.append(st)
            new[route.robot_id] = tuple(leg)
        s.commitments.update(new)
        full = self._merge(plan, new)
        s.plan = full
        return Decision(
            at_s=s.now_s,
            plan=full,
            commitments=dict(s.commitments),
            new_commitments=new,
            alerts=alerts,
            replan_pending=replan_pending,
        )

    def _due(self, robot: Robot, stop: Stop) -> bool:
        """Must the robot set off for ``stop`` within ``commit_within_s``? (charging: always)."""
        if stop.kind is StopKind.CHARGE:
            return True
        travel = 0
        if robot.location != stop.location:
            key = (robot.location, stop.location, robot.speed_mps)
            travel = self._pair_s.get(key, -1)
            if travel < 0:
                m = as_matrix(self.travel.matrix([robot.location, stop.location], robot.speed_mps))
                travel = self._pair_s[key] = int(m.seconds[m.index[robot.location], m.index[stop.location]])
        return stop.eta_s - travel <= self._s.now_s + self.commit_within_s

    def _leg_metres(self, robot: Robot, stops: tuple[Stop, ...]) -> int:
        hit = self._leg_m.get(robot.id)
        if hit is not None and hit[0] == robot.location and hit[1] is stops:
            return hit[2]
        here, metres = robot.location, 0
        for st in stops:
            metres += self.travel.metres(here, st.location) if here != st.location else 0
            here = st.location
        self._leg_m[robot.id] = (robot.location, stops, metres)
        return metres

    def _merge(self, plan: Plan, new: dict[str, tuple[Stop, ...]]) -> Plan:
        """The plan with older committed legs in front of the planned routes (which start where
        those legs end); for display, the twin and the next warm start."""
        s = self._s
        routes = []
        for route in plan.routes:
            committed = s.commitments.get(route.robot_id, ())
            robot = s.robots.get(route.robot_id)
            if not committed or route.robot_id in new or robot is None:
                routes.append(route)
                continue
            metres = route.distance_m + self._leg_metres(robot, committed)
            routes.append(RobotRoute(route.robot_id, committed + route.stops, metres))
        known = {r.robot_id for r in routes}
        for rid, committed in s.commitments.items():
            if rid not in known:
                routes.append(RobotRoute(rid, committed, self._leg_metres(s.robots[rid], committed)))
        return dataclasses.replace(plan, routes=tuple(routes))
