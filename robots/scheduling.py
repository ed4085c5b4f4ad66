"""Scheduler core: the store, the rolling dispatcher and the robots' legs, as plain Python.

The scheduler node (robots.nodes.scheduler_node) is a thin shell over :class:`SchedulerCore`:
it feeds it robot states, custody events, leg results, lost/back robots, store polls and the
Submit/Cancel services, and sends the :class:`LegOrder` s it returns as ExecuteLeg goals.

The store is the system of record. Every change is written there first; the dispatcher
(``scheduler.Dispatcher``) is a cache that can always be rebuilt from the store and the robots'
states (:meth:`SchedulerCore.rebuild`), which is what a restarted node does.

Legs. The dispatcher commits each robot's next leg; the core sends it when the robot is idle,
once (a commitment already sent is never re-sent). A leg id names its stops
(``<nonce>/p:T1+d:T1`` — pickups ``p``, drop-offs ``d``, charge ``c`` with the dock; ids
percent-encoded), so a restarted scheduler reads from each robot's published state which leg it
is driving and *adopts* it: the robot is planned as if the leg were done (at its last stop, its
pickups on board, its drop-offs delivered) and gets nothing new until the leg ends; if the leg
ended otherwise than planned (a failed hand-over...) the dispatcher is rebuilt from the store.
Only legs unknown to this process are adopted. A full re-plan (:meth:`SchedulerCore.rebuild`)
also plans the legs this core sent as if done, and the robot's state showing one over frees the
robot the same way, but such a leg keeps its identity: its result, whether it arrives before or
after that state, is judged by :func:`leg_end` and counted once (see below).

Revoked legs. A leg cancelled because its robot was declared lost (or because another robot
took custody of one of its tasks) is *revoked*: it leaves the plan at once, is never adopted, and
the robot counts as busy until a state report newer than the revocation shows it off that leg (or
its result comes). A cancel is a single goal request that can be lost while the robot is
unreachable, so it is sent again when the robot is back and on each of its state reports that
still show the leg (at most every ``cancel_retry_s``, ``max_cancel_resends`` times). A revoked
leg's hand-overs are still facts: they are recorded as the robot reports them, and a LOADED or
DELIVERED the plan did not expect (a lost robot, a task planned for another robot) revokes the
other robots' legs that would still pick that task up and rebuilds the dispatcher from the store
and the robots' states, so the task is planned on the robot that holds it.

Why a leg ended (:class:`LegEnd`, judged by :func:`leg_end`). Only a leg the robot could not
finish (no hand-over, lift, drawer locked out, battery...) counts against the tasks it left
unfinished; a task is failed after ``max_leg_failures`` of those (or at once when its drawer
locked out). A leg cancelled -- by the core because one of its tasks was cancelled (staff through
the store, or CancelTask), or reported cancelled by the robot -- and a revoked leg are nobody's
failure, nor is a leg refused at its start: their other tasks go back to the pool uncounted.

Idempotency. Custody events are replayed to a restarted consumer (transient-local): each is
written once (key: robot, task, kind, campus second, drawer; seeded from the store at start), a
status moves only forward, and dispatcher events that no longer apply are ignored.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import quote, unquote

from hospital_ops.campus import Campus, LocationKind, TravelMatrix
from hospital_ops.domain import (
    Capability,
    CustodyEvent,
    CustodyKind,
    DeliveryTask,
    Robot,
    RobotMode,
    Stop,
    StopKind,
    TaskStatus,
    station_badge,
)
from hospital_ops.store import Store, TaskRecord
from hospital_ops.store.errors import IllegalTransitionError, NotFoundError, StoreError
from robots.credentials import is_pin_hash
from robots.driver_core import LegOutcome, LegStop, RobotSnapshot
from robots.store_access import task_credentials
from scheduler import (
    Dispatcher,
    DispatchError,
    DispatchPolicy,
    PlanningError,
    RobotFault,
    RobotLost,
    RobotStateUpdate,
    TaskAdded,
    TaskCancelled,
    TaskDelivered,
    TaskPickedUp,
    ZonedDispatcher,
    plan_zones,
)
from scheduler.dispatcher import Decision, RobotAvailable

log = logging.getLogger(__name__)

#: Store alert kind recording a revoked leg until it is over (read back after a restart).
REVOKED_ALERT = "robot.leg_revoked"

#: (pin_hash, badges) that open a task's drawer at one stop (badges: argon2 hashes or station credentials).
Credentials = tuple[str, frozenset[str]]
#: (task id, stop kind) → the credentials of that stop; by default read from the store.
CredentialsSource = Callable[[str, StopKind], Credentials]
_KIND_CODE = {StopKind.PICKUP: "p", StopKind.DROPOFF: "d", StopKind.CHARGE: "c"}
_CODE_KIND = {v: k for k, v in _KIND_CODE.items()}


# ---- leg ids -----------------------------------------------------------------------------------
def encode_leg_id(nonce: str, stops: Iterable[Stop]) -> str:
    """``<nonce>/p:T1+d:T2+c:DOCK``: the leg's stops, readable back with :func:`decode_leg_id`."""
    if not nonce or "/" in nonce:
        raise ValueError(f"nonce: must be non-empty without '/', got {nonce!r}")
    parts = []
    for st in stops:
        ref = st.location if st.kind is StopKind.CHARGE else (st.task_id or "")
        parts.append(f"{_KIND_CODE[st.kind]}:{quote(ref, safe='')}")
    if not parts:
        raise ValueError("stops: a leg needs at least one stop")
    return f"{nonce}/{'+'.join(parts)}"


def decode_leg_id(leg_id: str) -> list[tuple[StopKind, str]] | None:
    """The (kind, task id — or dock for a charge stop) of each stop; None if not one of ours."""
    nonce, sep, body = leg_id.partition("/")
    if not sep or not nonce or not body:
        return None
    out = []
    for part in body.split("+"):
        code, sep, ref = part.partition(":")
        kind = _CODE_KIND.get(code)
        if kind is None or not sep or not ref:
            return None
        out.append((kind, unquote(ref)))
    return out


# ---- plain records -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LegOrder:
    """An ExecuteLeg goal to send: the robot, the leg id, the stops with their drawer credentials."""

    robot_id: str
    leg_id: str
    stops: tuple[LegStop, ...]
    #: The planned stops (ETAs) as the dispatcher committed them.
    planned: tuple[Stop, ...]


