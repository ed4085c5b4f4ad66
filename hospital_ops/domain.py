"""Domain types shared by every room: deliveries, robots, plans, custody, patients, triage.

Plain frozen dataclasses so the planner, the twin and the nodes can pass them around cheaply
and hash them. Times inside the planner are integer seconds on the campus clock (seconds since
the Unix epoch, UTC); timezone-aware datetimes appear only at the edges (store, HTTP, screens).
Each type checks its own invariants in ``__post_init__`` and raises ``ValueError`` naming the
field and the reason, so bad input never gets further than the constructor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Priority(StrEnum):
    """How soon a delivery is needed; the planner weights lateness by it."""

    STAT = "stat"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 = most urgent; for sorting."""
        return {"stat": 0, "urgent": 1, "routine": 2}[self.value]


#: Default promise from request to drop-off, seconds (hospital service levels).
DEFAULT_TURNAROUND_S: dict[Priority, int] = {
    Priority.STAT: 15 * 60,
    Priority.URGENT: 45 * 60,
    Priority.ROUTINE: 4 * 3600,
}


class TaskKind(StrEnum):
    MEDICATION = "medication"
    SPECIMEN = "specimen"
    SUPPLY = "supply"


class TaskStatus(StrEnum):
    """Life of a delivery. Terminal: DELIVERED, FAILED, CANCELLED."""

    REQUESTED = "requested"
    PLANNED = "planned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.DELIVERED, TaskStatus.FAILED, TaskStatus.CANCELLED)


