"""What the kiosk screens do with the store, the identity service and the triage engine.

Flask-free: the views and the JSON API call these functions with the store, a
:class:`KioskContext` and a :class:`Visit`. A visit is the state of one patient at one kiosk
between "Start" and "Finish": everything already accepted (check-in, answers, vitals) stays in it
while a later step is corrected, and what must be kept is written to the store at once
(patients, consents, check-ins, triage results, alerts), before the screen answers. Between
requests a visit lives in a :class:`Visits` store: sealed in the product database
(``triage_kiosk.web.visits.SqlVisitStore``, shared by every web worker) or, for one process,
in memory (:class:`VisitStore`).

"Today" (today's appointment, age from the year of birth, queue numbers) is the hospital's local
day (:attr:`KioskContext.tz`), not the UTC day.

A patient with a booked appointment for today is checked in for it as soon as they are identified
(:func:`arrive_for_today`): the appointment becomes ``arrived`` in the store, the check-in carries
its id, and the visit remembers where to go and the hospital's "pay later" (credit care) status.
No payment is ever taken at the kiosk.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Final, Protocol

import numpy as np

from hospital_ops.domain import CheckIn, CheckInMethod, Patient, Sex, TriageResult, Vitals
from hospital_ops.store import Alert, Store, TriageRecord
from hospital_ops.store.orders import AppointmentRecord, Arrival
from triage_kiosk.identity.consent import FACE_ID_PURPOSE, Consent
from triage_kiosk.identity.errors import EnrolmentRefused, IdentityError, InvalidIdNumber, QrTokenError
from triage_kiosk.identity.fallback import QrTokenCodec, ReplayGuard, ResidentIdHasher, validate_resident_id
from triage_kiosk.identity.liveness import Challenge, choose_challenge
from triage_kiosk.identity.service import IdentityService, MatchStatus
from triage_kiosk.triage.engine import TriageEngine
from triage_kiosk.triage.model import TriageInput
from triage_kiosk.triage.ruleset import Modifier
from triage_kiosk.web.forms import Answers, Registration

log = logging.getLogger(__name__)

#: Version of the face-template consent wording shown on the registration screen.
CONSENT_VERSION: Final = "face-id-2026-11"
#: Face attempts per visit before the kiosk sends the patient to the ID / QR screen.
MAX_FACE_ATTEMPTS: Final = 3
#: A visit left alone this long is forgotten (the patient walked away).
VISIT_TTL_S: Final = 30 * 60
ALERT_KIND: Final = "triage.red_flag"
_NOT_RECOGNISED: Final = (
    "We could not recognise you. Please use your ID card or the hospital app QR code.",
    "未能识别您的身份，请使用身份证或医院App二维码。",
)
QUEUE_PREFIX: Final = {"resuscitation": "R", "ed_acute": "A", "ed_fast_track": "F"}
#: Appointment statuses the kiosk checks a patient in from (booked, pending) or shows as done.
APPOINTMENT_STATUSES: Final = ("booked", "pending", "arrived", "checked-in")
ARRIVED_STATUSES: Final = frozenset({"arrived", "checked-in"})


@dataclass(frozen=True)
class AppointmentArrival:
    """A patient checked in at the kiosk for today's appointment: what the screen tells them."""

    appointment_id: str
    #: Campus OUTPATIENT_DEPT location id (None: the HIS gave no department).
    department: str | None
    #: Department name (en, zh) and where it is (en, zh).
    name: tuple[str, str]
    where: tuple[str, str]
    #: The hospital's "pay later" (credit care) status; None = unknown.
    credit_care: bool | None
    #: The appointment was already checked in before this visit.
    already: bool
    start_s: int | None


