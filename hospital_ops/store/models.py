"""SQLAlchemy 2 declarative models: the tables behind the store.

Times of the campus clock (``*_s``: integer seconds since the Unix epoch, as in
``hospital_ops.domain``) are stored as integers, unchanged. Bookkeeping times (``*_at``) are
timezone-aware UTC datetimes. Enumerations are stored as their string values, guarded by CHECK
constraints. The schema itself is created by the Alembic migrations in
``hospital_ops/migrations``; a test checks that the migrations and these models agree.

Append-only tables (a trigger rejects UPDATE and DELETE on both databases): ``audit_log``,
``task_status_history`` and ``custody_events``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from hospital_ops.domain import CheckInMethod, CustodyKind, Priority, RobotMode, Sex, TaskKind, TaskStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Tables a trigger makes append-only.
APPEND_ONLY_TABLES = ("audit_log", "task_status_history", "custody_events")

#: JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")
#: Auto-increment key: 64-bit on PostgreSQL, the rowid alias on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC, returned in UTC on both databases.

    SQLite has no time zones: the UTC wall time is stored and UTC attached on the way out.
    A naive datetime is refused (it is ambiguous).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: a time zone is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v.value)) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class TaskRow(Base):
    """A delivery task (all fields of ``DeliveryTask``) and where it is in its life."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_in("status", TaskStatus), name="status"),
        CheckConstraint(_in("priority", Priority), name="priority"),
        CheckConstraint(_in("kind", TaskKind), name="kind"),
        CheckConstraint("units >= 1", name="units"),
        CheckConstraint("service_s >= 0", name="service_s"),
        CheckConstraint("deadline_s >= earliest_s", name="window"),
        CheckConstraint("pickup <> dropoff", name="ends"),
        CheckConstraint("max_transit_s IS NULL OR max_transit_s > 0", name="max_transit_s"),
        Index("ix_tasks_status_deadline", "status", "deadline_s"),
        Index("ix_tasks_updated_at", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pickup: Mapped[str] = mapped_column(String(64))
    dropoff: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    earliest_s: Mapped[int] = mapped_column(BigInteger)
    deadline_s: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[str]] = mapped_column(JSONType)
    cold_chain: Mapped[bool] = mapped_column(Boolean)
    controlled: Mapped[bool] = mapped_column(Boolean)
    max_transit_s: Mapped[int | None] = mapped_column(Integer)
    requester: Mapped[str] = mapped_column(String(128), index=True)
    service_s: Mapped[int] = mapped_column(Integer)
    #: Ward the delivery is for (set by the caller from the campus model); None = unknown.
    ward: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    #: Robot the task is planned on / travelling with; None = not assigned.
    robot_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Promised drop-off (campus clock), None = no promise yet.
    eta_s: Mapped[int | None] = mapped_column(BigInteger)
    #: argon2 hash of the receiver's PIN (never the PIN).
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StatusHistoryRow(Base):
    """One status change of a task (the first row, from None, is its creation). Append-only."""

    __tablename__ = "task_status_history"
    __table_args__ = (
        CheckConstraint(_in("to_status", TaskStatus), name="to_status"),
        CheckConstraint(f"from_status IS NULL OR {_in('from_status', TaskStatus)}", name="from_status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), ForeignKey("tasks.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    #: Robot the task was on after the change.
    robot_id: Mapped[str | None] = mapped_column(String(64))


class RobotRow(Base):
    """Last known state of a robot (all fields of ``Robot``) and its last heartbeat."""

    __tablename__ = "robots"
    __table_args__ = (
        CheckConstraint(_in("mode", RobotMode), name="mode"),
        CheckConstraint("battery_pct >= 0 AND battery_pct <= 100", name="battery_pct"),
        CheckConstraint("capacity_units >= 1", name="capacity_units"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(64))
    available_s: Mapped[int] = mapped_column(BigInteger)
    capacity_units: Mapped[int] = mapped_column(Integer)
    capabilities: Mapped[list[str]] = mapped_column(JSONType)
    speed_mps: Mapped[float] = mapped_column(Float)
    battery_pct: Mapped[float] = mapped_column(Float)
    consumption_pct_per_km: Mapped[float] = mapped_column(Float)
    min_battery_pct: Mapped[float] = mapped_column(Float)
    on_board: Mapped[list[str]] = mapped_column(JSONType)
    home_dock: Mapped[str | None] = mapped_column(String(64))
    last_heartbeat_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class CustodyRow(Base):
    """One hand-over of a delivery's items (``CustodyEvent``). Append-only."""

    __tablename__ = "custody_events"
    __table_args__ = (
        CheckConstraint(_in("kind", CustodyKind), name="kind"),
        CheckConstraint("method IN ('pin', 'badge')", name="method"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), ForeignKey("tasks.id"), index=True)
    robot_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(64))
    at_s: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    drawer: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime]


class PatientRow(Base):
    __tablename__ = "patients"
    __table_args__ = (CheckConstraint(_in("sex", Sex), name="sex"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mrn: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(16))
    #: Keyed hash of the national id number (never the number).
    id_number_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    credit_care: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class ConsentRow(Base):
    """A patient's decision on one purpose (e.g. face identification). The latest row counts."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_patient_purpose", "patient_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    #: Where the decision was taken (kiosk id, desk).
    source: Mapped[str] = mapped_column(String(64))


class CheckInRow(Base):
    __tablename__ = "check_ins"
    __table_args__ = (
        CheckConstraint(_in("method", CheckInMethod), name="method"),
        Index("ix_check_ins_at_s", "at_s"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.id"), index=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    at_s: Mapped[int] = mapped_column(BigInteger)
    appointment_id: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class TriageRow(Base):
    """A triage result (``TriageResult``) for a patient, with the vitals it was based on."""

    __tablename__ = "triage_results"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.id"), index=True)
    check_in_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("check_ins.id"), index=True)
    level: Mapped[int] = mapped_column(SmallInteger)
    #: [{"code", "en", "zh", "level"}, ...]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    destination: Mapped[str] = mapped_column(String(64))
    escalate: Mapped[bool] = mapped_column(Boolean)
    missing: Mapped[list[str]] = mapped_column(JSONType)
    ruleset: Mapped[str] = mapped_column(String(64))
    vitals: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    #: What the alert is about: "task:T-1", "robot:R-3", "patient:P-9", "drawer:R-3/2".
    subject: Mapped[str] = mapped_column(String(128), index=True)
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None] = mapped_column(index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))


class UserRow(Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    #: argon2 hash (never the password).
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeviceTokenRow(Base):
    """A bearer token of a robot or kiosk, stored as its SHA-256 (the token itself is shown once)."""

    __tablename__ = "device_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditRow(Base):
    """Who did what to which record, when. Append-only (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)


from hospital_ops.store import badges as _badges  # noqa: E402, F401  (task badge hashes, migration 0005)
from hospital_ops.store import biometrics as _biometrics  # noqa: E402, F401  (face_templates, issue 8)
from hospital_ops.store import kiosk_visits as _kiosk_visits  # noqa: E402, F401  (kiosk visits in progress)
from hospital_ops.store import orders as _orders  # noqa: E402, F401  (FHIR orders and appointments)
