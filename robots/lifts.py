"""Lift manager core: service lifts as shared resources with a capacity and a FIFO queue.

Robots ask for a lift between two floors (:class:`LiftCall` with :attr:`LiftOp.REQUEST`), poll
their request (``STATUS``) until it is ``GRANTED``, ride, and ``RELEASE`` it. A lift grants in
strict arrival order while fewer than ``capacity`` robots hold it. A lift taken out of service
grants nothing new; robots waiting for it move to the least loaded in-service lift of the same
building that serves both their floors (keeping their relative order), or are told
``OUT_OF_SERVICE`` when there is none. Robots already in the car finish their ride.

The same :meth:`LiftManager.handle` serves the ROS service (robots.nodes.lift_manager) and, in
process, the simulated robots (it is a :data:`LiftClient`). No ROS, no I/O; the clock is injected.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from robots.alerts import Alert, AlertCode, Severity


class LiftOp(StrEnum):
    REQUEST = "request"
    STATUS = "status"
    RELEASE = "release"
    CANCEL = "cancel"


class LiftStatus(StrEnum):
    QUEUED = "queued"
    GRANTED = "granted"
    RELEASED = "released"
    CANCELLED = "cancelled"
    #: The lift is out of service and no other lift of the building serves both floors.
    OUT_OF_SERVICE = "out_of_service"
    #: Bad request; the message names the field.
    REFUSED = "refused"
    #: No such request (e.g. the manager restarted): ask again.
    UNKNOWN = "unknown"
    #: Client side only: the manager did not answer in time.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class LiftCall:
    op: LiftOp
    request_id: str
    robot_id: str = ""
    lift_id: str = ""
    building: str = ""
    from_floor: str = ""
    to_floor: str = ""


@dataclass(frozen=True, slots=True)
class LiftReply:
    status: LiftStatus
    request_id: str
    #: The lift the robot waits for or may board; differs from the request's when rerouted.
    lift_id: str = ""
    #: 1 = next in line; 0 when not queued.
    position: int = 0
    rerouted_from: str = ""
    message: str = ""


_LIVE = frozenset({LiftStatus.QUEUED, LiftStatus.GRANTED})

#: Anything that answers lift calls: the in-process manager, or the ROS service client.
LiftClient = Callable[[LiftCall], LiftReply]


class LiftLike(Protocol):
    """What the manager needs of a lift (hospital_ops.campus.Lift satisfies it)."""

    @property
    def id(self) -> str: ...
    @property
    def building(self) -> str: ...
    @property
    def floors(self) -> tuple[str, ...]: ...
    @property
    def capacity(self) -> int: ...


@dataclass(frozen=True, slots=True)
class LiftSpec:
    id: str
    building: str
    floors: tuple[str, ...]
    capacity: int = 1

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id: a lift needs an id")
        if len(self.floors) < 2:
            raise ValueError(f"lift {self.id}: floors: must serve at least two floors")
        if self.capacity < 1:
            raise ValueError(f"lift {self.id}: capacity: must be at least 1 robot, got {self.capacity}")


@dataclass(frozen=True, slots=True)
class LiftView:
    """A lift's state for publishing (hospital_ops_interfaces/msg/LiftState)."""

    lift_id: str
    building: str
    in_service: bool
    reason: str
    capacity: int
    floors: tuple[str, ...]
    riders: tuple[str, ...]
    queue: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceChange:
    """What taking a lift out of service did to the robots waiting for it."""

    lift_id: str
    in_service: bool
    #: (robot_id, new lift id) in their old queue order.
    rerouted: tuple[tuple[str, str], ...] = ()
    stranded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WaitStats:
    lift_id: str
    granted: int
    mean_wait_s: float
    max_wait_s: float


@dataclass
class _Request:
    request_id: str
    robot_id: str
    lift_id: str
    from_floor: str
    to_floor: str
    requested_at: float
    status: LiftStatus = LiftStatus.QUEUED
    granted_at: float | None = None
    rerouted_from: str = ""
    message: str = ""


@dataclass
class _Lift:
    spec: LiftSpec
    in_service: bool = True
    reason: str = ""
    queue: deque[str] = field(default_factory=deque)
    riders: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)