@dataclass
class Visit:
    id: str
    kiosk_id: str
    started_s: float
    touched_s: float
    face_consent: bool | None = None
    challenge: Challenge | None = None
    face_attempts: int = 0
    #: Frontal frames of a live but unknown face, kept only until registration ends.
    enrol_frames: list[np.ndarray] = field(default_factory=list, repr=False)
    unknown: str | None = None  # "face" or "id": why registration is offered
    id_number: str | None = field(default=None, repr=False)
    patient: Patient | None = None
    method: CheckInMethod | None = None
    check_in_id: str | None = None
    notice: tuple[str, str] | None = None
    complaints: tuple[str, ...] = ()
    complaint_text: str = ""
    complaint_done: bool = False
    answers: Answers | None = None
    vitals: Vitals | None = None
    vitals_source: str = "staff"
    device_vitals: dict[str, float] = field(default_factory=dict)
    #: Today's appointment this visit checked the patient in for (None: a walk-in).
    arrival: AppointmentArrival | None = None
    #: What a booked patient chose: "as_booked" (go to the appointment) or "triage" (be assessed).
    appointment_choice: str | None = None
    result: TriageResult | None = None
    triage_id: int | None = None
    queue: str | None = None
    alert_id: int | None = None
    #: Raw values of each form as last submitted (re-shown after an error).
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Digest of the state as last loaded or saved (a shared store writes only what changed).
    _digest: str | None = field(default=None, repr=False, compare=False)

    def age(self, today: date) -> float | None:
        if self.patient is not None and self.patient.birth_year is not None:
            return float(max(0, today.year - self.patient.birth_year))
        return None

    def step(self) -> str:
        """The furthest screen this visit may show."""
        if self.result is not None:
            return "result"
        if self.patient is None or self.check_in_id is None:
            if self.unknown is not None:
                return "register"
            return "consent" if self.face_consent is None else ("camera" if self.face_consent else "fallback")
        if self.arrival is not None and self.appointment_choice != "triage":
            return "appointment"
        if not self.complaint_done:
            return "complaint"
        if self.answers is None:
            return "questions"
        return "vitals"

    def forget_frames(self) -> None:
        for f in self.enrol_frames:
            f.fill(0)
        self.enrol_frames.clear()


class Visits(Protocol):
    """Where visits live between requests: :class:`VisitStore` (this process's memory) or
    ``triage_kiosk.web.visits.SqlVisitStore`` (the product store, shared by every web worker).

    ``get`` marks the visit used; whoever changes a visit calls ``save`` before answering."""

    def new(self, kiosk_id: str) -> Visit: ...

    def get(self, visit_id: str | None, kiosk_id: str) -> Visit | None: ...

    def save(self, visit: Visit) -> None: ...

    def end(self, visit_id: str | None) -> None: ...

    def __len__(self) -> int: ...


