"""A simulated hospital delivery robot (TUG / HOSPI class), as plain Python.

The robot drives campus routes (``hospital_ops.campus.Campus.route``: walks and lift rides) at its
speed, with a time scale; calls lifts through an injected :data:`robots.lifts.LiftClient`; drains
its battery per kilometre and charges when idle at a dock; and carries locked drawers. Each task's
drawer is reserved when a leg with its pickup starts and opens only with the task's PIN (checked
against an argon2id hash, never stored in clear) or an authorised badge, and only while the robot
waits at that task's stop. Every opening and every refusal is a :class:`CustodyEvent`; the third
wrong attempt locks the drawer out and raises a critical alert.

Time: the core keeps a campus clock (seconds since the Unix epoch) advanced by :meth:`advance`
(simulated seconds) or :meth:`step` (reads the injected real clock and multiplies by the time
scale). Nothing here sleeps, prints or touches ROS; the node shell (robots.nodes.robot_driver)
serialises calls with a lock and publishes :meth:`snapshot`, the drained custody events and alerts.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from hospital_ops.campus import Campus, CampusError, Lift, LocationKind
from hospital_ops.domain import CustodyEvent, CustodyKind, Robot, RobotMode, StopKind
from robots.alerts import Alert, AlertCode, Severity
from robots.credentials import badge_matches, is_pin_hash, verify_pin
from robots.lifts import LiftCall, LiftClient, LiftOp, LiftReply, LiftStatus, always_grant


class Phase(StrEnum):
    """What the robot is doing now (RobotState.PHASE_*)."""

    IDLE = "idle"
    WALKING = "walking"
    WAITING_LIFT = "waiting_lift"
    RIDING_LIFT = "riding_lift"
    AWAITING_HANDOVER = "awaiting_handover"
    DWELLING = "dwelling"
    CHARGING = "charging"


class LegOutcome(IntEnum):
    """ExecuteLeg.Result.OUTCOME_*."""

    DONE = 0
    FAILED = 1
    CANCELLED = 2


class DrawerStatus(IntEnum):
    """DrawerState.STATE_*."""

    EMPTY = 0
    RESERVED = 1
    LOADED = 2
    LOCKED_OUT = 3


class OpenOutcome(IntEnum):
    """OpenDrawer.Response.RESULT_*."""

    OPENED = 0
    DENIED = 1
    LOCKED_OUT = 2
    NOT_AT_STOP = 3
    NOT_FOUND = 4
    INVALID = 5


@dataclass(frozen=True, slots=True)
class LegStop:
    """One stop of a leg. Pickups and drop-offs name their task and the credentials that open the
    task's drawer at this stop (the sender's at the pickup, the receiver's at the drop-off); a
    drop-off without credentials accepts those given at the pickup."""

    kind: StopKind
    location: str
    task_id: str = ""
    #: argon2id PHC hash of the task's PIN ("" = badges only).
    pin_hash: str = ""
    badges: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.location:
            raise ValueError("location: must not be empty")
        if self.kind in (StopKind.PICKUP, StopKind.DROPOFF) and not self.task_id:
            raise ValueError(f"task_id: a {self.kind.value} stop at {self.location} needs its task")
        if self.pin_hash and not is_pin_hash(self.pin_hash):
            raise ValueError(f"pin_hash: task {self.task_id}: not an argon2id hash (never send the PIN itself)")


@dataclass(frozen=True, slots=True)
class DriverConfig:
    robot_id: str
    start: str
    speed_mps: float = 1.0
    #: Simulated seconds per real second in :meth:`RobotDriverCore.step`.
    time_scale: float = 1.0
    drawers: int = 4
    battery_pct: float = 100.0
    consumption_pct_per_km: float = 4.0
    #: Charging rate at a dock, percent points per hour.
    charge_pct_per_h: float = 50.0
    #: Below this, a BATTERY_LOW alert (once, re-armed after charging).
    low_battery_pct: float = 20.0
    max_pin_attempts: int = 3
    #: Simulated seconds to wait at a stop for the hand-over before the leg fails.
    handover_timeout_s: float = 900.0
    #: Simulated seconds to wait for a lift before the leg fails.
    lift_timeout_s: float = 900.0
    #: Simulated seconds between polls of a queued lift request (at most one poll per advance).
    lift_poll_s: float = 2.0
    #: Simulated seconds after a hand-over (drawer closing, staff stepping back) before leaving.
    dwell_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.robot_id:
            raise ValueError("robot_id: must not be empty")
        if not self.start:
            raise ValueError(f"robot {self.robot_id}: start: must not be empty")
        positive = ("speed_mps", "time_scale", "handover_timeout_s", "lift_timeout_s", "lift_poll_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"robot {self.robot_id}: {name}: must be positive, got {getattr(self, name)}")
        for name in ("consumption_pct_per_km", "charge_pct_per_h", "dwell_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"robot {self.robot_id}: {name}: must not be negative, got {getattr(self, name)}")
        if not 1 <= self.drawers <= 32:
            raise ValueError(f"robot {self.robot_id}: drawers: must be 1..32, got {self.drawers}")
        if not 0.0 <= self.battery_pct <= 100.0:
            raise ValueError(f"robot {self.robot_id}: battery_pct: {self.battery_pct} is outside 0..100")
        if not 0.0 <= self.low_battery_pct <= 100.0:
            raise ValueError(f"robot {self.robot_id}: low_battery_pct: {self.low_battery_pct} is outside 0..100")
        if self.max_pin_attempts < 1:
            raise ValueError(f"robot {self.robot_id}: max_pin_attempts: must be at least 1")


@dataclass(frozen=True, slots=True)
class DrawerView:
    index: int
    status: DrawerStatus
    task_id: str
    failed_attempts: int
    loaded: bool


@dataclass(frozen=True, slots=True)
class RobotSnapshot:
    """Everything RobotState carries."""

    robot_id: str
    building: str
    floor: str
    #: Level of the floor in its building (0 = lowest); fractional during a lift ride.
    level: float
    location: str
    x: float
    y: float
    battery_pct: float
    mode: RobotMode
    phase: Phase
    drawers: tuple[DrawerView, ...]
    current_task_id: str
    leg_id: str
    leg_progress: float
    #: None when no leg is running.
    leg_eta_s: int | None
    speed_mps: float
    odometer_m: float
    at_s: float

    @property
    def on_board(self) -> tuple[str, ...]:
        return tuple(d.task_id for d in self.drawers if d.loaded)


@dataclass(frozen=True, slots=True)
class LegProgress:
    """ExecuteLeg feedback."""

    leg_id: str
    progress: float
    eta_s: int
    eta_at_s: int
    current_location: str
    phase: Phase
    stop_index: int
    current_task_id: str
    battery_pct: float


@dataclass(frozen=True, slots=True)
class LegResult:
    leg_id: str
    outcome: LegOutcome
    reason: str
    stops_done: int
    loaded: tuple[str, ...]
    delivered: tuple[str, ...]
    lifts_used: tuple[str, ...]
    final_location: str
    battery_pct: float

    @property
    def success(self) -> bool:
        return self.outcome is LegOutcome.DONE


@dataclass(frozen=True, slots=True)
class OpenResult:
    outcome: OpenOutcome
    message: str
    drawer: int = -1
    attempts_left: int = 0
    custody: CustodyEvent | None = None


class LegRejected(ValueError):
    """A leg the robot cannot start; the message names the stop/field and the reason."""


@dataclass
class _Drawer:
    index: int
    status: DrawerStatus = DrawerStatus.EMPTY
    task_id: str = ""
    pin_hash: str = ""
    badges: frozenset[str] = frozenset()
    failed_attempts: int = 0
    #: Items are inside (loaded at the pickup, not yet delivered).
    loaded: bool = False

    def clear(self) -> None:
        self.status, self.task_id, self.pin_hash, self.badges = DrawerStatus.EMPTY, "", "", frozenset()
        self.failed_attempts, self.loaded = 0, False


@dataclass(frozen=True, slots=True)
class _Segment:
    kind: str  # "walk" | "lift"
    start: str
    end: str
    metres: float
    #: walk: seconds at the robot's speed; lift: ride with doors, without the wait.
    seconds: float
    #: The campus estimate (lift waits included), for progress and ETA.
    estimate_s: float
    lift: str = ""


@dataclass
class _Execution:
    leg_id: str
    stops: tuple[LegStop, ...]
    routes: list[list[_Segment]]
    estimate_total_s: float
    stop_index: int = 0
    seg_index: int = 0
    seg_elapsed: float = 0.0
    phase: Phase = Phase.WALKING
    phase_elapsed: float = 0.0
    lift_request: str = ""
    lift_actual: str = ""
    ride_s: float = 0.0
    since_poll: float = math.inf
    cancel_reason: str | None = None
    loaded: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    lifts_used: list[str] = field(default_factory=list)
    best_progress: float = 0.0


class RobotDriverCore:
    """One simulated robot. Not thread-safe: callers serialise (the node holds a lock)."""

    #: Finished leg results kept for late readers.
    RESULTS_KEPT = 64

    def __init__(
        self,
        config: DriverConfig,
        campus: Campus,
        lift: LiftClient = always_grant,
        clock: Callable[[], float] = time.monotonic,
        start_at_s: float | None = None,
    ) -> None:
        if config.start not in campus.locations:
            raise ValueError(f"robot {config.robot_id}: start: unknown campus location '{config.start}'")
        self.config = config
        self._campus = campus
        self._lift = lift
        self._clock = clock
        self._last_real = clock()
        self._now = float(time.time() if start_at_s is None else start_at_s)
        self._lifts: dict[str, Lift] = {lf.id: lf for lf in campus.lifts}
        self._at = config.start
        self._battery = config.battery_pct
        self._odometer = 0.0
        self._drawers = [_Drawer(i) for i in range(config.drawers)]
        self._exec: _Execution | None = None
        self._results: OrderedDict[str, LegResult] = OrderedDict()
        self._custody: list[CustodyEvent] = []
        self._alerts: list[Alert] = []
        self._low_alerted = self._battery < config.low_battery_pct
        self._fault = self._battery <= 0.0 and not self._at_dock()
        self._polled = False
        self._transitioned = False
        self._lift_seq = 0

    def set_lift_client(self, lift: LiftClient) -> None:
        """Swap the lift client (the node wires its ROS client after building the core)."""
        self._lift = lift

    # ---- time -------------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        """The campus clock, seconds since the Unix epoch."""
        return self._now

    def step(self) -> float:
        """Advance by the real time since the last step times the time scale; returns sim seconds."""
        real = self._clock()
        dt = max(0.0, real - self._last_real) * self.config.time_scale
        self._last_real = real
        self.advance(dt)
        return dt

    def advance(self, dt_s: float) -> None:
        """Advance the simulation by ``dt_s`` simulated seconds."""
        if dt_s < 0:
            raise ValueError(f"dt_s: must not be negative, got {dt_s}")
        self._polled = False
        remaining = dt_s
        for _ in range(100_000):  # a guard only: each pass uses time or changes phase
            ex = self._exec
            if ex is None:
                self._idle(remaining)
                break
            used = self._run(ex, remaining)
            self._now += used
            remaining = max(0.0, remaining - used)
            if used <= 1e-12 and not self._transitioned:
                break  # blocked (waiting with no time left)
        self._now += remaining

    # ---- legs -------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._exec is not None

    @property
    def location(self) -> str:
        return self._at

    @property
    def battery_pct(self) -> float:
        return self._battery

    def check_leg(self, leg_id: str, stops: Sequence[LegStop]) -> str | None:
        """Why the robot cannot start this leg now, or None if it can."""
        try:
            self._plan_leg(leg_id, stops)
        except LegRejected as exc:
            return str(exc)
        return None

    def start_leg(self, leg_id: str, stops: Sequence[LegStop]) -> None:
        """Start a leg (reserving drawers for its pickups); LegRejected if it cannot."""
        ex = self._plan_leg(leg_id, stops)
        free = iter(d for d in self._drawers if d.status is DrawerStatus.EMPTY)
        for stop in ex.stops:
            if stop.kind is StopKind.PICKUP:
                d = next(free)
                d.status, d.task_id = DrawerStatus.RESERVED, stop.task_id
                d.pin_hash, d.badges, d.failed_attempts = stop.pin_hash, stop.badges, 0
        self._exec = ex
        self._results.pop(leg_id, None)
        self._enter_segment(ex)

    def cancel_leg(self, reason: str = "cancelled") -> bool:
        """Ask the running leg to stop (a robot in a lift finishes the ride). False if none."""
        if self._exec is None:
            return False
        self._exec.cancel_reason = reason or "cancelled"
        return True

    def progress(self) -> LegProgress | None:
        ex = self._exec
        if ex is None:
            return None
        eta = self._eta(ex)
        return LegProgress(
            leg_id=ex.leg_id,
            progress=self._progress(ex, eta),
            eta_s=math.ceil(eta),
            eta_at_s=math.ceil(self._now + eta),
            current_location=self._at,
            phase=ex.phase,
            stop_index=ex.stop_index,
            current_task_id=self._current_task(ex),
            battery_pct=self._battery,
        )

    def result_of(self, leg_id: str) -> LegResult | None:
        return self._results.get(leg_id)

    # ---- drawers ----------------------------------------------------------------------------
    def open_drawer(
        self,
        method: str,
        *,
        task_id: str = "",
        drawer: int | None = None,
        pin: str = "",
        badge: str = "",
        actor: str = "",
    ) -> OpenResult:
        """Try to open a drawer at the current stop with a PIN or a badge."""
        if method not in ("pin", "badge"):
            return OpenResult(OpenOutcome.INVALID, f"method: must be 'pin' or 'badge', got {method!r}")
        if method == "pin" and not pin:
            return OpenResult(OpenOutcome.INVALID, "pin: required with method 'pin'")
        if method == "badge" and not badge:
            return OpenResult(OpenOutcome.INVALID, "badge_id: required with method 'badge'")
        d = self._find_drawer(task_id, drawer)
        if d is None:
            what = f"task {task_id}" if task_id else f"drawer {drawer}"
            return OpenResult(
                OpenOutcome.NOT_FOUND, f"{what}: no such loaded or reserved drawer on {self.config.robot_id}"
            )
        if d.status is DrawerStatus.LOCKED_OUT:
            return OpenResult(
                OpenOutcome.LOCKED_OUT,
                f"drawer {d.index} is locked out after {self.config.max_pin_attempts} wrong attempts; call a supervisor",
                d.index,
            )
        ex = self._exec
        stop = ex.stops[ex.stop_index] if ex is not None and ex.stop_index < len(ex.stops) else None
        if ex is None or stop is None or ex.phase is not Phase.AWAITING_HANDOVER or stop.task_id != d.task_id:
            return OpenResult(
                OpenOutcome.NOT_AT_STOP,
                f"drawer {d.index}: the robot is not waiting for the hand-over of task {d.task_id}",
                d.index,
                self.config.max_pin_attempts - d.failed_attempts,
            )
        who = actor or badge
        # the stop's own credentials (the receiver's at a drop-off) or else those given at the pickup
        pin_hash, badges = stop.pin_hash or d.pin_hash, stop.badges or d.badges
        ok = verify_pin(pin, pin_hash) if method == "pin" else badge_matches(badge, badges)
        if not ok:
            d.failed_attempts += 1
            left = self.config.max_pin_attempts - d.failed_attempts
            if left <= 0:
                d.status = DrawerStatus.LOCKED_OUT
                ev = self._custody_event(d, CustodyKind.LOCKED_OUT, method, who)
                self._alert(
                    AlertCode.DRAWER_LOCKED_OUT,
                    Severity.CRITICAL,
                    f"drawer {d.index} of {self.config.robot_id} locked out after "
                    f"{self.config.max_pin_attempts} wrong attempts at {self._at}",
                    task_id=d.task_id,
                )
                return OpenResult(
                    OpenOutcome.LOCKED_OUT, f"drawer {d.index}: locked out; a supervisor is called", d.index, 0, ev
                )
            ev = self._custody_event(d, CustodyKind.DENIED, method, who)
            noun = "PIN" if method == "pin" else "badge"
            return OpenResult(OpenOutcome.DENIED, f"wrong {noun}; {left} attempt(s) left", d.index, left, ev)
        d.failed_attempts = 0
        if stop.kind is StopKind.PICKUP:
            d.status, d.loaded = DrawerStatus.LOADED, True
            ev = self._custody_event(d, CustodyKind.LOADED, method, who)
            ex.loaded.append(d.task_id)
        else:
            ev = self._custody_event(d, CustodyKind.DELIVERED, method, who)
            ex.delivered.append(d.task_id)
            d.clear()
        ex.phase, ex.phase_elapsed = Phase.DWELLING, 0.0
        return OpenResult(OpenOutcome.OPENED, f"drawer {ev.drawer} open", ev.drawer, self.config.max_pin_attempts, ev)

    def reset_drawer(self, index: int, actor: str) -> bool:
        """Supervisor override of a lock-out: a loaded drawer keeps its task and credentials with the
        attempts reset; an empty one is freed. False if there is nothing to reset."""
        if not 0 <= index < len(self._drawers) or not actor:
            return False
        d = self._drawers[index]
        if d.status is not DrawerStatus.LOCKED_OUT:
            return False
        if d.loaded:
            d.status, d.failed_attempts = DrawerStatus.LOADED, 0
        else:
            d.clear()  # nothing was ever put in: the drawer is free again
        return True

    # ---- outputs ----------------------------------------------------------------------------
    def drain_custody(self) -> list[CustodyEvent]:
        out, self._custody = self._custody, []
        return out

    def drain_alerts(self) -> list[Alert]:
        out, self._alerts = self._alerts, []
        return out

    @property
    def mode(self) -> RobotMode:
        if self._fault:
            return RobotMode.FAULT
        if self._exec is not None:
            return RobotMode.BUSY
        if self._at_dock() and self._battery < 100.0:
            return RobotMode.CHARGING
        return RobotMode.IDLE

    def snapshot(self) -> RobotSnapshot:
        ex = self._exec
        building, floor, x, y, level = self._coords(self._at)
        if ex is not None and ex.stop_index < len(ex.stops):
            route = ex.routes[ex.stop_index]
            if ex.seg_index < len(route):
                seg = route[ex.seg_index]
                if ex.phase is Phase.WALKING and seg.seconds > 0:
                    f = min(1.0, ex.seg_elapsed / seg.seconds)
                    _, _, x2, y2, _ = self._coords(seg.end)
                    x, y = x + (x2 - x) * f, y + (y2 - y) * f
                elif ex.phase is Phase.RIDING_LIFT and ex.ride_s > 0:
                    level += (self._coords(seg.end)[4] - level) * min(1.0, ex.seg_elapsed / ex.ride_s)
        eta = self._eta(ex) if ex is not None else None
        phase = ex.phase if ex is not None else (Phase.CHARGING if self.mode is RobotMode.CHARGING else Phase.IDLE)
        return RobotSnapshot(
            robot_id=self.config.robot_id,
            building=building,
            floor=floor,
            level=level,
            location=self._at,
            x=x,
            y=y,
            battery_pct=self._battery,
            mode=self.mode,
            phase=phase,
            drawers=tuple(DrawerView(d.index, d.status, d.task_id, d.failed_attempts, d.loaded) for d in self._drawers),
            current_task_id=self._current_task(ex) if ex is not None else "",
            leg_id=ex.leg_id if ex is not None else "",
            leg_progress=self._progress(ex, eta) if ex is not None and eta is not None else 0.0,
            leg_eta_s=math.ceil(eta) if eta is not None else None,
            speed_mps=self.config.speed_mps,
            odometer_m=self._odometer,
            at_s=self._now,
        )

    def as_robot(self) -> Robot:
        """The planner's view of this robot (hospital_ops.domain.Robot)."""
        snap = self.snapshot()
        return Robot(
            id=self.config.robot_id,
            location=self._at,
            available_s=int(self._now),
            capacity_units=self.config.drawers,
            speed_mps=self.config.speed_mps,
            battery_pct=max(0.0, min(100.0, self._battery)),
            consumption_pct_per_km=self.config.consumption_pct_per_km,
            min_battery_pct=self.config.low_battery_pct,
            mode=snap.mode,
            on_board=snap.on_board,
        )

    # ---- planning a leg ---------------------------------------------------------------------
    def _plan_leg(self, leg_id: str, stops: Sequence[LegStop]) -> _Execution:
        if not leg_id:
            raise LegRejected("leg_id: must not be empty")
        if self._exec is not None:
            raise LegRejected(f"robot {self.config.robot_id} is busy with leg {self._exec.leg_id}; cancel it first")
        if self._fault:
            raise LegRejected(f"robot {self.config.robot_id} is in fault (battery empty at {self._at})")
        if not stops:
            raise LegRejected("stops: a leg needs at least one stop")
        on_board = {d.task_id for d in self._drawers if d.status is DrawerStatus.LOADED}
        locked = {d.task_id for d in self._drawers if d.status is DrawerStatus.LOCKED_OUT}
        reserved = {d.task_id for d in self._drawers if d.status is not DrawerStatus.EMPTY}
        picked: dict[str, int] = {}
        for i, s in enumerate(stops):
            where = f"stops[{i}] ({s.kind.value} at {s.location})"
            if s.location not in self._campus.locations:
                raise LegRejected(f"{where}: unknown campus location '{s.location}'")
            if s.kind is StopKind.PICKUP:
                if s.task_id in picked or s.task_id in reserved:
                    raise LegRejected(f"{where}: task {s.task_id} is already picked up or has a drawer")
                if not s.pin_hash and not s.badges:
                    raise LegRejected(
                        f"{where}: task {s.task_id} has neither a PIN hash nor a badge: its drawer could never open"
                    )
                picked[s.task_id] = i
            elif s.kind is StopKind.DROPOFF:
                if s.task_id in locked:
                    raise LegRejected(
                        f"{where}: the drawer of task {s.task_id} is locked out; a supervisor must reset it"
                    )
                if s.task_id not in picked and s.task_id not in on_board:
                    raise LegRejected(
                        f"{where}: task {s.task_id} is neither picked up earlier in this leg nor on board"
                    )
                picked.pop(s.task_id, None)
                on_board.discard(s.task_id)
            elif self._campus.locations[s.location].kind is not LocationKind.DOCK:
                raise LegRejected(f"{where}: charge stops must be at a dock")
        new = sum(1 for s in stops if s.kind is StopKind.PICKUP)
        free = sum(1 for d in self._drawers if d.status is DrawerStatus.EMPTY)
        if new > free:
            raise LegRejected(f"stops: {new} pickups need {new} drawers but only {free} are free")
        routes: list[list[_Segment]] = []
        here = self._at
        for i, s in enumerate(stops):
            try:
                routes.append(self._segments(here, s.location))
            except (KeyError, CampusError) as exc:
                raise LegRejected(f"stops[{i}]: no route from {here} to {s.location}: {exc}") from None
            here = s.location
        total = sum(seg.estimate_s for route in routes for seg in route)
        return _Execution(leg_id, tuple(stops), routes, float(total))

    def _segments(self, a: str, b: str) -> list[_Segment]:
        if a == b:
            return []
        route = self._campus.route(a, b, speed_mps=self.config.speed_mps)
        out = []
        for leg in route.legs:
            if leg.kind == "lift" and leg.lift:
                ride = self._ride_s(leg.lift, leg.start, leg.end)
                out.append(_Segment("lift", leg.start, leg.end, 0.0, ride, float(leg.seconds), leg.lift))
            else:
                out.append(
                    _Segment("walk", leg.start, leg.end, float(leg.metres), float(leg.seconds), float(leg.seconds))
                )
        return out

    def _ride_s(self, lift_id: str, start: str, end: str) -> float:
        lift = self._lifts.get(lift_id)
        if lift is None:
            return 0.0
        b = self._campus.buildings[lift.building]
        floors = abs(b.level(self._coords(end)[1]) - b.level(self._coords(start)[1]))
        return 2.0 * lift.door_s + lift.seconds_per_floor * floors

    # ---- running a leg ----------------------------------------------------------------------
    def _run(self, ex: _Execution, remaining: float) -> float:
        """Run the current phase for up to ``remaining`` seconds; returns the seconds used."""
        self._transitioned = False
        if ex.cancel_reason is not None and ex.phase is not Phase.RIDING_LIFT:
            self._cancel_now(ex)
            return 0.0
        match ex.phase:
            case Phase.WALKING:
                return self._walk(ex, remaining)
            case Phase.WAITING_LIFT:
                return self._wait_lift(ex, remaining)
            case Phase.RIDING_LIFT:
                return self._ride(ex, remaining)
            case Phase.AWAITING_HANDOVER:
                return self._await_handover(ex, remaining)
            case Phase.DWELLING:
                used = min(remaining, max(0.0, self.config.dwell_s - ex.phase_elapsed))
                ex.phase_elapsed += used
                if ex.phase_elapsed >= self.config.dwell_s - 1e-9:
                    self._next_stop(ex)
                return used
        return remaining  # pragma: no cover - every phase is handled above

    def _walk(self, ex: _Execution, remaining: float) -> float:
        seg = ex.routes[ex.stop_index][ex.seg_index]
        used = min(remaining, seg.seconds - ex.seg_elapsed)
        if seg.seconds > 0 and seg.metres > 0:
            metres = seg.metres * used / seg.seconds
            need = self.config.consumption_pct_per_km * metres / 1000.0
            if need > self._battery:  # runs dry part-way
                can = self._battery / need if need > 0 else 1.0
                used *= can
                metres *= can
                self._drain(metres)
                ex.seg_elapsed += used
                self._battery_empty(ex, seg)
                return max(used, 0.0)
            self._drain(metres)
        ex.seg_elapsed += used
        if ex.seg_elapsed >= seg.seconds - 1e-9:
            self._at = seg.end
            ex.seg_index += 1
            self._enter_segment(ex)
        return used

    def _drain(self, metres: float) -> None:
        self._odometer += metres
        self._battery = max(0.0, self._battery - self.config.consumption_pct_per_km * metres / 1000.0)
        if not self._low_alerted and self._battery < self.config.low_battery_pct:
            self._low_alerted = True
            self._alert(
                AlertCode.BATTERY_LOW,
                Severity.WARNING,
                f"{self.config.robot_id} battery at {self._battery:.0f} % (below {self.config.low_battery_pct:.0f} %)",
            )

    def _battery_empty(self, ex: _Execution, seg: _Segment) -> None:
        self._battery = 0.0
        frac = ex.seg_elapsed / seg.seconds if seg.seconds > 0 else 1.0
        self._at = seg.end if frac >= 0.5 else seg.start
        self._fault = True
        self._alert(
            AlertCode.BATTERY_EMPTY,
            Severity.CRITICAL,
            f"{self.config.robot_id} stopped with an empty battery near {self._at}; fetch it",
        )
        self._finish(ex, LegOutcome.FAILED, f"battery empty near {self._at}")

    def _wait_lift(self, ex: _Execution, remaining: float) -> float:
        seg = ex.routes[ex.stop_index][ex.seg_index]
        cfg = self.config
        if ex.since_poll >= cfg.lift_poll_s and not self._polled:
            self._polled = True
            ex.since_poll = 0.0
            reply = self._call_lift(ex, seg)
            if self._handle_lift_reply(ex, seg, reply):
                return 0.0
        left = cfg.lift_timeout_s - ex.phase_elapsed
        if left <= 1e-9:
            self._lift_call(LiftOp.CANCEL, ex, seg)
            self._alert(
                AlertCode.LIFT_TIMEOUT,
                Severity.WARNING,
                f"{cfg.robot_id} waited {cfg.lift_timeout_s:.0f} s for lift {ex.lift_actual or seg.lift} at {self._at}",
            )
            self._finish(ex, LegOutcome.FAILED, f"no lift within {cfg.lift_timeout_s:.0f} s at {self._at}")
            return 0.0
        cap = left if self._polled else min(left, cfg.lift_poll_s - ex.since_poll)
        used = min(remaining, cap)
        ex.phase_elapsed += used
        ex.since_poll += used
        return used

    def _call_lift(self, ex: _Execution, seg: _Segment) -> LiftReply:
        if not ex.lift_request:
            self._lift_seq += 1
            ex.lift_request = f"{self.config.robot_id}:{ex.leg_id}:{self._lift_seq}"
            return self._lift_call(LiftOp.REQUEST, ex, seg)
        return self._lift_call(LiftOp.STATUS, ex, seg)

    def _lift_call(self, op: LiftOp, ex: _Execution, seg: _Segment) -> LiftReply:
        _, from_floor, *_ = self._coords(seg.start)
        _, to_floor, *_ = self._coords(seg.end)
        call = LiftCall(
            op,
            ex.lift_request,
            self.config.robot_id,
            seg.lift,
            self._lifts[seg.lift].building if seg.lift in self._lifts else "",
            from_floor,
            to_floor,
        )
        try:
            return self._lift(call)
        except Exception as exc:  # the client is I/O: a transport error must not kill the robot
            return LiftReply(LiftStatus.UNAVAILABLE, ex.lift_request, message=f"lift client failed: {exc}")

    def _handle_lift_reply(self, ex: _Execution, seg: _Segment, reply: LiftReply) -> bool:
        """Act on a lift reply; True if the phase changed."""
        match reply.status:
            case LiftStatus.GRANTED:
                ex.lift_actual = reply.lift_id or seg.lift
                ex.ride_s = self._ride_s(ex.lift_actual, seg.start, seg.end) or seg.seconds
                ex.lifts_used.append(ex.lift_actual)
                ex.phase, ex.seg_elapsed = Phase.RIDING_LIFT, 0.0
                self._transitioned = True
                return True
            case LiftStatus.QUEUED:
                ex.lift_actual = reply.lift_id or seg.lift
                return False
            case LiftStatus.UNKNOWN:
                ex.lift_request = ""  # the manager forgot us (restart): ask again at the next poll
                return False
            case LiftStatus.UNAVAILABLE:
                return False
        self._finish(ex, LegOutcome.FAILED, f"lift {reply.lift_id or seg.lift}: {reply.status.value}: {reply.message}")
        return True

    def _ride(self, ex: _Execution, remaining: float) -> float:
        seg = ex.routes[ex.stop_index][ex.seg_index]
        used = min(remaining, max(0.0, ex.ride_s - ex.seg_elapsed))
        ex.seg_elapsed += used
        if ex.seg_elapsed >= ex.ride_s - 1e-9:
            self._lift_call(LiftOp.RELEASE, ex, seg)
            ex.lift_request, ex.lift_actual = "", ""
            self._at = seg.end
            ex.seg_index += 1
            self._enter_segment(ex)
        return used

    def _await_handover(self, ex: _Execution, remaining: float) -> float:
        stop = ex.stops[ex.stop_index]
        d = self._find_drawer(stop.task_id, None)
        if d is not None and d.status is DrawerStatus.LOCKED_OUT:
            self._finish(ex, LegOutcome.FAILED, f"drawer {d.index} locked out at {stop.location} (task {stop.task_id})")
            return 0.0
        left = self.config.handover_timeout_s - ex.phase_elapsed
        if left <= 1e-9:
            self._alert(
                AlertCode.HANDOVER_TIMEOUT,
                Severity.WARNING,
                f"nobody took the {stop.kind.value} of task {stop.task_id} at {stop.location} "
                f"within {self.config.handover_timeout_s:.0f} s",
                task_id=stop.task_id,
            )
            self._finish(
                ex,
                LegOutcome.FAILED,
                f"no hand-over for the {stop.kind.value} of task {stop.task_id} at {stop.location}",
            )
            return 0.0
        used = min(remaining, left)
        ex.phase_elapsed += used
        return used

    def _enter_segment(self, ex: _Execution) -> None:
        """Set the phase for the current segment, or arrive at the stop if the route is done."""
        self._transitioned = True
        ex.seg_elapsed, ex.phase_elapsed = 0.0, 0.0
        route = ex.routes[ex.stop_index]
        if ex.seg_index < len(route):
            seg = route[ex.seg_index]
            if seg.kind == "lift":
                ex.phase, ex.since_poll, ex.lift_request, ex.lift_actual = Phase.WAITING_LIFT, math.inf, "", ""
            else:
                ex.phase = Phase.WALKING
            return
        stop = ex.stops[ex.stop_index]
        if stop.kind is StopKind.CHARGE:
            self._next_stop(ex)
        else:
            ex.phase = Phase.AWAITING_HANDOVER

    def _next_stop(self, ex: _Execution) -> None:
        self._transitioned = True
        ex.stop_index += 1
        ex.seg_index = 0
        if ex.stop_index >= len(ex.stops):
            self._finish(ex, LegOutcome.DONE, "")
        else:
            self._enter_segment(ex)

    def _cancel_now(self, ex: _Execution) -> None:
        if ex.phase is Phase.WALKING:
            seg = ex.routes[ex.stop_index][ex.seg_index]
            if seg.seconds > 0 and ex.seg_elapsed / seg.seconds >= 0.5:
                self._at = seg.end  # stop at the nearer end of the corridor
        elif ex.phase is Phase.WAITING_LIFT and ex.lift_request:
            self._lift_call(LiftOp.CANCEL, ex, ex.routes[ex.stop_index][ex.seg_index])
        self._finish(ex, LegOutcome.CANCELLED, ex.cancel_reason or "cancelled")

    def _finish(self, ex: _Execution, outcome: LegOutcome, reason: str) -> None:
        self._transitioned = True
        for d in self._drawers:  # drawers reserved for pickups that never happened are free again
            if d.status is DrawerStatus.RESERVED and any(
                s.kind is StopKind.PICKUP and s.task_id == d.task_id for s in ex.stops
            ):
                d.clear()
        result = LegResult(
            leg_id=ex.leg_id,
            outcome=outcome,
            reason=reason,
            stops_done=ex.stop_index,
            loaded=tuple(ex.loaded),
            delivered=tuple(ex.delivered),
            lifts_used=tuple(ex.lifts_used),
            final_location=self._at,
            battery_pct=self._battery,
        )
        self._results[ex.leg_id] = result
        while len(self._results) > self.RESULTS_KEPT:
            self._results.popitem(last=False)
        self._exec = None

    # ---- idle -------------------------------------------------------------------------------
    def _idle(self, dt: float) -> None:
        if self._at_dock() and self._battery < 100.0:
            self._battery = min(100.0, self._battery + self.config.charge_pct_per_h * dt / 3600.0)
            if self._battery > 0.0:
                self._fault = False
            if self._battery >= self.config.low_battery_pct + 5.0:
                self._low_alerted = False

    # ---- helpers ----------------------------------------------------------------------------
    def _at_dock(self) -> bool:
        loc = self._campus.locations.get(self._at)
        return loc is not None and loc.kind is LocationKind.DOCK

    def _coords(self, node: str) -> tuple[str, str, float, float, float]:
        """(building, floor, x, y, level) of a location id or a lift lobby 'BUILDING@FLOOR'."""
        loc = self._campus.locations.get(node)
        if loc is not None:
            b = self._campus.buildings[loc.building]
            return loc.building, loc.floor, loc.x, loc.y, float(b.level(loc.floor))
        bid, _, floor = node.partition("@")
        b = self._campus.buildings[bid]
        return bid, floor, b.origin[0], b.origin[1], float(b.level(floor))

    def _eta(self, ex: _Execution) -> float:
        if ex.stop_index >= len(ex.stops):
            return 0.0
        t = 0.0
        route = ex.routes[ex.stop_index]
        if ex.seg_index < len(route):
            seg = route[ex.seg_index]
            if ex.phase is Phase.WALKING:
                t += max(0.0, seg.seconds - ex.seg_elapsed)
            elif ex.phase is Phase.WAITING_LIFT:
                t += seg.seconds + max(0.0, seg.estimate_s - seg.seconds - ex.phase_elapsed)
            else:
                t += max(0.0, ex.ride_s - ex.seg_elapsed)
            t += sum(s.estimate_s for s in route[ex.seg_index + 1 :])
        for later in ex.routes[ex.stop_index + 1 :]:
            t += sum(s.estimate_s for s in later)
        return t

    def _progress(self, ex: _Execution, eta: float) -> float:
        p = 1.0 - eta / ex.estimate_total_s if ex.estimate_total_s > 0 else ex.stop_index / len(ex.stops)
        ex.best_progress = max(ex.best_progress, min(1.0, max(0.0, p)))
        return ex.best_progress

    def _current_task(self, ex: _Execution | None) -> str:
        if ex is None or ex.stop_index >= len(ex.stops):
            return ""
        return ex.stops[ex.stop_index].task_id

    def _find_drawer(self, task_id: str, index: int | None) -> _Drawer | None:
        if task_id:
            return next((d for d in self._drawers if d.task_id == task_id and d.status is not DrawerStatus.EMPTY), None)
        if index is not None and 0 <= index < len(self._drawers):
            d = self._drawers[index]
            return d if d.status is not DrawerStatus.EMPTY else None
        return None

    def _custody_event(self, d: _Drawer, kind: CustodyKind, method: str, actor: str) -> CustodyEvent:
        ev = CustodyEvent(
            task_id=d.task_id,
            robot_id=self.config.robot_id,
            kind=kind,
            location=self._at,
            at_s=int(self._now),
            method=method,
            actor=actor,
            drawer=d.index,
        )
        self._custody.append(ev)
        return ev

    def _alert(self, code: AlertCode, severity: Severity, message: str, task_id: str = "") -> None:
        self._alerts.append(Alert(code, severity, message, int(self._now), self.config.robot_id, task_id, self._at))