@dataclass(frozen=True, slots=True)
class LegReport:
    """What a robot said when a leg ended (the ExecuteLeg result)."""

    robot_id: str
    leg_id: str
    outcome: LegOutcome
    reason: str = ""
    loaded: tuple[str, ...] = ()
    delivered: tuple[str, ...] = ()


class LegEnd(Enum):
    """Why a leg ended, as the core judges it (:func:`leg_end`); only FAILED counts against its tasks."""

    #: Every stop done.
    DONE = "done"
    #: The robot could not finish it (no hand-over, lift, drawer locked out, battery empty...).
    FAILED = "failed"
    #: Refused at the start (goal rejected, robot busy, bad stops): our bookkeeping was behind the robot.
    REFUSED = "refused"
    #: Cancelled: the core asked (one of its tasks was cancelled), or the robot reports it cancelled.
    CANCELLED = "cancelled"
    #: Revoked: taken out of the plan by the core (its robot declared lost, a task taken by another robot).
    REVOKED = "revoked"

    @property
    def counts_as_failure(self) -> bool:
        """Does this end count against the tasks the leg left unfinished (``max_leg_failures``)?"""
        return self is LegEnd.FAILED


#: Reasons of a leg refused at its start (robots.driver_core.LegRejected, a goal the robot rejected).
_REFUSED_PREFIXES = ("stops", "robot ", "goal rejected", "leg_id")


def leg_end(report: LegReport, *, cancel_asked: bool = False, revoked: bool = False) -> LegEnd:
    """Why the leg of ``report`` ended: ``revoked`` (the core took it out of the plan) first, then the
    robot's own word (DONE, CANCELLED), a refusal at the start, then ``cancel_asked`` (the core asked
    to cancel it: a robot that reports a cancelled goal as failed, or whose leg failed in the moment
    before the cancel arrived, still ended it because of the cancel), and only then FAILED."""
    if revoked:
        return LegEnd.REVOKED
    match report.outcome:
        case LegOutcome.DONE:
            return LegEnd.DONE
        case LegOutcome.CANCELLED:
            return LegEnd.CANCELLED
    if report.reason.startswith(_REFUSED_PREFIXES):
        return LegEnd.REFUSED
    if cancel_asked:
        return LegEnd.CANCELLED
    return LegEnd.FAILED


@dataclass
class _Leg:
    leg_id: str
    #: (kind, task id or dock) per stop.
    stops: list[tuple[StopKind, str]]
    #: Found running on the robot, unknown to this process (after a restart): no result will come.
    adopted: bool = False
    #: Planned as if already done (after a rebuild / restart); ends are checked against the robot.
    planned_done: bool = False
    #: The robot's state has shown this leg running.
    seen_running: bool = False

    def tasks(self, kind: StopKind) -> list[str]:
        return [ref for k, ref in self.stops if k is kind]


@dataclass(frozen=True, slots=True)
class _AwaitingResult:
    """A leg this core sent, seen over in the robot's state before its result arrived."""

    robot_id: str
    leg: _Leg
    #: Why the core had asked to cancel it, if it had (see ``SchedulerCore._cancel_asked``).
    cancel_asked: str | None


#: Legs seen over whose result has not come are remembered at most this many at a time (oldest dropped).
_MAX_AWAITING_RESULTS = 256


@dataclass
class _Revoked:
    """A leg taken out of the plan and cancelled, until the robot is seen off it."""

    robot_id: str
    leg: _Leg
    why: str
    #: Campus second of the revocation: only a state at least this recent shows the leg over.
    at_s: int
    #: Wall time (real seconds) of the last cancel sent.
    sent_wall: float
    resends: int = 0
    #: The store alert that records the revocation (acknowledged when the leg is over).
    alert_id: int | None = None


@dataclass
class Outcome:
    """What one call changed: goals to send, goals to cancel, notes for the log."""

    orders: list[LegOrder] = field(default_factory=list)
    #: (robot id, leg id) of goals to cancel.
    cancels: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: Outcome) -> Outcome:
        self.orders.extend(other.orders)
        self.cancels.extend(other.cancels)
        self.notes.extend(other.notes)
        return self


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    actor: str = "scheduler"
    #: What every robot of the fleet can carry (the simulated ones have locked drawers and a cold box).
    capabilities: frozenset[Capability] = frozenset({Capability.LOCKED_DRAWERS, Capability.COLD_BOX})
    consumption_pct_per_km: float = 4.0
    min_battery_pct: float = 20.0
    #: Feed a robot's state to the dispatcher at most this often (real seconds) unless its mode changes.
    state_period_s: float = 5.0
    #: Legs of a task that may fail (hand-over timeout, lift...) before the task is failed; legs
    #: cancelled or revoked do not count (see :class:`LegEnd`).
    max_leg_failures: int = 3
    #: Look-back of the store poll (concurrent writers commit a little out of timestamp order).
    poll_lookback_s: float = 5.0
    seed: int = 0
    commit_within_s: int = 120
    #: A revoked leg still reported running gets its cancel again at most this often (real seconds)...
    cancel_retry_s: float = 1.0
    #: ...and at most this many times (then it is left to end on its own; it stays out of the plan).
    max_cancel_resends: int = 20
    #: Fleets of about 1.5× this many robots or more are planned in dispatch zones (tower groups,
    #: ``scheduler.zones``), as the twin does; 0 = one dispatcher for the whole fleet.
    robots_per_zone: int = 20

    def __post_init__(self) -> None:
        if self.cancel_retry_s < 0:
            raise ValueError(f"cancel_retry_s: must not be negative, got {self.cancel_retry_s}")
        if self.robots_per_zone < 0:
            raise ValueError(f"robots_per_zone: must not be negative, got {self.robots_per_zone}")
        if self.max_cancel_resends < 0:
            raise ValueError(f"max_cancel_resends: must not be negative, got {self.max_cancel_resends}")
        if self.state_period_s < 0:
            raise ValueError(f"state_period_s: must not be negative, got {self.state_period_s}")
        if self.max_leg_failures < 1:
            raise ValueError(f"max_leg_failures: must be at least 1, got {self.max_leg_failures}")