class VisitStore:
    """Visits in memory, forgotten after a TTL: for one web process (tests, a single kiosk
    server); several workers need the shared ``SqlVisitStore``."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl_s: float = VISIT_TTL_S) -> None:
        self._visits: dict[str, Visit] = {}
        self._lock = threading.Lock()
        self.clock = clock
        self.ttl_s = ttl_s

    def new(self, kiosk_id: str) -> Visit:
        now = self.clock()
        v = Visit(id=secrets.token_urlsafe(12), kiosk_id=kiosk_id, started_s=now, touched_s=now)
        with self._lock:
            self._expire(now)
            self._visits[v.id] = v
        return v

    def get(self, visit_id: str | None, kiosk_id: str) -> Visit | None:
        if not visit_id:
            return None
        now = self.clock()
        with self._lock:
            self._expire(now)
            v = self._visits.get(visit_id)
            if v is None or v.kiosk_id != kiosk_id:
                return None
            v.touched_s = now
            return v

    def save(self, visit: Visit) -> None:
        """Nothing to do: the visit object itself is kept."""

    def end(self, visit_id: str | None) -> None:
        with self._lock:
            v = self._visits.pop(visit_id or "", None)
        if v is not None:
            v.forget_frames()

    def _expire(self, now: float) -> None:
        for vid in [k for k, v in self._visits.items() if now - v.touched_s > self.ttl_s]:
            self._visits.pop(vid).forget_frames()

    def __len__(self) -> int:
        with self._lock:
            return len(self._visits)


@dataclass
class KioskContext:
    """The kiosk room bound to the app (``app.extensions["triage_kiosk"]``)."""

    engine: TriageEngine
    visits: Visits
    #: Built on first use (loads dlib); None when no biometric key is configured.
    identity_factory: Callable[[], IdentityService] | None = None
    id_hasher: ResidentIdHasher | None = None
    qr_codec: QrTokenCodec | None = None
    replay: ReplayGuard = field(default_factory=ReplayGuard)
    challenges: tuple[Challenge, ...] = tuple(Challenge)
    max_face_attempts: int = MAX_FACE_ATTEMPTS
    #: Camera burst the screen sends per attempt (frames × interval ≈ 4 s: time to turn and come back).
    capture_frames: int = 20
    capture_interval_ms: int = 200
    clock: Callable[[], float] = time.time
    #: The campus (department names, where they are); the default campus when None.
    campus: Any = None
    #: Identifier systems of the hospital's MRN (appointments name their patient by MRN).
    mrn_systems: tuple[str, ...] = ()
    #: The hospital's time zone: "today" (appointments, age, queue numbers) is its local day.
    tz: tzinfo = UTC
    _red_flags: tuple[Modifier, ...] | None = field(default=None, repr=False)
    _identity: IdentityService | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _queue_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def face_enabled(self) -> bool:
        return self.identity_factory is not None or self._identity is not None

    def identity(self) -> IdentityService:
        with self._lock:
            if self._identity is None:
                if self.identity_factory is None:
                    raise IdentityError("face check-in is not configured (no biometric key)")
                self._identity = self.identity_factory()
            return self._identity

    def new_challenge(self) -> Challenge:
        return choose_challenge(secrets.randbits(64), self.challenges)

    def today(self) -> date:
        """The hospital's local date now (campus clock, :attr:`tz`)."""
        return self.local_date(self.clock())

    def local_date(self, at: float | datetime) -> date:
        """The hospital's local date of a campus-clock time (seconds) or an aware datetime."""
        if isinstance(at, datetime):
            return at.astimezone(self.tz).date()
        return datetime.fromtimestamp(at, self.tz).date()

    def the_campus(self) -> Any:
        if self.campus is None:
            from hospital_ops.campus import default_campus

            self.campus = default_campus()
        return self.campus

    def red_flags(self) -> tuple[Modifier, ...]:
        """The kiosk questions that on their own make the ruleset escalate (ask a booked patient these)."""
        if self._red_flags is None:
            rs = self.engine.ruleset
            self._red_flags = tuple(
                m
                for code, m in rs.modifiers.items()
                if self.engine.assess(TriageInput(age=40.0, modifiers=frozenset({code}))).escalate
            )
        return self._red_flags


# -- check-in ------------------------------------------------------------------------------------


def check_in(store: Store, ctx: KioskContext, visit: Visit, patient: Patient, method: CheckInMethod) -> CheckIn:
    """Record the check-in (in the store before the screen moves on) and bind it to the visit.

    A booked appointment for today is checked in first (``arrived`` in the store) and the check-in
    refers to it; the visit then shows the appointment screen instead of the triage questions."""
    arrival = arrive_for_today(store, ctx, visit, patient)
    rec = store.add_check_in(
        CheckIn(
            id=f"C-{secrets.token_hex(6).upper()}",
            patient_id=patient.id,
            kiosk_id=visit.kiosk_id,
            method=method,
            at_s=int(ctx.clock()),
            appointment_id=arrival.appointment_id if arrival is not None else None,
        ),
        actor=visit.kiosk_id,
    )
    visit.patient, visit.method, visit.check_in_id = patient, method, rec.id
    visit.unknown = None
    visit.arrival, visit.appointment_choice = arrival, None
    return rec