class LiftManager:
    """FIFO, capacity-limited access to every service lift of the campus."""

    #: Finished requests remembered for STATUS polls (oldest forgotten first).
    HISTORY = 10_000

    def __init__(
        self,
        lifts: Iterable[LiftLike],
        clock: Callable[[], float] = time.monotonic,
        hold_timeout_s: float = 600.0,
    ) -> None:
        if hold_timeout_s <= 0:
            raise ValueError("hold_timeout_s: must be positive seconds")
        self._clock = clock
        self._hold_timeout_s = hold_timeout_s
        self._lifts: dict[str, _Lift] = {}
        for lf in lifts:
            spec = lf if isinstance(lf, LiftSpec) else LiftSpec(lf.id, lf.building, tuple(lf.floors), lf.capacity)
            if spec.id in self._lifts:
                raise ValueError(f"lifts: duplicate lift id '{spec.id}'")
            self._lifts[spec.id] = _Lift(spec)
        self._requests: OrderedDict[str, _Request] = OrderedDict()
        self._alerts: list[Alert] = []
        #: Bumped on every change a LiftState subscriber would see.
        self.version = 0

    @classmethod
    def from_campus(cls, campus: object, **kwargs: float | Callable[[], float]) -> LiftManager:
        """One managed lift per lift of a hospital_ops.campus.Campus."""
        return cls(campus.lifts, **kwargs)  # type: ignore[attr-defined, arg-type]

    # ---- queries ----------------------------------------------------------------------------
    @property
    def lift_ids(self) -> list[str]:
        return list(self._lifts)

    def views(self) -> list[LiftView]:
        out = []
        for lf in self._lifts.values():
            out.append(
                LiftView(
                    lift_id=lf.spec.id,
                    building=lf.spec.building,
                    in_service=lf.in_service,
                    reason=lf.reason,
                    capacity=lf.spec.capacity,
                    floors=lf.spec.floors,
                    riders=tuple(self._requests[r].robot_id for r in lf.riders),
                    queue=tuple(self._requests[r].robot_id for r in lf.queue),
                )
            )
        return out

    def wait_stats(self) -> list[WaitStats]:
        """Seconds (on the manager's clock) from request to grant, per lift."""
        return [
            WaitStats(
                lf.spec.id,
                len(lf.waits),
                sum(lf.waits) / len(lf.waits) if lf.waits else 0.0,
                max(lf.waits, default=0.0),
            )
            for lf in self._lifts.values()
        ]

    def drain_alerts(self) -> list[Alert]:
        out, self._alerts = self._alerts, []
        return out

    # ---- calls ------------------------------------------------------------------------------
    def handle(self, call: LiftCall) -> LiftReply:
        """Answer one call; usable directly as a :data:`LiftClient`."""
        match call.op:
            case LiftOp.REQUEST:
                return self.request(call)
            case LiftOp.STATUS:
                return self.status(call.request_id)
            case LiftOp.RELEASE:
                return self.release(call.request_id)
            case LiftOp.CANCEL:
                return self.cancel(call.request_id)
        return LiftReply(LiftStatus.REFUSED, call.request_id, message=f"op: unknown operation {call.op!r}")

    __call__ = handle

    def request(self, call: LiftCall) -> LiftReply:
        refused = self._check(call)
        if refused is not None:
            return LiftReply(LiftStatus.REFUSED, call.request_id, call.lift_id, message=refused)
        old = self._requests.get(call.request_id)
        if old is not None:
            if old.robot_id != call.robot_id:
                return LiftReply(
                    LiftStatus.REFUSED,
                    call.request_id,
                    message=f"request_id: '{call.request_id}' belongs to robot {old.robot_id}",
                )
            if old.status in _LIVE:
                return self.status(call.request_id)  # a retried request: same answer
            return LiftReply(
                LiftStatus.REFUSED, call.request_id, message=f"request_id: '{call.request_id}' was already used"
            )
        self._supersede(call.robot_id)
        req = _Request(call.request_id, call.robot_id, call.lift_id, call.from_floor, call.to_floor, self._clock())
        self._remember(req)
        lift = self._lifts[call.lift_id]
        if not lift.in_service:
            alt = self._alternative(lift.spec, call.from_floor, call.to_floor)
            if alt is None:
                req.status = LiftStatus.OUT_OF_SERVICE
                req.message = self._oos_message(lift)
                self.version += 1
                return self.status(req.request_id)
            req.rerouted_from, req.lift_id = lift.spec.id, alt.spec.id
            lift = alt
        lift.queue.append(req.request_id)
        self._dispatch(lift)
        self.version += 1
        return self.status(req.request_id)

    def status(self, request_id: str) -> LiftReply:
        req = self._requests.get(request_id)
        if req is None:
            return LiftReply(LiftStatus.UNKNOWN, request_id, message=f"request_id: no request '{request_id}'")
        position = 0
        if req.status is LiftStatus.QUEUED:
            position = self._lifts[req.lift_id].queue.index(request_id) + 1
        return LiftReply(req.status, request_id, req.lift_id, position, req.rerouted_from, req.message)

    def release(self, request_id: str) -> LiftReply:
        """The robot left the car (or never boarded): free its place."""
        req = self._requests.get(request_id)
        if req is None:
            return self.status(request_id)
        if req.status is LiftStatus.QUEUED:
            return self.cancel(request_id)
        if req.status is LiftStatus.GRANTED:
            lift = self._lifts[req.lift_id]
            lift.riders.remove(request_id)
            req.status = LiftStatus.RELEASED
            req.message = ""
            self._dispatch(lift)
            self.version += 1
        return self.status(request_id)

    def cancel(self, request_id: str) -> LiftReply:
        """The robot no longer wants the lift (leg cancelled); a granted place is freed too."""
        req = self._requests.get(request_id)
        if req is None:
            return self.status(request_id)
        lift = self._lifts[req.lift_id]
        if req.status is LiftStatus.QUEUED:
            lift.queue.remove(request_id)
        elif req.status is LiftStatus.GRANTED:
            lift.riders.remove(request_id)
        else:
            return self.status(request_id)
        req.status = LiftStatus.CANCELLED
        self._dispatch(lift)
        self.version += 1
        return self.status(request_id)

    def set_in_service(self, lift_id: str, in_service: bool, reason: str = "", at_s: int = 0) -> ServiceChange:
        """Take a lift out of service (moving its queue elsewhere) or put it back."""
        if lift_id not in self._lifts:
            raise ValueError(f"lift_id: unknown lift '{lift_id}'")
        lift = self._lifts[lift_id]
        if in_service:
            lift.in_service, lift.reason = True, ""
            self._dispatch(lift)
            self.version += 1
            return ServiceChange(lift_id, True)
        lift.in_service, lift.reason = False, reason or "out of service"
        rerouted: list[tuple[str, str]] = []
        stranded: list[str] = []
        touched: set[str] = set()
        while lift.queue:
            rid = lift.queue.popleft()
            req = self._requests[rid]
            alt = self._alternative(lift.spec, req.from_floor, req.to_floor)
            if alt is None:
                req.status = LiftStatus.OUT_OF_SERVICE
                req.message = self._oos_message(lift)
                stranded.append(req.robot_id)
            else:
                req.lift_id, req.rerouted_from = alt.spec.id, lift_id
                alt.queue.append(rid)
                touched.add(alt.spec.id)
                rerouted.append((req.robot_id, alt.spec.id))
        for other in sorted(touched):
            self._dispatch(self._lifts[other])
        msg = f"lift {lift_id} out of service ({lift.reason})"
        if rerouted:
            msg += "; moved " + ", ".join(f"{r}→{lf}" for r, lf in rerouted)
        if stranded:
            msg += "; no other lift for " + ", ".join(stranded)
        self._alerts.append(
            Alert(
                AlertCode.LIFT_OUT_OF_SERVICE,
                Severity.CRITICAL if stranded else Severity.WARNING,
                msg,
                at_s,
                location=f"{lift.spec.building}",
            )
        )
        self.version += 1
        return ServiceChange(lift_id, False, tuple(rerouted), tuple(stranded))

    def tick(self, at_s: int = 0) -> list[str]:
        """Force-release grants held longer than ``hold_timeout_s`` (a robot that died in the car).

        Returns the request ids released; raises a LIFT_TIMEOUT alert for each.
        """
        now = self._clock()
        freed: list[str] = []
        for lift in self._lifts.values():
            for rid in list(lift.riders):
                req = self._requests[rid]
                if req.granted_at is not None and now - req.granted_at > self._hold_timeout_s:
                    freed.append(rid)
                    self.release(rid)
                    req.message = f"force-released after {self._hold_timeout_s:.0f} s"
                    self._alerts.append(
                        Alert(
                            AlertCode.LIFT_TIMEOUT,
                            Severity.WARNING,
                            f"robot {req.robot_id} held lift {lift.spec.id} for more than "
                            f"{self._hold_timeout_s:.0f} s; released it",
                            at_s,
                            robot_id=req.robot_id,
                        )
                    )
        return freed

    # ---- internals --------------------------------------------------------------------------
    def _check(self, call: LiftCall) -> str | None:
        if not call.request_id:
            return "request_id: must not be empty"
        if not call.robot_id:
            return "robot_id: must not be empty"
        lift = self._lifts.get(call.lift_id)
        if lift is None:
            return f"lift_id: unknown lift '{call.lift_id}'"
        if call.building and call.building != lift.spec.building:
            return f"building: lift {call.lift_id} is in {lift.spec.building}, not {call.building}"
        for name, floor in (("from_floor", call.from_floor), ("to_floor", call.to_floor)):
            if floor not in lift.spec.floors:
                return f"{name}: lift {call.lift_id} does not serve floor '{floor}'"
        if call.from_floor == call.to_floor:
            return f"to_floor: same as from_floor ('{call.from_floor}')"
        return None

    def _supersede(self, robot_id: str) -> None:
        """A robot is in one place: a new request ends its older live ones."""
        for rid, req in list(self._requests.items()):
            if req.robot_id == robot_id and req.status in _LIVE:
                self.cancel(rid)
                req.message = "superseded by a newer request of the same robot"

    def _alternative(self, spec: LiftSpec, from_floor: str, to_floor: str) -> _Lift | None:
        """The least loaded in-service lift of the same building serving both floors."""
        best: tuple[float, str] | None = None
        for lf in self._lifts.values():
            if (
                lf.spec.id == spec.id
                or lf.spec.building != spec.building
                or not lf.in_service
                or from_floor not in lf.spec.floors
                or to_floor not in lf.spec.floors
            ):
                continue
            load = (len(lf.queue) + len(lf.riders)) / lf.spec.capacity
            if best is None or (load, lf.spec.id) < best:
                best = (load, lf.spec.id)
        return None if best is None else self._lifts[best[1]]

    def _oos_message(self, lift: _Lift) -> str:
        return (
            f"lift {lift.spec.id} is out of service ({lift.reason}) and no other lift of building "
            f"{lift.spec.building} serves these floors"
        )

    def _dispatch(self, lift: _Lift) -> None:
        while lift.in_service and lift.queue and len(lift.riders) < lift.spec.capacity:
            rid = lift.queue.popleft()
            req = self._requests[rid]
            req.status = LiftStatus.GRANTED
            req.granted_at = self._clock()
            lift.waits.append(req.granted_at - req.requested_at)
            lift.riders.append(rid)

    def _remember(self, req: _Request) -> None:
        self._requests[req.request_id] = req
        excess = len(self._requests) - self.HISTORY
        if excess > 0:
            finished = [r for r, q in self._requests.items() if q.status not in _LIVE]
            for rid in finished[:excess]:  # oldest first; live requests are never forgotten
                del self._requests[rid]


def always_grant(call: LiftCall) -> LiftReply:
    """A lift client for a robot running alone: every lift is free at once."""
    status = {
        LiftOp.REQUEST: LiftStatus.GRANTED,
        LiftOp.STATUS: LiftStatus.GRANTED,
        LiftOp.RELEASE: LiftStatus.RELEASED,
        LiftOp.CANCEL: LiftStatus.CANCELLED,
    }[call.op]
    return LiftReply(status, call.request_id, call.lift_id)
