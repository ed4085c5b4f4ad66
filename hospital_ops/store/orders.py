"""External orders and appointments from the hospital information system (HIS), by FHIR identifier.

Tables (migration 0004):

- ``fhir_orders``: one row per order the HIS sent (MedicationRequest, ServiceRequest), keyed by its
  business identifier ``system|value`` (unique): the FHIR logical id we gave it, its request
  status, the delivery task it created (if any), the patient's identifier and the resource as
  received (last version). This is what makes the intake idempotent: an identifier seen before
  never creates a second delivery.
- ``fhir_appointments``: booked outpatient visits (Appointment), by identifier, with the campus
  department and the patient, so a kiosk can check a patient in for one.

Repository functions take a :class:`~hospital_ops.store.Store` and keep its rules: one write
transaction per call (a batch, e.g. a FHIR transaction Bundle, is all-or-nothing), committed
before they return, audited, task status changes through ``TASK_TRANSITIONS`` with history rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hospital_ops.domain import DeliveryTask, Patient, TaskStatus
from hospital_ops.store.errors import DuplicateError, InvalidInputError, NotFoundError
from hospital_ops.store.models import AlertRow, Base, JSONType, PatientRow, TaskRow

if TYPE_CHECKING:
    from hospital_ops.store.repository import Store

#: FHIR request statuses that withdraw an order (ServiceRequest revoked, MedicationRequest cancelled /
#: stopped, both entered-in-error): its delivery is cancelled, or an alert raised.
CANCELLING_STATUSES = frozenset({"revoked", "cancelled", "stopped", "entered-in-error"})
#: Appointment statuses a patient can still check in from.
ARRIVABLE_STATUSES = frozenset({"booked", "pending", "proposed", "arrived", "checked-in"})
#: Delivery statuses in which a withdrawn order's delivery can still be stopped.
CANCELLABLE_TASK_STATUSES = frozenset({TaskStatus.REQUESTED.value, TaskStatus.PLANNED.value})


class FhirOrderRow(Base):
    """An order from the HIS (MedicationRequest / ServiceRequest) and the delivery it created."""

    __tablename__ = "fhir_orders"
    __table_args__ = (
        UniqueConstraint("identifier_system", "identifier_value", name="uq_fhir_orders_identifier"),
        Index("ix_fhir_orders_patient_identifier", "patient_identifier"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    identifier_system: Mapped[str] = mapped_column(String(255))
    identifier_value: Mapped[str] = mapped_column(String(128))
    #: FHIR request status as last received (active, revoked, completed, ...).
    status: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("tasks.id"), index=True)
    #: "system|value" of the patient the order is for.
    patient_identifier: Mapped[str | None] = mapped_column(String(300))
    resource: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: Why the order created no delivery, or what happened on withdrawal.
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FhirAppointmentRow(Base):
    """A booked outpatient visit from the HIS, checked in at a kiosk."""

    __tablename__ = "fhir_appointments"
    __table_args__ = (
        UniqueConstraint("identifier_system", "identifier_value", name="uq_fhir_appointments_identifier"),
        Index("ix_fhir_appointments_patient_identifier", "patient_identifier"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identifier_system: Mapped[str] = mapped_column(String(255))
    identifier_value: Mapped[str] = mapped_column(String(128))
    #: FHIR Appointment status (booked, arrived, cancelled, ...).
    status: Mapped[str] = mapped_column(String(32))
    patient_identifier: Mapped[str | None] = mapped_column(String(300))
    #: Our patient, when the MRN is known to the store.
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Campus OUTPATIENT_DEPT location id.
    department: Mapped[str | None] = mapped_column(String(64))
    start_s: Mapped[int | None] = mapped_column(BigInteger)
    resource: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    arrived_at: Mapped[datetime | None]


# ---- what goes in ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderIntake:
    """An order as the mapping understood it (see ``hospital_ops.fhir.mapping``)."""

    order_id: str
    resource_type: str
    identifier: tuple[str, str]
    status: str
    resource: dict[str, Any]
    #: The delivery to create when the order is new and active; None = no delivery (see note).
    task: DeliveryTask | None = None
    ward: str | None = None
    patient_identifier: str | None = None
    note: str = ""

    @property
    def cancels(self) -> bool:
        return self.status in CANCELLING_STATUSES


@dataclass(frozen=True, slots=True)
class PatientIntake:
    patient: Patient
    resource: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AppointmentIntake:
    appointment_id: str
    identifier: tuple[str, str]
    status: str
    resource: dict[str, Any]
    patient_identifier: str | None = None
    #: MRN of the patient, when the identifier is the hospital's MRN (links to a stored patient).
    patient_mrn: str | None = None
    department: str | None = None
    start_s: int | None = None


Intake = OrderIntake | PatientIntake | AppointmentIntake

Outcome = Literal["created", "exists", "updated", "cancelled", "alerted", "recorded"]


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What one intake item did: ``created`` (new record), ``exists`` (seen before, nothing
    changed), ``updated``, ``cancelled`` (its delivery was stopped), ``alerted`` (withdrawn after
    pickup: staff alerted), ``recorded`` (stored, no delivery; see ``message``)."""

    resource_type: str
    id: str
    outcome: Outcome
    task_id: str | None = None
    alert_id: int | None = None
    message: str = ""
    #: A new record was stored (an order without a delivery is new but "recorded").
    new: bool = False

    @property
    def created(self) -> bool:
        return self.outcome == "created" or self.new