# -- appointments --------------------------------------------------------------------------------


def todays_appointment(store: Store, ctx: KioskContext, patient: Patient) -> AppointmentRecord | None:
    """The patient's appointment for today (campus clock, the hospital's local day) to check in
    for: one not yet arrived nearest to now, else one already arrived; None when there is none today."""
    from hospital_ops.store import orders

    found = {a.id: a for a in orders.list_appointments(store, patient_id=patient.id, status=APPOINTMENT_STATUSES)}
    for system in ctx.mrn_systems:
        for a in orders.list_appointments(
            store, patient_identifier=f"{system}|{patient.mrn}", status=APPOINTMENT_STATUSES
        ):
            if a.patient_id in (None, patient.id):
                found.setdefault(a.id, a)
    today, now = ctx.today(), ctx.clock()
    todays = [a for a in found.values() if a.start_s is not None and ctx.local_date(a.start_s) == today]
    if not todays:
        return None
    return min(todays, key=lambda a: (a.status in ARRIVED_STATUSES, abs((a.start_s or 0) - now), a.id))


def arrive_for_today(store: Store, ctx: KioskContext, visit: Visit, patient: Patient) -> AppointmentArrival | None:
    """Check the patient in for today's appointment (persisted and audited before this returns)."""
    from hospital_ops.store import InvalidInputError, NotFoundError, orders
    from triage_kiosk.web.text import both

    appt = todays_appointment(store, ctx, patient)
    if appt is None:
        return None
    try:
        arrival = orders.arrive_appointment(
            store, actor=visit.kiosk_id, appointment_id=appt.id, patient_id=patient.id, now_s=int(ctx.clock())
        )
    except (InvalidInputError, NotFoundError) as exc:  # changed by the HIS meanwhile: go on as a walk-in
        log.warning("appointment check-in failed at %s: %s", visit.kiosk_id, exc)
        visit.notice = both("appointment.failed")
        return None
    return describe_arrival(ctx, visit.kiosk_id, arrival)


def describe_arrival(ctx: KioskContext, kiosk_id: str, arrival: Arrival) -> AppointmentArrival:
    """Department name and directions (building, floor; time and lift from this kiosk when the
    kiosk is a campus location) of an :class:`~hospital_ops.store.orders.Arrival`."""
    from triage_kiosk.web.text import both

    campus = ctx.the_campus()
    dept = arrival.department
    loc = campus.locations.get(dept or "")
    if loc is None:
        name = (dept, dept) if dept else both("appointment.no_department")
        where = both("appointment.ask_desk")
    else:
        name = (loc.name or loc.id, loc.name_zh or loc.name or loc.id)
        building = campus.buildings.get(loc.building)
        b_en = building.name if building is not None else loc.building
        b_zh = building.name_zh if building is not None and building.name_zh else b_en
        floor_zh = f"{loc.floor}楼" if loc.floor.isdigit() else f"{loc.floor}层"
        where_en, where_zh = f"{b_en}, floor {loc.floor}", f"{b_zh}{floor_zh}"
        if kiosk_id in campus.locations and kiosk_id != loc.id:
            try:
                route = campus.route(kiosk_id, loc.id)
            except (KeyError, ValueError):  # pragma: no cover - every campus location is reachable
                route = None
            if route is not None:
                minutes = max(1, round(route.seconds / 60))
                lifts = [leg.lift for leg in route.legs if leg.kind == "lift" and leg.lift]
                where_en += f" (about {minutes} min from here" + (f", lift {lifts[0]})" if lifts else ")")
                where_zh += f"（从这里约{minutes}分钟" + (f"，乘{lifts[0]}电梯）" if lifts else "）")
        where = (where_en, where_zh)
    return AppointmentArrival(
        appointment_id=arrival.appointment.id,
        department=dept,
        name=name,
        where=where,
        credit_care=arrival.credit_care,
        already=arrival.already_arrived,
        start_s=arrival.appointment.start_s,
    )