def persist_submission(store: Store, task: DeliveryTask, pin_hash: str, badges: frozenset[str], *, actor: str) -> None:
    """A task submitted over ROS into the store, with the PIN hash and the badges it came with (the
    store keeps an argon2 hash of each badge, so a restarted scheduler still has them; thread-safe:
    touches only the store). Raises ValueError / store errors naming the field."""
    if not pin_hash and not badges:
        raise ValueError("pin_hash: a task needs a PIN hash or badges, or its drawer could never open")
    if pin_hash and not is_pin_hash(pin_hash):
        raise ValueError("pin_hash: not an argon2id hash (never send the PIN itself)")
    store.add_task(
        task, actor=actor, pin_hash=pin_hash or None, badges=sorted(badges) or None, reason="submitted over ROS"
    )


def planning_location(campus: Campus, node: str) -> str:
    """A campus location the planner knows for where a robot stands: ``node`` itself, or for a lift
    lobby ``BUILDING@FLOOR`` (where a leg cancelled mid-route may leave a robot) the location on
    that floor nearest the lobby (the building's origin), else the building's or any location."""
    if node in campus.locations or "@" not in node:
        return node
    bid, _, floor = node.partition("@")
    building = campus.buildings.get(bid)
    if building is None:
        return node
    ox, oy = building.origin
    same_building = [loc for loc in campus.locations.values() if loc.building == bid]
    candidates = [loc for loc in same_building if loc.floor == floor] or same_building
    if not candidates:
        return node
    return min(candidates, key=lambda loc: ((loc.x - ox) ** 2 + (loc.y - oy) ** 2, loc.id)).id


def robot_from_snapshot(
    snap: RobotSnapshot, config: SchedulerConfig, mode: RobotMode | None = None, campus: Campus | None = None
) -> Robot:
    """The planner's view of a robot from its published state (with ``campus``, a robot standing at a
    lift lobby is placed at the nearest location, see :func:`planning_location`)."""
    return Robot(
        id=snap.robot_id,
        location=snap.location if campus is None else planning_location(campus, snap.location),
        available_s=int(snap.at_s),
        capacity_units=max(1, len(snap.drawers)),
        capabilities=config.capabilities,
        speed_mps=snap.speed_mps if snap.speed_mps > 0 else 1.0,
        battery_pct=max(0.0, min(100.0, snap.battery_pct)),
        consumption_pct_per_km=config.consumption_pct_per_km,
        min_battery_pct=config.min_battery_pct,
        mode=mode or snap.mode,
        on_board=snap.on_board,
    )


class _CampusTravel:
    """The campus as the dispatcher's ``scheduler.travel.TravelTimes``: the same locations, travel
    times and (cached) matrices; only adapts ``matrix`` to take any sequence of points."""

    def __init__(self, campus: Campus) -> None:
        self.campus = campus
        self.locations: Mapping[str, Any] = campus.locations

    def seconds(self, a: str, b: str) -> int:
        return self.campus.seconds(a, b)

    def metres(self, a: str, b: str) -> int:
        return self.campus.metres(a, b)

    def matrix(self, points: Sequence[str], speed_mps: float = 1.0) -> TravelMatrix:
        return self.campus.matrix(tuple(points), speed_mps)