# ---- what comes out --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: str
    resource_type: str
    identifier: tuple[str, str]
    status: str
    task_id: str | None
    patient_identifier: str | None
    resource: dict[str, Any]
    note: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    id: str
    identifier: tuple[str, str]
    status: str
    patient_identifier: str | None
    patient_id: str | None
    department: str | None
    start_s: int | None
    resource: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    arrived_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """A patient checked in for an appointment: where to go and whether they may pay later."""

    appointment: AppointmentRecord
    department: str | None
    #: The hospital's "pay later" (credit care) status of the patient; None = patient not known.
    credit_care: bool | None
    patient_id: str | None
    already_arrived: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _order(row: FhirOrderRow) -> OrderRecord:
    return OrderRecord(
        id=row.id,
        resource_type=row.resource_type,
        identifier=(row.identifier_system, row.identifier_value),
        status=row.status,
        task_id=row.task_id,
        patient_identifier=row.patient_identifier,
        resource=dict(row.resource),
        note=row.note,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _appointment(row: FhirAppointmentRow) -> AppointmentRecord:
    return AppointmentRecord(
        id=row.id,
        identifier=(row.identifier_system, row.identifier_value),
        status=row.status,
        patient_identifier=row.patient_identifier,
        patient_id=row.patient_id,
        department=row.department,
        start_s=row.start_s,
        resource=dict(row.resource),
        created_at=row.created_at,
        updated_at=row.updated_at,
        arrived_at=row.arrived_at,
    )


# ---- the intake: one transaction for a whole batch -------------------------------------------


def apply_intake(store: Store, items: Sequence[Intake], *, actor: str) -> list[IntakeResult]:
    """Apply a batch (one resource, or a transaction Bundle's entries) in ONE transaction.

    Either every item is applied and committed before this returns, or (on any error) nothing
    is. Idempotent by business identifier: an order or appointment seen before creates nothing
    new; a patient whose MRN is known creates nothing new. A withdrawn order (revoked /
    entered-in-error) cancels its delivery when it has not been picked up, else raises an alert.
    A concurrent writer of the same identifier makes this raise ``DuplicateError``; calling
    again then finds the record (see :func:`apply_intake_retrying`).
    """
    from hospital_ops.store import convert

    actor = convert.text(actor, "actor")
    results: list[IntakeResult] = []
    with store._write() as s:
        for item in items:
            if isinstance(item, OrderIntake):
                results.append(_apply_order(store, s, item, actor))
            elif isinstance(item, PatientIntake):
                results.append(_apply_patient(store, s, item, actor))
            elif isinstance(item, AppointmentIntake):
                results.append(_apply_appointment(store, s, item, actor))
            else:  # pragma: no cover - typing guards this
                raise InvalidInputError(f"intake: cannot apply {type(item).__name__}")
    return results


def apply_intake_retrying(store: Store, items: Sequence[Intake], *, actor: str) -> list[IntakeResult]:
    """:func:`apply_intake`, once more if a concurrent request created the same identifier."""
    try:
        return apply_intake(store, items, actor=actor)
    except DuplicateError:
        return apply_intake(store, items, actor=actor)


def _apply_order(store: Store, s: Session, item: OrderIntake, actor: str) -> IntakeResult:
    system, value = item.identifier
    now = store._now()
    row = s.scalar(
        select(FhirOrderRow)
        .where(FhirOrderRow.identifier_system == system, FhirOrderRow.identifier_value == value)
        .with_for_update()
    )
    rt = item.resource_type
    if row is None:
        if s.get(FhirOrderRow, item.order_id) is not None:
            raise DuplicateError(f"{rt} {item.order_id}: already exists under another identifier")
        task_id = None
        note = item.note
        if item.task is not None and not item.cancels:
            store._insert_task(
                s, item.task, ward=item.ward, pin_hash=None, actor=actor, reason=f"{rt} {system}|{value}"[:1000]
            )
            task_id = item.task.id
        elif item.cancels:
            note = note or f"withdrawn ({item.status}) before any delivery was created"
        row = FhirOrderRow(
            id=item.order_id,
            resource_type=rt,
            identifier_system=system,
            identifier_value=value,
            status=item.status,
            task_id=task_id,
            patient_identifier=item.patient_identifier,
            resource=item.resource,
            note=note,
            created_at=now,
            updated_at=now,
        )
        store._add(s, row)
        store._audit(s, actor, "fhir.order", f"{rt}:{item.order_id}", {"status": item.status, "task": task_id})
        if task_id is not None:
            return IntakeResult(rt, row.id, "created", task_id, message="delivery created", new=True)
        return IntakeResult(rt, row.id, "recorded", None, message=note, new=True)

    if row.resource_type != rt:
        raise InvalidInputError(
            f"{rt}.identifier: {system}|{value} already identifies {row.resource_type} {row.id}, not a {rt}"
        )
    if not item.cancels:
        if row.status in CANCELLING_STATUSES and item.status == "active":
            return IntakeResult(rt, row.id, "exists", row.task_id, message=f"order was {row.status}; not reactivated")
        if row.status != item.status and row.status not in CANCELLING_STATUSES:
            row.status, row.resource, row.updated_at = item.status, item.resource, now
            store._audit(s, actor, "fhir.order.status", f"{rt}:{row.id}", {"status": item.status})
            return IntakeResult(rt, row.id, "updated", row.task_id, message=f"status {item.status}")
        return IntakeResult(rt, row.id, "exists", row.task_id, message="already received")

    # withdrawn
    if row.status in CANCELLING_STATUSES:
        return IntakeResult(rt, row.id, "exists", row.task_id, message=f"already {row.status}")
    row.status, row.resource, row.updated_at = item.status, item.resource, now
    store._audit(s, actor, "fhir.order.withdrawn", f"{rt}:{row.id}", {"status": item.status, "task": row.task_id})
    if row.task_id is None:
        row.note = f"withdrawn ({item.status}); there was no delivery"
        return IntakeResult(rt, row.id, "recorded", None, message=row.note)
    task = s.get(TaskRow, row.task_id, with_for_update=True)
    assert task is not None  # foreign key
    if task.status in CANCELLABLE_TASK_STATUSES:
        store._transition(s, task, TaskStatus.CANCELLED, actor=actor, reason=f"order {item.status} by the HIS")
        row.note = f"withdrawn ({item.status}); delivery {task.id} cancelled"
        return IntakeResult(rt, row.id, "cancelled", task.id, message=row.note)
    if task.status in (TaskStatus.CANCELLED.value, TaskStatus.FAILED.value):
        row.note = f"withdrawn ({item.status}); delivery {task.id} was already {task.status}"
        return IntakeResult(rt, row.id, "recorded", task.id, message=row.note)
    where = "delivered" if task.status == TaskStatus.DELIVERED.value else f"on robot {task.robot_id or '?'}"
    alert = AlertRow(
        kind="fhir.order_withdrawn_after_pickup",
        severity="critical" if task.controlled else "warning",
        subject=f"task:{task.id}",
        message=(
            f"{rt} {system}|{value} was {item.status} after its items were picked up ({where}): "
            f"stop administration and retrieve the items of delivery {task.id}"
            + (" (controlled substance)" if task.controlled else "")
        ),
        raised_at=now,
        acknowledged_at=None,
        acknowledged_by=None,
    )
    store._add(s, alert)
    store._audit(s, actor, "alert.raise", alert.subject, {"alert": alert.id, "kind": alert.kind})
    row.note = f"withdrawn ({item.status}) after pickup; alert {alert.id} raised"
    return IntakeResult(rt, row.id, "alerted", task.id, alert_id=alert.id, message=row.note)


def _apply_patient(store: Store, s: Session, item: PatientIntake, actor: str) -> IntakeResult:
    p = item.patient
    same = s.scalar(select(PatientRow).where(PatientRow.mrn == p.mrn).with_for_update())
    if same is not None:
        # the HIS is the source of truth for demographics and the credit-care ("pay later") status
        changes = {
            k: v
            for k, v in (
                ("name", p.name),
                ("birth_year", p.birth_year),
                ("sex", p.sex.value),
                ("phone", p.phone),
                ("credit_care", p.credit_care),
            )
            if getattr(same, k) != v
        }
        if not changes:
            return IntakeResult("Patient", same.id, "exists", message="MRN already registered")
        for k, v in changes.items():
            setattr(same, k, v)
        from hospital_ops.store.repository import _check_row

        _check_row(same)
        store._audit(s, actor, "patient.update", f"patient:{same.id}", {"fields": sorted(changes), "source": "fhir"})
        return IntakeResult("Patient", same.id, "updated", message=f"updated {', '.join(sorted(changes))}")
    if s.get(PatientRow, p.id) is not None:
        raise DuplicateError(f"patient {p.id}: already exists with another MRN")
    store._add(
        s,
        PatientRow(
            id=p.id,
            mrn=p.mrn,
            name=p.name,
            birth_year=p.birth_year,
            sex=p.sex.value,
            id_number_hash=p.id_number_hash,
            phone=p.phone,
            credit_care=p.credit_care,
            created_at=store._now(),
        ),
    )
    store._audit(s, actor, "patient.add", f"patient:{p.id}", {"source": "fhir"})
    return IntakeResult("Patient", p.id, "created")


def _apply_appointment(store: Store, s: Session, item: AppointmentIntake, actor: str) -> IntakeResult:
    system, value = item.identifier
    now = store._now()
    patient_id = None
    if item.patient_mrn is not None:
        patient_id = s.scalar(select(PatientRow.id).where(PatientRow.mrn == item.patient_mrn))
    row = s.scalar(
        select(FhirAppointmentRow)
        .where(FhirAppointmentRow.identifier_system == system, FhirAppointmentRow.identifier_value == value)
        .with_for_update()
    )
    if row is None:
        if s.get(FhirAppointmentRow, item.appointment_id) is not None:
            raise DuplicateError(f"Appointment {item.appointment_id}: already exists under another identifier")
        row = FhirAppointmentRow(
            id=item.appointment_id,
            identifier_system=system,
            identifier_value=value,
            status=item.status,
            patient_identifier=item.patient_identifier,
            patient_id=patient_id,
            department=item.department,
            start_s=item.start_s,
            resource=item.resource,
            created_at=now,
            updated_at=now,
            arrived_at=None,
        )
        store._add(s, row)
        store._audit(s, actor, "fhir.appointment", f"Appointment:{row.id}", {"status": item.status})
        return IntakeResult("Appointment", row.id, "created")
    changed = (row.status, row.department, row.start_s) != (item.status, item.department, item.start_s)
    if not changed:
        return IntakeResult("Appointment", row.id, "exists", message="already received")
    if row.status in ("arrived", "checked-in", "fulfilled") and item.status in ("booked", "pending", "proposed"):
        return IntakeResult("Appointment", row.id, "exists", message=f"patient already {row.status}")
    row.status, row.department, row.start_s = item.status, item.department, item.start_s
    row.resource, row.updated_at = item.resource, now
    row.patient_id = row.patient_id or patient_id
    store._audit(s, actor, "fhir.appointment.update", f"Appointment:{row.id}", {"status": item.status})
    return IntakeResult("Appointment", row.id, "updated")


# ---- reads -----------------------------------------------------------------------------------


def get_order(store: Store, order_id: str) -> OrderRecord:
    with store._read() as s:
        row = s.get(FhirOrderRow, order_id)
        if row is None:
            raise NotFoundError(f"order {order_id}: no such order")
        return _order(row)


def find_order(store: Store, system: str, value: str) -> OrderRecord | None:
    """The order with that business identifier, or None."""
    with store._read() as s:
        row = s.scalar(
            select(FhirOrderRow).where(FhirOrderRow.identifier_system == system, FhirOrderRow.identifier_value == value)
        )
        return None if row is None else _order(row)


def list_orders(
    store: Store,
    *,
    patient_identifier: str | None = None,
    patient_value: str | None = None,
    identifier_value: str | None = None,
    resource_type: str | None = None,
    status: str | Iterable[str] | None = None,
    task_ids: Iterable[str] | None = None,
    with_task: bool | None = None,
    limit: int | None = None,
) -> list[OrderRecord]:
    """Orders matching every filter given, oldest first (``patient_value``: the patient's
    identifier value in any system)."""
    query = select(FhirOrderRow).order_by(FhirOrderRow.created_at, FhirOrderRow.id)
    if patient_identifier is not None:
        query = query.where(FhirOrderRow.patient_identifier == patient_identifier)
    if patient_value is not None:
        query = query.where(FhirOrderRow.patient_identifier.endswith(f"|{patient_value}", autoescape=True))
    if status is not None:
        query = query.where(FhirOrderRow.status.in_([status] if isinstance(status, str) else list(status)))
    if identifier_value is not None:
        query = query.where(FhirOrderRow.identifier_value == identifier_value)
    if resource_type is not None:
        query = query.where(FhirOrderRow.resource_type == resource_type)
    if task_ids is not None:
        query = query.where(FhirOrderRow.task_id.in_(list(task_ids)))
    if with_task is not None:
        query = query.where(FhirOrderRow.task_id.is_not(None) if with_task else FhirOrderRow.task_id.is_(None))
    if limit is not None:
        query = query.limit(limit)
    with store._read() as s:
        return [_order(r) for r in s.scalars(query)]


def order_of_task(store: Store, task_id: str) -> OrderRecord | None:
    """The order that created a delivery, if it came from the HIS."""
    found = list_orders(store, task_ids=[task_id], limit=1)
    return found[0] if found else None


def get_appointment(store: Store, appointment_id: str) -> AppointmentRecord:
    with store._read() as s:
        row = s.get(FhirAppointmentRow, appointment_id)
        if row is None:
            raise NotFoundError(f"appointment {appointment_id}: no such appointment")
        return _appointment(row)


def find_appointment(store: Store, system: str | None, value: str) -> AppointmentRecord | None:
    """The appointment with that business identifier (any system when ``system`` is None), or None."""
    query = select(FhirAppointmentRow).where(FhirAppointmentRow.identifier_value == value)
    if system is not None:
        query = query.where(FhirAppointmentRow.identifier_system == system)
    with store._read() as s:
        row = s.scalars(query.order_by(FhirAppointmentRow.id)).first()
        return None if row is None else _appointment(row)


def list_appointments(
    store: Store,
    *,
    patient_id: str | None = None,
    patient_identifier: str | None = None,
    status: str | Iterable[str] | None = None,
    limit: int | None = None,
) -> list[AppointmentRecord]:
    """Appointments matching every filter given, by start time."""
    query = select(FhirAppointmentRow).order_by(FhirAppointmentRow.start_s, FhirAppointmentRow.id)
    if patient_id is not None:
        query = query.where(FhirAppointmentRow.patient_id == patient_id)
    if patient_identifier is not None:
        query = query.where(FhirAppointmentRow.patient_identifier == patient_identifier)
    if status is not None:
        query = query.where(FhirAppointmentRow.status.in_([status] if isinstance(status, str) else list(status)))
    if limit is not None:
        query = query.limit(limit)
    with store._read() as s:
        return [_appointment(r) for r in s.scalars(query)]


# ---- kiosk check-in for an appointment -------------------------------------------------------


def arrive_appointment(
    store: Store,
    *,
    actor: str,
    appointment_id: str | None = None,
    patient_id: str | None = None,
    now_s: int | None = None,
    tz: tzinfo | None = None,
) -> Arrival:
    """Mark an appointment ``arrived`` (a kiosk check-in) and say where the patient goes.

    Give ``appointment_id``, or ``patient_id`` alone to take that patient's booked appointment
    nearest to ``now_s`` (campus clock); with ``tz`` (the hospital's time zone) only one on the
    local day of ``now_s`` ("today"). With both, the appointment must be that patient's.
    Checking in again is harmless (``already_arrived``). A cancelled or finished appointment is
    refused with ``InvalidInputError``; none found raises ``NotFoundError``. No payment is taken:
    ``credit_care`` only says whether the hospital lets the patient pay later.
    """
    from hospital_ops.store import convert

    actor = convert.text(actor, "actor")
    if appointment_id is None and patient_id is None:
        raise InvalidInputError("arrive: give appointment_id or patient_id")
    with store._write() as s:
        patient = None if patient_id is None else s.get(PatientRow, patient_id)
        if patient_id is not None and patient is None:
            raise NotFoundError(f"arrive: patient {patient_id}: no such patient")
        if appointment_id is not None:
            row = s.get(FhirAppointmentRow, appointment_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"arrive: appointment {appointment_id}: no such appointment")
        else:
            assert patient is not None
            candidates = list(
                s.scalars(
                    select(FhirAppointmentRow)
                    .where(
                        (FhirAppointmentRow.patient_id == patient.id)
                        | (FhirAppointmentRow.patient_identifier.endswith(f"|{patient.mrn}", autoescape=True)),
                        FhirAppointmentRow.status.in_(["booked", "pending", "arrived", "checked-in"]),
                    )
                    .with_for_update()
                )
            )
            ref = now_s if now_s is not None else int(store._now().timestamp())
            if tz is not None:
                today = datetime.fromtimestamp(ref, tz).date()
                candidates = [
                    r
                    for r in candidates
                    if r.start_s is not None and datetime.fromtimestamp(r.start_s, tz).date() == today
                ]
            if not candidates:
                when = "" if tz is None else f" today ({today.isoformat()}, {tz})"
                raise NotFoundError(f"arrive: patient {patient.id} has no booked appointment{when}")
            row = min(candidates, key=lambda r: (abs((r.start_s or ref) - ref), r.id))
        if patient is None:
            if row.patient_id is not None:
                patient = s.get(PatientRow, row.patient_id)
            elif row.patient_identifier and "|" in row.patient_identifier:
                mrn = row.patient_identifier.split("|", 1)[1]
                patient = s.scalar(select(PatientRow).where(PatientRow.mrn == mrn))
        elif not (
            row.patient_id == patient.id
            or (row.patient_identifier or "").endswith(f"|{patient.mrn}")
            or (row.patient_id is None and row.patient_identifier is None)
        ):
            raise InvalidInputError(f"arrive: appointment {row.id} is not patient {patient.id}'s")
        if row.status not in ARRIVABLE_STATUSES:
            raise InvalidInputError(f"arrive: appointment {row.id} is {row.status}; it cannot be checked in")
        already = row.status in ("arrived", "checked-in")
        if patient is not None and row.patient_id is None:
            row.patient_id = patient.id
        if not already:
            now = store._now()
            row.status = "arrived"
            row.resource = {**row.resource, "status": "arrived"}
            row.updated_at = now
            row.arrived_at = now
            store._audit(s, actor, "fhir.appointment.arrived", f"Appointment:{row.id}", {"patient": row.patient_id})
        s.flush()
        return Arrival(
            appointment=_appointment(row),
            department=row.department,
            credit_care=None if patient is None else bool(patient.credit_care),
            patient_id=None if patient is None else patient.id,
            already_arrived=already,
        )