@dataclass(frozen=True)
class FaceOutcome:
    status: str
    message: tuple[str, str]
    next_step: str | None
    retry: bool
    challenge: Challenge | None


def face_attempt(
    store: Store,
    ctx: KioskContext,
    visit: Visit,
    frames: list[np.ndarray],
    timestamps_s: list[float] | None,
) -> FaceOutcome:
    """Liveness + 1:N identification over one burst of camera frames."""
    identity = ctx.identity()
    challenge = visit.challenge or ctx.new_challenge()
    visit.face_attempts += 1
    res = identity.check_in(frames, challenge, kiosk_id=visit.kiosk_id, timestamps_s=timestamps_s)
    msg = (res.message_en, res.message_zh)
    store.audit(  # outcomes only (no pictures, no distances): failed attempts are worth watching
        visit.kiosk_id,
        "kiosk.face_attempt",
        f"kiosk:{visit.kiosk_id}",
        {
            "visit": visit.id,
            "attempt": visit.face_attempts,
            "challenge": challenge.value,
            "status": res.status.value,
            "liveness": None if res.liveness is None else res.liveness.reason.value,
        },
    )
    if res.status is MatchStatus.MATCHED and res.patient_id is not None and identity.store.get(res.patient_id) is None:
        # deleted on request by another process since this one loaded its index: forget it here too
        identity.index.remove(res.patient_id)
        visit.face_consent = False
        return FaceOutcome("no_match", _NOT_RECOGNISED, "fallback", False, None)
    if res.status is MatchStatus.MATCHED and res.patient_id is not None:
        patient = store.get_patient(res.patient_id)
        check_in(store, ctx, visit, patient, CheckInMethod.FACE)
        visit.forget_frames()
        return FaceOutcome("matched", msg, visit.step(), False, None)
    if res.status is MatchStatus.NO_MATCH and res.liveness is not None and res.liveness.passed:
        visit.forget_frames()
        visit.enrol_frames = _enrol_frames(frames, res.liveness)
        visit.unknown = "face"
        return FaceOutcome("no_match", msg, "register", False, None)
    if res.status is MatchStatus.AMBIGUOUS or visit.face_attempts >= ctx.max_face_attempts:
        visit.face_consent = False  # go on with the ID card / QR code
        return FaceOutcome(res.status.value, msg, "fallback", False, None)
    visit.challenge = ctx.new_challenge()
    return FaceOutcome(res.status.value, msg, None, True, visit.challenge)


def _enrol_frames(frames: list[np.ndarray], live: Any) -> list[np.ndarray]:
    """Up to three frontal, eyes-open frames of the live sequence (copies)."""
    picks: list[int] = []
    if live.baseline_index is not None:
        picks.append(live.baseline_index)
    for m in live.frames:
        if len(picks) >= 3:
            break
        if m.index in picks or m.d_yaw is None or abs(m.d_yaw) > 0.08:
            continue
        if m.eye_closure is not None and m.eye_closure < 0.85:
            continue
        picks.append(m.index)
    return [np.array(frames[i], copy=True) for i in picks]