class SchedulerCore:
    """See the module doc. Not thread-safe: the node serialises every call."""

    def __init__(
        self,
        store: Store,
        campus: Campus,
        *,
        policy: DispatchPolicy,
        clock: Callable[[], float],
        credentials: CredentialsSource | None = None,
        config: SchedulerConfig | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.campus = campus
        self.policy = policy
        self.config = config or SchedulerConfig()
        self._clock = clock
        self._wall = wall
        self._credentials: CredentialsSource = credentials or (lambda tid, kind: task_credentials(store, tid, kind))
        self._docks = tuple(loc.id for loc in campus.by_kind(LocationKind.DOCK))
        self._disp: Dispatcher | ZonedDispatcher | None = None
        self._snaps: dict[str, RobotSnapshot] = {}
        self._fed: dict[str, tuple[float, RobotMode]] = {}
        self._lost: set[str] = set()
        self._inflight: dict[str, _Leg] = {}
        #: Leg id → a leg revoked (cancelled, out of the plan) whose end has not been seen yet.
        self._revoked: dict[str, _Revoked] = {}
        #: Revoked legs seen over (a robot that accepts the goal after its cancel could start it yet).
        self._revoked_over: dict[str, _Revoked] = {}
        self._sent: dict[str, tuple[Stop, ...]] = {}
        #: Leg id → why the core asked to cancel that leg (still in flight, not revoked).
        self._cancel_asked: dict[str, str] = {}
        #: Legs known to have ended (results, or seen ending): a stale state showing one is not "busy".
        self._ended: set[str] = set()
        #: Leg id → a leg this core sent, planned as done by a rebuild, seen over before its result.
        self._awaiting_result: dict[str, _AwaitingResult] = {}
        self._seen_custody: set[tuple[str, str, str, int, int]] = set()
        self._known: dict[str, TaskStatus] = {}
        self._failures: Counter[str] = Counter()
        self._since: datetime | None = None
        self._seq = itertools.count(1)
        self._nonce_base = f"{int(time.time() * 1000) % 10**9:x}"
        self.replan_pending = False
        self._rebuilding = False
        for ev in store.custody_events():
            self._seen_custody.add(self._custody_key(ev))
        self._load_revoked()

    # ---- views --------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._disp is not None

    @property
    def dispatcher(self) -> Dispatcher | ZonedDispatcher | None:
        return self._disp

    def inflight(self) -> dict[str, str]:
        """Robot id → leg id of every leg sent or adopted and not ended."""
        return {rid: leg.leg_id for rid, leg in self._inflight.items()}

    def adopted(self) -> dict[str, str]:
        """Robot id → leg id of the legs taken over from the robots' states (not sent by this core)."""
        return {rid: leg.leg_id for rid, leg in self._inflight.items() if leg.adopted and leg.seen_running}

    def revoked(self) -> dict[str, str]:
        """Leg id → robot id of the legs cancelled and taken out of the plan, not yet seen ending."""
        return {leg_id: rv.robot_id for leg_id, rv in self._revoked.items()}

    def leg_failures(self) -> dict[str, int]:
        """Task id → legs that failed with it unfinished (cancelled and revoked legs not counted)."""
        return {tid: n for tid, n in self._failures.items() if n}

    def now_s(self) -> int:
        return int(self._clock())

    # ---- start / rebuild ----------------------------------------------------------------------
    def start(self) -> Outcome:
        """Build the dispatcher from the store and the robot states heard so far (adopting legs)."""
        self._since = datetime.now(UTC) - timedelta(seconds=self.config.poll_lookback_s)
        return self.rebuild("start")

    def _new_dispatcher(self, robots: list[Robot], now: int) -> Dispatcher | ZonedDispatcher:
        """One dispatcher, or one per dispatch zone (``scheduler.zones``) once the fleet is large
        enough for ``robots_per_zone`` to make two zones: the same zoning the twin plans with."""
        travel = _CampusTravel(self.campus)
        kwargs: dict[str, Any] = {
            "policy": self.policy,
            "now_s": now,
            "seed": self.config.seed,
            "commit_within_s": self.config.commit_within_s,
        }
        if self.config.robots_per_zone and robots:
            zoning = plan_zones(self.campus, robots, robots_per_zone=self.config.robots_per_zone, docks=self._docks)
            if len(zoning.zones) > 1:
                return ZonedDispatcher.build(zoning, travel, robots, whole_decisions=True, **kwargs)
        return Dispatcher(travel, robots, docks=self._docks, **kwargs)

    def rebuild(self, why: str) -> Outcome:
        self._rebuilding = True
        try:
            return self._rebuild(why)
        finally:
            self._rebuilding = False

    def _rebuild(self, why: str) -> Outcome:
        out = Outcome(notes=[f"rebuilding the dispatcher ({why})"])
        now = self.now_s()
        # legs running on robots that we did not send (or sent before a restart): adopt them
        for rid, snap in self._snaps.items():
            if rid in self._lost or not self._running_leg(snap) or snap.leg_id in self._revoked:
                continue  # a revoked leg is never adopted: its tasks may be planned for another robot
            leg = self._inflight.get(rid)
            if leg is None or leg.leg_id != snap.leg_id:
                stops = decode_leg_id(snap.leg_id)
                self._inflight[rid] = _Leg(snap.leg_id, stops or [], adopted=True, seen_running=True)
                out.notes.append(f"adopted leg {snap.leg_id} of {rid}")
        # every leg in flight is planned as if done; those this core sent keep their identity
        # (not adopted): their results still come and are judged by leg_end
        for leg in self._inflight.values():
            leg.planned_done = True
        records = {r.id: r for r in self.store.open_tasks()}
        for tid, rec in records.items():
            self._known[tid] = rec.status
        # on board: what the robot's state shows loaded, and what the custody events said was loaded
        # (the state may be a moment older than the LOADED event)
        loaded_by = {
            t: rid for rid, s in self._snaps.items() if rid not in self._lost for t in s.on_board if t in records
        }
        for tid, rec in records.items():
            holder = rec.robot_id
            if rec.status is not TaskStatus.PICKED_UP or tid in loaded_by or holder not in self._snaps:
                continue
            if holder in self._lost:
                continue
            # the store says on board but the robot's state does not: trust whichever is newer
            # (a state newer than the LOADED event means it was delivered; that event is on its way)
            loaded_at = max(
                (e.at_s for e in self.store.custody_events(task_id=tid, kind=CustodyKind.LOADED)), default=0
            )
            # (custody events carry whole campus seconds: a state of the same second is not newer)
            if int(self._snaps[holder].at_s) <= loaded_at:
                loaded_by[tid] = holder
        dropping = {t for leg in self._inflight.values() for t in leg.tasks(StopKind.DROPOFF)}
        tasks: dict[str, DeliveryTask] = {}
        for tid, rec in records.items():
            if rec.status is TaskStatus.PICKED_UP and tid not in loaded_by:
                continue  # on a lost robot (alert raised) or its DELIVERED event is on its way
            if tid in dropping:
                continue  # being delivered by a running leg
            tasks[tid] = rec.task
        robots: list[Robot] = []
        for rid, snap in self._snaps.items():
            if rid in self._lost:
                continue
            robot = robot_from_snapshot(snap, self.config, campus=self.campus)
            on_board = [t for t, holder in loaded_by.items() if holder == rid and t in tasks]
            leg = self._inflight.get(rid)
            if leg is not None:
                if not leg.stops:
                    continue  # a leg we cannot read: leave the robot out until it ends
                last_kind, last_ref = leg.stops[-1]
                location = self._stop_location(last_kind, last_ref, records) or robot.location
                for t in leg.tasks(StopKind.PICKUP):
                    if t in tasks and t not in on_board:
                        on_board.append(t)
                on_board = [t for t in on_board if t not in leg.tasks(StopKind.DROPOFF)]
                service = sum(
                    tasks[t].service_s if t in tasks else 60 for k, t in leg.stops if k is not StopKind.CHARGE
                )
                robot = dataclasses.replace(
                    robot,
                    location=location,
                    available_s=now + (snap.leg_eta_s or 0) + service,
                    mode=RobotMode.BUSY,
                )
            units = sum(tasks[t].units for t in on_board)
            robot = dataclasses.replace(
                robot, on_board=tuple(on_board), capacity_units=max(robot.capacity_units, units)
            )
            if robot.mode is RobotMode.FAULT:
                on_board_ids = set(robot.on_board)
                for t in list(tasks):
                    if t in on_board_ids:
                        del tasks[t]
                robot = dataclasses.replace(robot, on_board=())
            robots.append(robot)
        self._disp = self._new_dispatcher(robots, now)
        if isinstance(self._disp, ZonedDispatcher):
            out.notes.append(
                "dispatch zones: "
                + "; ".join(f"{z.id} ({' '.join(z.buildings)}): {' '.join(z.robots)}" for z in self._disp.zoning.zones)
            )
        self._sent.clear()
        self._fed = {r.id: (self._wall(), r.mode) for r in robots}
        try:
            decision = self._disp.load(tasks.values(), at_s=now)
        except (DispatchError, PlanningError) as exc:
            out.notes.append(f"loading all open tasks failed ({exc}); loading them one by one")
            decision = self._disp.replan(now)
            for task in tasks.values():
                try:
                    decision = self._disp.handle(TaskAdded(task, now))
                except (DispatchError, PlanningError) as exc2:
                    self._fail(task.id, f"cannot be planned: {exc2}", out)
        return out.extend(self._apply(decision))

    # ---- inputs ---------------------------------------------------------------------------------
    def on_robot_state(self, snap: RobotSnapshot) -> Outcome:
        rid = snap.robot_id
        prev = self._snaps.get(rid)
        if prev is not None and snap.at_s < prev.at_s:
            return Outcome()  # late or replayed
        self._snaps[rid] = snap
        out = Outcome()
        self._check_revoked(snap, out)
        if self._disp is None or rid in self._lost:
            return out
        leg = self._inflight.get(rid)
        if leg is not None and snap.leg_id == leg.leg_id:
            leg.seen_running = True
        elif leg is not None and leg.planned_done and leg.seen_running and snap.leg_id != leg.leg_id:
            del self._inflight[rid]
            self._ended.add(leg.leg_id)
            asked = self._cancel_asked.pop(leg.leg_id, None)
            if not leg.adopted:  # one we sent: its result is still to come, and judged then
                self._await_result(_AwaitingResult(rid, leg, asked))
            return out.extend(self._adopted_leg_ended(rid, leg, snap))
        if rid not in self._disp.robots:
            return out.extend(self.rebuild(f"new robot {rid}"))
        known = self._disp.robots[rid]
        mode_now = snap.mode
        last_t, last_mode = self._fed.get(rid, (-1e18, known.mode))
        if mode_now is RobotMode.FAULT and known.mode is not RobotMode.FAULT:
            if (faulted := self._inflight.pop(rid, None)) is not None:
                self._cancel_asked.pop(faulted.leg_id, None)
            self._fed[rid] = (self._wall(), mode_now)
            return out.extend(self._handle(RobotFault(rid, self.now_s(), "robot reports fault")))
        if known.mode in (RobotMode.FAULT, RobotMode.LOST, RobotMode.CHARGING) and mode_now is RobotMode.IDLE:
            self._fed[rid] = (self._wall(), mode_now)
            if known.mode is RobotMode.CHARGING:
                robot = robot_from_snapshot(snap, self.config, campus=self.campus)
                return out.extend(self._handle(RobotAvailable(robot, self.now_s())))
            return out.extend(self.rebuild(f"robot {rid} available again"))
        due = self._wall() - last_t >= self.config.state_period_s or mode_now is not last_mode
        if due and rid not in self._inflight and not self._running_leg(snap):
            self._fed[rid] = (self._wall(), mode_now)
            robot = robot_from_snapshot(snap, self.config, campus=self.campus)
            return out.extend(self._handle(RobotStateUpdate(robot, self.now_s())))
        return out.extend(self._dispatch())

    def on_custody(self, ev: CustodyEvent) -> Outcome:
        """A hand-over: written once to the store (status moved forward), then told to the dispatcher."""
        out = Outcome()
        key = self._custody_key(ev)
        if key in self._seen_custody:
            return out
        try:
            rec = self.store.get_task(ev.task_id)
        except NotFoundError:
            out.notes.append(f"custody event for unknown task {ev.task_id} ignored")
            self._seen_custody.add(key)
            return out
        transition: TaskStatus | None = None
        if ev.kind is CustodyKind.LOADED and rec.status in (TaskStatus.REQUESTED, TaskStatus.PLANNED):
            if rec.status is TaskStatus.REQUESTED:
                self.store.transition_task(
                    ev.task_id, TaskStatus.PLANNED, actor=self.config.actor, reason="loaded", robot_id=ev.robot_id
                )
            transition = TaskStatus.PICKED_UP
        elif ev.kind is CustodyKind.DELIVERED and rec.status is TaskStatus.PICKED_UP:
            transition = TaskStatus.DELIVERED
        try:
            self.store.record_custody(ev, transition=transition)
        except (IllegalTransitionError, StoreError) as exc:
            out.notes.append(f"custody {ev.kind.value} of {ev.task_id}: {exc}")
            self.store.record_custody(ev)
        self._seen_custody.add(key)
        if transition is not None:
            self._known[ev.task_id] = transition
        if ev.kind not in (CustodyKind.LOADED, CustodyKind.DELIVERED):
            return out
        # the items are with ev.robot_id now: no other robot may still drive to pick them up
        revoked = False
        for rid, leg in list(self._inflight.items()):
            if rid != ev.robot_id and ev.task_id in leg.tasks(StopKind.PICKUP):
                self._revoke(rid, leg, f"task {ev.task_id} {ev.kind.value} by {ev.robot_id}", out)
                revoked = True
        if self._disp is None:
            return out
        planned_for = self._disp.plan.robot_for(ev.task_id) if self._disp.plan is not None else None
        if revoked or ev.robot_id in self._lost or planned_for not in (None, ev.robot_id):
            # a hand-over the plan did not expect (a revoked leg driven on, a robot declared lost):
            # the store has the truth now; plan from it
            why = f"{ev.kind.value} of {ev.task_id} by {ev.robot_id} was not planned"
            return out.extend(self.rebuild(why))
        now = max(self.now_s(), ev.at_s)
        if ev.kind is CustodyKind.LOADED:
            return out.extend(self._handle(TaskPickedUp(ev.task_id, ev.robot_id, now), quiet=True))
        if ev.kind is CustodyKind.DELIVERED:
            return out.extend(self._handle(TaskDelivered(ev.task_id, ev.robot_id, now), quiet=True))
        return out

    def on_leg_result_lost(self, robot_id: str, leg_id: str) -> Outcome:
        """The result of a leg this core sent will never come (the action server died, the
        result request failed). Rebuild: the leg is then planned as done, and the robot's state
        showing it over frees the robot (its hand-overs are known from custody events); without
        this the robot would wait for that result forever and never get another leg."""
        leg = self._inflight.get(robot_id)
        if leg is None or leg.leg_id != leg_id:
            return Outcome()  # its result came after all, or the leg was already dealt with
        return self.rebuild(f"the result of leg {leg_id} of {robot_id} was lost")

    def on_leg_result(self, report: LegReport) -> Outcome:
        out = Outcome()
        leg = self._inflight.get(report.robot_id)
        if report.leg_id in self._revoked:
            # a revoked leg ended (its hand-overs came as custody events): the robot is free again;
            # whatever the robot says, that is nobody's failure (LegEnd.REVOKED)
            self._forget_revoked(report.leg_id)
            out.notes.append(f"revoked leg {report.leg_id} of {report.robot_id} ended: {report.outcome.name.lower()}")
            return out.extend(self._dispatch())
        late = self._awaiting_result.get(report.leg_id)
        if late is not None and late.robot_id == report.robot_id:
            del self._awaiting_result[report.leg_id]  # judged once: a repeated result finds nothing
            return out.extend(self._late_result(late, report))
        if leg is None or leg.leg_id != report.leg_id:
            return out  # already handled (a result repeated, a leg of a robot that faulted...)
        del self._inflight[report.robot_id]
        self._ended.add(report.leg_id)
        asked = self._cancel_asked.pop(report.leg_id, None)
        end = leg_end(report, cancel_asked=asked is not None)
        if end is LegEnd.DONE:
            if self._disp is not None and not leg.planned_done:
                now = self.now_s()
                for tid in report.loaded:
                    out.extend(self._handle(TaskPickedUp(tid, report.robot_id, now), quiet=True))
                for tid in report.delivered:
                    out.extend(self._handle(TaskDelivered(tid, report.robot_id, now), quiet=True))
            return out.extend(self._dispatch())
        said = report.outcome.name.lower()
        if end is LegEnd.FAILED:
            out.notes.append(f"leg {report.leg_id} of {report.robot_id} failed: {report.reason}")
        else:
            why = f"; cancel asked: {asked}" if asked is not None else ""
            out.notes.append(
                f"leg {report.leg_id} of {report.robot_id} {end.value} (robot: {said} {report.reason}{why});"
                " its tasks go back to the pool, no failure counted"
            )
        self._leg_failed(leg, end, report, out)
        return out.extend(self.rebuild(f"leg of {report.robot_id} {end.value}"))

    def on_robot_lost(self, robot_id: str) -> Outcome:
        out = Outcome()
        if robot_id in self._lost:
            return out
        self._lost.add(robot_id)
        leg = self._inflight.get(robot_id)
        if leg is not None:
            # its unpicked tasks are about to go to another robot: if it was only silent (not dead)
            # it must not drive on to those pickups as well (the cancel is sent again when it is back)
            self._revoke(robot_id, leg, "robot lost", out)
        self._sent.pop(robot_id, None)
        if self._disp is None or robot_id not in self._disp.robots:
            return out
        out.notes.append(f"robot {robot_id} lost: its unpicked tasks go back to the pool")
        return out.extend(self._handle(RobotLost(robot_id, self.now_s(), "no heartbeat")))

    def on_robot_back(self, robot_id: str) -> Outcome:
        if robot_id not in self._lost:
            return Outcome()
        self._lost.discard(robot_id)
        out = Outcome()
        # the cancels sent while it was unreachable may never have arrived: send them again now
        for leg_id, rv in self._revoked.items():
            if rv.robot_id == robot_id:
                self._resend_cancel(leg_id, rv, out)
        if self._disp is None:
            return out
        return out.extend(self.rebuild(f"robot {robot_id} is back"))

    def poll_store(self) -> Outcome:
        """New and cancelled tasks written by others (the REST API, another scheduler's submit)."""
        out = Outcome()
        if self._since is None:
            return out
        lookback = timedelta(seconds=self.config.poll_lookback_s)
        records = self.store.tasks_changed_since(self._since - lookback)
        if records:
            self._since = max(self._since, max(r.updated_at for r in records))
        for rec in records:
            tid = rec.id
            known = self._known.get(tid)
            if known is None:
                self._known[tid] = rec.status
                if not rec.status.terminal:
                    out.extend(self._intake(rec.task))
                continue
            if rec.status is known:
                continue
            self._known[tid] = rec.status
            if rec.status in (TaskStatus.CANCELLED, TaskStatus.FAILED) and not known.terminal:
                out.extend(self._drop_task(tid, rec.status.value))
        return out

    def persist_submission(self, task: DeliveryTask, pin_hash: str, badges: frozenset[str], *, actor: str) -> None:
        """SubmitTask, first half (see :func:`persist_submission`); then :meth:`intake`."""
        persist_submission(self.store, task, pin_hash, badges, actor=actor or self.config.actor)
        self._known[task.id] = TaskStatus.REQUESTED

    def intake(self, task: DeliveryTask) -> Outcome:
        """Plan a task already in the store (a second intake of the same task does nothing)."""
        self._known.setdefault(task.id, TaskStatus.REQUESTED)
        return self._intake(task)

    def cancelled(self, task_id: str) -> Outcome:
        """A task the caller already moved to CANCELLED in the store leaves the plan."""
        self._known[task_id] = TaskStatus.CANCELLED
        return self._drop_task(task_id, "cancelled")

    def submit(self, task: DeliveryTask, pin_hash: str, badges: frozenset[str], *, actor: str) -> Outcome:
        """Both halves of SubmitTask at once."""
        self.persist_submission(task, pin_hash, badges, actor=actor)
        return self._intake(task)

    def cancel(self, task_id: str, reason: str, *, actor: str) -> Outcome:
        """CancelTask: refused (IllegalTransitionError) once the items are on board."""
        self.store.transition_task(task_id, TaskStatus.CANCELLED, actor=actor or self.config.actor, reason=reason)
        self._known[task_id] = TaskStatus.CANCELLED
        return self._drop_task(task_id, "cancelled")

    def tick(self) -> Outcome:
        """Let time pass: legs that fell due are committed; a pending full re-plan is run."""
        if self._disp is None:
            return Outcome()
        now = self.now_s()
        try:
            if self.replan_pending:
                self.replan_pending = False
                return self._apply(self._disp.replan(now))
            return self._apply(self._disp.tick(now))
        except (DispatchError, PlanningError) as exc:
            return self.rebuild(f"the dispatcher's state did not plan ({exc})")

    # ---- internals -------------------------------------------------------------------------------
    def _revoke(self, rid: str, leg: _Leg, why: str, out: Outcome) -> None:
        """Take ``leg`` out of the plan and cancel it; the robot is busy until it is seen off it."""
        if self._inflight.get(rid) is leg:
            del self._inflight[rid]
        self._sent.pop(rid, None)
        self._cancel_asked.pop(leg.leg_id, None)  # its end is REVOKED now
        alert_id = self._record_revoked(rid, leg.leg_id, why)
        self._revoked[leg.leg_id] = _Revoked(rid, leg, why, self.now_s(), self._wall(), alert_id=alert_id)
        out.cancels.append((rid, leg.leg_id))
        out.notes.append(f"leg {leg.leg_id} of {rid} revoked ({why}): cancelling it")

    def _forget_revoked(self, leg_id: str) -> None:
        rv = self._revoked.pop(leg_id)
        self._ended.add(leg_id)
        if not rv.leg.seen_running:
            self._revoked_over[leg_id] = rv
        if rv.alert_id is not None:
            try:
                self.store.ack_alert(rv.alert_id, by=self.config.actor)
            except StoreError as exc:
                log.warning("could not close the alert of revoked leg %s: %s", leg_id, exc)

    def _record_revoked(self, rid: str, leg_id: str, why: str) -> int | None:
        """A revocation is an open store alert until the leg is over, so that a restarted scheduler
        still knows the leg must not be adopted (and staff see why the robot's run was cancelled)."""
        try:
            alert = self.store.raise_alert(
                REVOKED_ALERT,
                f"robot {rid}: leg {leg_id} cancelled and its tasks re-planned ({why})",
                subject=f"robot:{rid} leg:{leg_id}",
                actor=self.config.actor,
            )
        except StoreError as exc:
            log.warning("could not record revoked leg %s: %s", leg_id, exc)
            return None
        return alert.id

    def _load_revoked(self) -> None:
        """Revoked legs recorded by an earlier run (open alerts): never adopted, cancelled again
        if a robot is seen running one, closed when it is seen off it."""
        try:
            alerts = self.store.list_alerts(open_only=True, kind=REVOKED_ALERT)
        except StoreError as exc:
            log.warning("could not read revoked legs: %s", exc)
            return
        now, wall = self.now_s(), self._wall()
        for a in alerts:
            robot, _, leg_id = a.subject.partition(" leg:")
            rid = robot.removeprefix("robot:")
            if not rid or not leg_id or leg_id in self._revoked:
                continue
            leg = _Leg(leg_id, decode_leg_id(leg_id) or [])
            self._revoked[leg_id] = _Revoked(rid, leg, "before a restart", now, wall - 1e9, alert_id=a.id)

    def _resend_cancel(self, leg_id: str, rv: _Revoked, out: Outcome) -> None:
        if rv.resends >= self.config.max_cancel_resends:
            return
        rv.resends += 1
        rv.sent_wall = self._wall()
        out.cancels.append((rv.robot_id, leg_id))
        out.notes.append(f"cancel of revoked leg {leg_id} of {rv.robot_id} sent again ({rv.resends})")
        if rv.resends == self.config.max_cancel_resends:
            out.notes.append(f"revoked leg {leg_id} of {rv.robot_id}: no more cancels; it stays out of the plan")

    def _check_revoked(self, snap: RobotSnapshot, out: Outcome) -> None:
        """A state of a robot with revoked legs: forget those it is seen off, re-cancel the one it runs."""
        back = self._revoked_over.pop(snap.leg_id, None) if snap.leg_id else None
        if back is not None and back.robot_id == snap.robot_id:
            # the goal reached the robot after its cancel (which then found nothing to cancel)
            self._revoked[snap.leg_id] = back
            self._ended.discard(snap.leg_id)
            back.sent_wall = float("-inf")
            out.notes.append(f"revoked leg {snap.leg_id} of {back.robot_id} is running after all")
        for leg_id, rv in list(self._revoked.items()):
            if rv.robot_id != snap.robot_id:
                continue
            if snap.leg_id != leg_id:
                if snap.at_s >= rv.at_s:  # (an older state may predate the leg itself)
                    self._forget_revoked(leg_id)
                    out.notes.append(f"revoked leg {leg_id} of {rv.robot_id} is over")
                continue
            rv.leg.seen_running = True
            if self._wall() - rv.sent_wall >= self.config.cancel_retry_s:
                self._resend_cancel(leg_id, rv, out)

    def _running_leg(self, snap: RobotSnapshot) -> bool:
        """Is the robot (as this state shows it) driving a leg that has not ended?"""
        return bool(snap.leg_id) and snap.leg_id not in self._ended

    @staticmethod
    def _custody_key(ev: CustodyEvent) -> tuple[str, str, str, int, int]:
        return (ev.robot_id, ev.task_id, ev.kind.value, int(ev.at_s), int(ev.drawer))

    def _intake(self, task: DeliveryTask) -> Outcome:
        out = Outcome()
        if self._disp is not None and task.id in self._disp.tasks:
            return out
        if self._disp is None:
            return out  # planned at start()
        try:
            decision = self._disp.handle(TaskAdded(task, self.now_s()))
        except (DispatchError, PlanningError) as exc:
            self._fail(task.id, f"cannot be planned: {exc}", out)
            return out
        return out.extend(self._apply(decision))

    def _drop_task(self, task_id: str, why: str) -> Outcome:
        out = Outcome()
        for rid, leg in self._inflight.items():
            if task_id in leg.tasks(StopKind.PICKUP):
                # its other tasks are not at fault: the leg's end will be LegEnd.CANCELLED
                self._cancel_asked.setdefault(leg.leg_id, f"task {task_id} {why}")
                out.cancels.append((rid, leg.leg_id))
        if self._disp is None or task_id not in self._disp.tasks:
            return out
        try:
            decision = self._disp.handle(TaskCancelled(task_id, self.now_s()))
        except DispatchError as exc:
            out.notes.append(f"task {task_id} {why} but kept in the plan: {exc}")
            return out
        return out.extend(self._apply(decision))

    def _fail(self, task_id: str, reason: str, out: Outcome) -> bool:
        """Mark the task FAILED in the store; False if it could not be."""
        try:
            self.store.transition_task(task_id, TaskStatus.FAILED, actor=self.config.actor, reason=reason)
        except (IllegalTransitionError, NotFoundError) as exc:
            out.notes.append(f"task {task_id}: could not mark failed: {exc}")
            return False
        self._known[task_id] = TaskStatus.FAILED
        out.notes.append(f"task {task_id} failed: {reason}")
        return True

    def _await_result(self, waiting: _AwaitingResult) -> None:
        self._awaiting_result[waiting.leg.leg_id] = waiting
        while len(self._awaiting_result) > _MAX_AWAITING_RESULTS:  # results lost for good
            del self._awaiting_result[next(iter(self._awaiting_result))]

    def _late_result(self, late: _AwaitingResult, report: LegReport) -> Outcome:
        """The result of a leg this core sent, already seen over in the robot's state (and handled as
        planned-as-done: the robot freed, the dispatcher rebuilt if it did not go as planned). Judged
        by leg_end like any result: a genuine failure counts now, and a task failed by it leaves the
        plan (legs already sent to pick it up again are cancelled)."""
        out = Outcome()
        end = leg_end(report, cancel_asked=late.cancel_asked is not None)
        if end is LegEnd.DONE:
            return out
        said = report.outcome.name.lower()
        if end is LegEnd.FAILED:
            out.notes.append(f"leg {report.leg_id} of {report.robot_id} failed (result after its end): {report.reason}")
        else:
            why = f"; cancel asked: {late.cancel_asked}" if late.cancel_asked is not None else ""
            out.notes.append(
                f"leg {report.leg_id} of {report.robot_id} {end.value} (robot: {said} {report.reason}{why});"
                " no failure counted"
            )
        for tid in self._leg_failed(late.leg, end, report, out):
            out.extend(self._drop_task(tid, "failed"))
        return out

    def _leg_failed(self, leg: _Leg, end: LegEnd, report: LegReport, out: Outcome) -> list[str]:
        """A leg ended otherwise than done. Only a FAILED end counts against every task the leg did not
        finish; those that failed too often are failed. A task whose drawer locked out is failed at
        once whatever the end (a supervisor must see to the drawer, even on a leg being cancelled).
        Returns the tasks failed now."""
        failed: list[str] = []
        reason = report.reason
        locked = report.outcome is LegOutcome.FAILED and "locked out" in reason
        if not (end.counts_as_failure or locked):
            return failed  # cancelled, revoked or refused at the start: not the tasks' fault
        loaded, delivered = set(report.loaded), set(report.delivered)
        for kind, tid in leg.stops:
            if kind is StopKind.CHARGE or tid in delivered or (kind is StopKind.PICKUP and tid in loaded):
                continue
            if end.counts_as_failure:
                self._failures[tid] += 1
            lock_out = locked and f"task {tid}" in reason
            if not lock_out and self._failures[tid] < self.config.max_leg_failures:
                continue
            current = self._known.get(tid)
            if current is not None and current.terminal:
                continue
            what = f"leg failed {self._failures[tid]} time(s)" if end.counts_as_failure else f"leg {end.value}"
            if self._fail(tid, f"{what}: {reason}"[:900], out):
                failed.append(tid)
        return failed

    def _adopted_leg_ended(self, rid: str, leg: _Leg, snap: RobotSnapshot) -> Outcome:
        """A leg planned as done (adopted, or ours after a rebuild) seen over in the robot's state: rebuild if it
        did not go as planned (the result of one we sent is still judged when it comes)."""
        on_board = set(snap.on_board)
        ok = bool(leg.stops)
        for kind, tid in leg.stops:
            if kind is StopKind.PICKUP and tid not in on_board and tid not in leg.tasks(StopKind.DROPOFF):
                ok = ok and self._known.get(tid) in (TaskStatus.PICKED_UP, TaskStatus.DELIVERED)
            elif kind is StopKind.DROPOFF and tid in on_board:
                ok = False
        if ok:
            return self._dispatch()
        return self.rebuild(f"adopted leg {leg.leg_id} of {rid} ended otherwise than planned")

    def _handle(self, event: object, *, quiet: bool = False) -> Outcome:
        assert self._disp is not None
        try:
            decision = self._disp.handle(event)  # type: ignore[arg-type]
        except DispatchError as exc:
            out = Outcome()
            if not quiet:
                out.notes.append(f"dispatcher refused {type(event).__name__}: {exc}")
            return out.extend(self._dispatch())
        except PlanningError as exc:
            return self.rebuild(f"{type(event).__name__} left a state that does not plan ({exc})")
        return self._apply(decision)

    def _apply(self, decision: Decision) -> Outcome:
        out = Outcome()
        if decision.replan_pending:
            self.replan_pending = True
        for alert in decision.alerts:
            out.notes.append(
                f"recovery: robot {alert.robot_id} holds {', '.join(alert.task_ids)} at {alert.location} ({alert.reason})"
            )
        try:
            applied = self.store.apply_plan(decision.plan, actor=self.config.actor)
        except StoreError as exc:
            out.notes.append(f"could not record the plan: {exc}")
        else:
            if applied.skipped:
                out.notes.append(f"plan: store skipped {applied.skipped}")
            for tid in (*applied.planned, *applied.unplanned):
                self._known[tid] = TaskStatus.PLANNED if tid in applied.planned else TaskStatus.REQUESTED
        return out.extend(self._dispatch())

    def _dispatch(self) -> Outcome:
        """Send each idle robot its committed leg (once)."""
        out = Outcome()
        if self._disp is None:
            return out
        on_board = {t for r in self._disp.robots.values() for t in r.on_board}
        stale = False
        for rid, stops in self._disp.commitments.items():
            if rid in self._inflight or rid in self._lost or self._sent.get(rid) == stops:
                continue
            if any(st.kind is StopKind.PICKUP and st.task_id in on_board for st in stops):
                stale = True  # a warm-started plan kept the pickup of a task now on board
                continue
            snap = self._snaps.get(rid)
            if snap is None or self._running_leg(snap):
                continue  # busy with a leg we do not know yet (or a stale state): wait for it to end
            order = self._order(rid, stops)
            if order is None:
                continue
            self._sent[rid] = stops
            self._inflight[rid] = _Leg(order.leg_id, [(s.kind, s.task_id or s.location) for s in stops])
            out.orders.append(order)
        if stale and not self._rebuilding:
            out.extend(self.rebuild("a committed leg would pick up a task already on board"))
        return out

    def _order(self, rid: str, stops: tuple[Stop, ...]) -> LegOrder | None:
        legs = []
        for st in stops:
            if st.kind is StopKind.CHARGE:
                legs.append(LegStop(StopKind.CHARGE, st.location))
                continue
            assert st.task_id is not None
            pin_hash, badges = self._credentials(st.task_id, st.kind)
            if not pin_hash:  # an order from the HIS: the staff at the stop open it from their page
                badges = badges | {station_badge(st.location)}
            legs.append(LegStop(st.kind, st.location, st.task_id, pin_hash, badges))
        leg_id = encode_leg_id(f"{self._nonce_base}{next(self._seq):x}", stops)
        return LegOrder(rid, leg_id, tuple(legs), stops)

    def _stop_location(self, kind: StopKind, ref: str, records: Mapping[str, TaskRecord]) -> str | None:
        if kind is StopKind.CHARGE:
            return ref
        rec = records.get(ref)
        if rec is None:
            try:
                rec = self.store.get_task(ref)
            except NotFoundError:
                return None
        task = rec.task
        return str(task.pickup if kind is StopKind.PICKUP else task.dropoff)