#: Allowed status transitions; the store refuses anything else.
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.REQUESTED: frozenset({TaskStatus.PLANNED, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.PLANNED: frozenset(
        {TaskStatus.PLANNED, TaskStatus.REQUESTED, TaskStatus.PICKED_UP, TaskStatus.CANCELLED, TaskStatus.FAILED}
    ),
    TaskStatus.PICKED_UP: frozenset({TaskStatus.DELIVERED, TaskStatus.FAILED}),
    TaskStatus.DELIVERED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


class Capability(StrEnum):
    LOCKED_DRAWERS = "locked_drawers"  # needed for controlled substances
    COLD_BOX = "cold_box"  # needed for cold-chain items


@dataclass(frozen=True, slots=True)
class Handling:
    """Special handling of a delivery's contents."""

    cold_chain: bool = False
    controlled: bool = False
    #: Maximum seconds from pickup to drop-off (specimen stability), None = no limit.
    max_transit_s: int | None = None

    def __post_init__(self) -> None:
        if self.max_transit_s is not None and self.max_transit_s <= 0:
            raise ValueError(f"max_transit_s: must be positive seconds, got {self.max_transit_s}")

    def required_capabilities(self) -> frozenset[Capability]:
        caps: set[Capability] = set()
        if self.controlled:
            caps.add(Capability.LOCKED_DRAWERS)
        if self.cold_chain:
            caps.add(Capability.COLD_BOX)
        return frozenset(caps)


@dataclass(frozen=True, slots=True)
class DeliveryTask:
    """A request to carry items from a pickup point to a drop-off point."""

    id: str
    pickup: str
    dropoff: str
    priority: Priority
    earliest_s: int
    deadline_s: int
    kind: TaskKind = TaskKind.MEDICATION
    #: Drawer slots the items take.
    units: int = 1
    items: tuple[str, ...] = ()
    handling: Handling = field(default_factory=Handling)
    requester: str = ""
    #: Seconds at each end for the hand-over (PIN entry, drawer open/close).
    service_s: int = 60

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id: must not be empty")
        if not self.pickup:
            raise ValueError(f"task {self.id}: pickup: must not be empty")
        if not self.dropoff:
            raise ValueError(f"task {self.id}: dropoff: must not be empty")
        if self.pickup == self.dropoff:
            raise ValueError(f"task {self.id}: dropoff: same as pickup ({self.pickup})")
        if self.deadline_s < self.earliest_s:
            raise ValueError(
                f"task {self.id}: deadline_s: {self.deadline_s} is before earliest pickup {self.earliest_s}"
            )
        if self.units <= 0:
            raise ValueError(f"task {self.id}: units: must be at least 1, got {self.units}")
        if self.service_s < 0:
            raise ValueError(f"task {self.id}: service_s: must not be negative")


class RobotMode(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    CHARGING = "charging"
    FAULT = "fault"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Robot:
    """A delivery robot as the planner sees it (TUG / HOSPI class)."""

    id: str
    location: str
    #: Campus-clock second from which the robot can start new work at ``location``.
    available_s: int = 0
    capacity_units: int = 4
    capabilities: frozenset[Capability] = frozenset({Capability.LOCKED_DRAWERS})
    speed_mps: float = 1.0
    battery_pct: float = 100.0
    #: Battery used per kilometre travelled (percent points).
    consumption_pct_per_km: float = 4.0
    #: Never plan below this reserve; below it the robot must go to charge.
    min_battery_pct: float = 20.0
    mode: RobotMode = RobotMode.IDLE
    #: Tasks whose items are in the robot's drawers now (their drop-offs stay on this robot).
    on_board: tuple[str, ...] = ()
    home_dock: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id: must not be empty")
        if self.capacity_units <= 0:
            raise ValueError(f"robot {self.id}: capacity_units: must be at least 1")
        if self.speed_mps <= 0:
            raise ValueError(f"robot {self.id}: speed_mps: must be positive")
        if not 0.0 <= self.battery_pct <= 100.0:
            raise ValueError(f"robot {self.id}: battery_pct: {self.battery_pct} is outside 0..100")
        if self.consumption_pct_per_km < 0:
            raise ValueError(f"robot {self.id}: consumption_pct_per_km: must not be negative")

    def can_carry(self, task: DeliveryTask) -> bool:
        return task.handling.required_capabilities() <= self.capabilities and task.units <= self.capacity_units


class StopKind(StrEnum):
    PICKUP = "pickup"
    DROPOFF = "dropoff"
    CHARGE = "charge"


@dataclass(frozen=True, slots=True)
class Stop:
    kind: StopKind
    location: str
    #: Arrival (service start) on the campus clock.
    eta_s: int
    task_id: str | None = None
    departure_s: int | None = None


@dataclass(frozen=True, slots=True)
class RobotRoute:
    robot_id: str
    stops: tuple[Stop, ...] = ()
    distance_m: int = 0

    @property
    def task_ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in self.stops:
            if s.task_id is not None:
                seen.setdefault(s.task_id, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the planner decided: a route per robot, and what it could not serve and why."""

    routes: tuple[RobotRoute, ...]
    unassigned: dict[str, str] = field(default_factory=dict)
    created_s: int = 0
    solver: str = ""
    objective: int = 0

    def route_of(self, robot_id: str) -> RobotRoute | None:
        return next((r for r in self.routes if r.robot_id == robot_id), None)

    def robot_for(self, task_id: str) -> str | None:
        for r in self.routes:
            if any(s.task_id == task_id for s in r.stops):
                return r.robot_id
        return None

    def eta_of(self, task_id: str) -> int | None:
        """Promised drop-off time of a task, if planned."""
        for r in self.routes:
            for s in r.stops:
                if s.task_id == task_id and s.kind is StopKind.DROPOFF:
                    return s.eta_s
        return None


def station_badge(location: str) -> str:
    """The credential that opens a drawer at ``location`` for a delivery without a PIN.

    Orders from the hospital information system (FHIR) come with no receiver PIN: the staff at
    the stop open the drawer from their signed-in hand-over page, and the web app, having checked
    who they are and where they work, presents this credential to the robot on their behalf.
    """
    return f"station:{location}"


class CustodyKind(StrEnum):
    LOADED = "loaded"  # sender put the items in and locked the drawer
    DELIVERED = "delivered"  # receiver opened the drawer and took the items
    DENIED = "denied"  # wrong PIN or badge
    LOCKED_OUT = "locked_out"  # too many wrong PINs: drawer locked, alert raised
    RETURNED = "returned"  # items taken back (failed delivery, recovery)


@dataclass(frozen=True, slots=True)
class CustodyEvent:
    """One hand-over at one end of a delivery: who, where, when, how."""

    task_id: str
    robot_id: str
    kind: CustodyKind
    location: str
    at_s: int
    #: "pin" or "badge".
    method: str
    #: Badge id or staff id; never the PIN itself.
    actor: str = ""
    drawer: int = 0


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Patient:
    id: str
    mrn: str
    name: str
    birth_year: int | None = None
    sex: Sex = Sex.UNKNOWN
    #: Keyed hash of the national id number (never stored in clear).
    id_number_hash: str | None = None
    phone: str | None = None
    credit_care: bool = False


class CheckInMethod(StrEnum):
    FACE = "face"
    ID_NUMBER = "id_number"
    QR = "qr"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class CheckIn:
    id: str
    patient_id: str
    kiosk_id: str
    method: CheckInMethod
    at_s: int
    appointment_id: str | None = None


class Mental(StrEnum):
    """AVPU scale."""

    ALERT = "alert"
    VOICE = "voice"
    PAIN = "pain"
    UNRESPONSIVE = "unresponsive"


@dataclass(frozen=True, slots=True)
class Vitals:
    """Measured vital signs; None means not measured (never assumed normal)."""

    heart_rate: float | None = None
    resp_rate: float | None = None
    systolic_bp: float | None = None
    diastolic_bp: float | None = None
    temperature_c: float | None = None
    spo2: float | None = None


class TriageLevel(IntEnum):
    """1 = resuscitation (most urgent) … 5 = non-urgent (ESI / KTAS numbering)."""

    RESUSCITATION = 1
    EMERGENT = 2
    URGENT = 3
    LESS_URGENT = 4
    NON_URGENT = 5


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that fired, in both languages of the patient screens."""

    code: str
    en: str
    zh: str
    level: int


@dataclass(frozen=True, slots=True)
class TriageResult:
    level: TriageLevel
    reasons: tuple[Reason, ...]
    destination: str
    escalate: bool
    #: Inputs that were missing and must be measured or asked (never assumed normal).
    missing: tuple[str, ...] = ()
    ruleset: str = ""

    def __post_init__(self) -> None:
        if not self.reasons:
            raise ValueError("reasons: a triage result must explain itself")