def fallback_check_in(
    store: Store, ctx: KioskContext, visit: Visit, id_number: str, qr_token: str
) -> dict[str, tuple[str, str]]:
    """ID number or QR token: check in a known patient, or offer registration for an unknown ID."""
    from triage_kiosk.web.text import both

    if id_number:
        if ctx.id_hasher is None:
            return {"id_number": both("fallback.id_unavailable")}
        try:
            rid = validate_resident_id(id_number, today=ctx.today())
        except InvalidIdNumber as exc:
            reason = str(exc).split(": ", 1)[-1]
            return {"id_number": (str(exc), f"身份证号码：{_zh_id_reason(reason)}")}
        patient = store.find_patient(id_number_hash=ctx.id_hasher.hash(rid))
        if patient is None:
            visit.unknown, visit.id_number = "id", rid.number
            return {}
        check_in(store, ctx, visit, patient, CheckInMethod.ID_NUMBER)
        return {}
    if ctx.qr_codec is None:
        return {"qr_token": both("fallback.unavailable")}
    now_s = int(ctx.clock())
    try:
        claims = ctx.qr_codec.verify(qr_token, now_s=now_s)
        ctx.replay.use(claims, now_s=now_s)
    except QrTokenError as exc:
        return {
            "qr_token": (
                f"qr_token: {str(exc).removeprefix('qr: ')}",
                "二维码：无效、已过期或已使用，请在医院App中刷新",
            )
        }
    from hospital_ops.store import NotFoundError

    try:
        patient = store.get_patient(claims.patient_id)
    except NotFoundError:
        return {"qr_token": both("fallback.qr_unknown")}
    check_in(store, ctx, visit, patient, CheckInMethod.QR)
    return {}


def _zh_id_reason(reason: str) -> str:
    if "18 characters" in reason:
        return "必须是18位"
    if "check character" in reason:
        return "校验位不符（可能输错了一位）"
    if "birth date" in reason:
        return "出生日期无效"
    if "region" in reason:
        return "地区代码无效"
    return "格式无效"


@dataclass(frozen=True)
class RegistrationOutcome:
    patient: Patient
    enrolled: bool
    notice: tuple[str, str] | None


def register(
    store: Store, ctx: KioskContext, visit: Visit, reg: Registration
) -> tuple[RegistrationOutcome | None, dict[str, tuple[str, str]]]:
    """Create the patient, record the face consent decision, enrol from the live frames if agreed,
    and check in. Problems come back per field (e.g. an ID number registered to someone else)."""
    from hospital_ops.store import DuplicateError
    from triage_kiosk.web.text import both

    id_number = reg.id_number or visit.id_number
    id_hash = None
    if id_number:
        if ctx.id_hasher is None:
            return None, {"id_number": both("fallback.id_unavailable")}
        try:
            id_hash = ctx.id_hasher.hash(id_number, today=ctx.today())
        except InvalidIdNumber as exc:
            reason = str(exc).split(": ", 1)[-1]
            return None, {"id_number": (str(exc), f"身份证号码：{_zh_id_reason(reason)}")}
    pid = f"P-{secrets.token_hex(5).upper()}"
    patient = Patient(
        id=pid,
        mrn=f"K{ctx.today():%Y%m%d}{secrets.token_hex(3).upper()}",
        name=reg.name,
        birth_year=reg.birth_year,
        sex=reg.sex,
        id_number_hash=id_hash,
        phone=reg.phone,
    )
    try:
        store.add_patient(patient, actor=visit.kiosk_id)
    except DuplicateError:
        return None, {
            "id_number": (
                "id_number: this ID number is already registered; check in with it instead",
                "身份证号码：该号码已登记，请直接用它签到",
            )
        }
    enrolled, notice = False, None
    if visit.enrol_frames:
        store.record_consent(pid, FACE_ID_PURPOSE, reg.enrol_face, actor=visit.kiosk_id, source=visit.kiosk_id)
        if reg.enrol_face:
            consent = Consent(
                patient_id=pid,
                text_version=CONSENT_VERSION,
                at=datetime.fromtimestamp(ctx.clock(), UTC),
                actor="self",
                source=visit.kiosk_id,
            )
            try:
                ctx.identity().enrol(pid, visit.enrol_frames, consent, actor=visit.kiosk_id)
                enrolled, notice = True, both("register.enrolled")
            except (EnrolmentRefused, ValueError) as exc:
                code = getattr(exc, "code", "invalid")
                notice = both("register.enrol_failed", reason=code)
    visit.forget_frames()
    method = CheckInMethod.FACE if visit.unknown == "face" else CheckInMethod.ID_NUMBER
    if visit.unknown is None or (method is CheckInMethod.ID_NUMBER and not id_hash):
        method = CheckInMethod.STAFF
    check_in(store, ctx, visit, patient, method)
    visit.notice = notice
    return RegistrationOutcome(patient, enrolled, notice), {}


# -- triage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageOutcome:
    result: TriageResult
    record: TriageRecord
    queue: str
    alert: Alert | None


def triage_input(visit: Visit, ctx: KioskContext) -> TriageInput:
    a = visit.answers or Answers()
    patient = visit.patient
    age = a.age if a.age is not None else visit.age(ctx.today())
    return TriageInput(
        age=age if age is not None else 0.0,
        sex=patient.sex if patient is not None else Sex.UNKNOWN,
        complaints=visit.complaints,
        complaint_text=visit.complaint_text,
        onset_hours=a.onset_hours,
        pain=a.pain,
        mental=a.mental,
        vitals=visit.vitals or Vitals(),
        arrival=a.arrival,
        injury=a.injury,
        pregnant=a.pregnant,
        modifiers=a.modifiers,
    )


def run_triage(
    store: Store,
    ctx: KioskContext,
    *,
    inp: TriageInput,
    patient_id: str,
    check_in_id: str | None,
    actor: str,
    kiosk_id: str,
    publish: Callable[[Alert], None] | None = None,
) -> TriageOutcome:
    """Assess, persist the result (and the vitals used), raise and publish the red-flag alert."""
    result = ctx.engine.assess(inp)
    record = store.add_triage_result(
        result, patient_id=patient_id, actor=actor, check_in_id=check_in_id, vitals=inp.vitals
    )
    alert = None
    if result.escalate:
        top = "; ".join(r.en for r in result.reasons[:3])
        alert = store.raise_alert(
            ALERT_KIND,
            f"Triage level {int(result.level)} at {kiosk_id}: patient {patient_id} — {top}",
            severity="critical",
            subject=f"patient:{patient_id}",
            actor=actor,
        )
        if publish is not None:
            publish(alert)
    return TriageOutcome(result, record, queue_number(store, ctx, result.destination, record), alert)


def queue_number(store: Store, ctx: KioskContext, destination: str, record: TriageRecord) -> str:
    """``A007``: a letter per destination and the count of today's results going there (the
    hospital's local day)."""
    prefix = QUEUE_PREFIX.get(destination, "O")
    today = ctx.local_date(record.at)
    with ctx._queue_lock:
        n = sum(
            1
            for r in store.triage_results(limit=5000)
            if r.result.destination == destination and ctx.local_date(r.at) == today and r.id <= record.id
        )
    return f"{prefix}{n:03d}"


def destination_label(engine: TriageEngine, code: str) -> tuple[str, str]:
    rs = engine.ruleset
    if code in rs.destinations:
        d = rs.destinations[code]
        return d.en, d.zh
    dept = code.removeprefix("opd_")
    if dept in rs.catalog.departments:
        d2 = rs.catalog.departments[dept]
        return f"Outpatient clinic: {d2.en}", f"门诊：{d2.zh}"
    if dept == rs.paediatric_department:
        return "Outpatient clinic: Paediatrics", "门诊：儿科"
    return code, code


def result_json(engine: TriageEngine, result: TriageResult) -> dict[str, Any]:
    from triage_kiosk.triage.ruleset import INPUT_LABELS

    en, zh = destination_label(engine, result.destination)
    return {
        "level": int(result.level),
        "escalate": result.escalate,
        "destination": result.destination,
        "destination_en": en,
        "destination_zh": zh,
        "reasons": [{"code": r.code, "en": r.en, "zh": r.zh, "level": r.level} for r in result.reasons],
        "missing": list(result.missing),
        "missing_labels": [
            {"en": INPUT_LABELS[m][0], "zh": INPUT_LABELS[m][1]} for m in result.missing if m in INPUT_LABELS
        ],
        "ruleset": result.ruleset,
    }
