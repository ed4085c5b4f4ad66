"""What the store returns: the domain object plus the store's own bookkeeping.

Frozen dataclasses like the domain types. Secrets never leave the store: a task says whether it
has a PIN, never the hash; a user carries no password hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from hospital_ops.domain import DeliveryTask, Robot, TaskStatus, TriageResult, Vitals


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A delivery task and where it is in its life."""

    task: DeliveryTask
    status: TaskStatus
    #: Robot the task is planned on or travelling with.
    robot_id: str | None
    #: Promised drop-off, campus clock seconds.
    eta_s: int | None
    ward: str | None
    has_pin: bool
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> str:
        return self.task.id


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One row of a task's status history; ``from_status`` is None for its creation."""

    task_id: str
    from_status: TaskStatus | None
    to_status: TaskStatus
    at: datetime
    actor: str
    reason: str
    robot_id: str | None = None


@dataclass(frozen=True, slots=True)
class RobotRecord:
    robot: Robot
    last_heartbeat_at: datetime | None
    updated_at: datetime

    @property
    def id(self) -> str:
        return self.robot.id


@dataclass(frozen=True, slots=True)
class Consent:
    """A patient's decision on one purpose; the latest decision counts."""

    patient_id: str
    purpose: str
    granted: bool
    at: datetime
    actor: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class TriageRecord:
    id: int
    patient_id: str
    check_in_id: str | None
    result: TriageResult
    vitals: Vitals | None
    at: datetime
    actor: str


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    severity: AlertSeverity
    subject: str
    message: str
    raised_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None


@dataclass(frozen=True, slots=True)
class User:
    """A staff account (no password hash)."""

    username: str
    role: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceToken:
    """A robot's or kiosk's token (no token, no hash)."""

    id: int
    device_id: str
    kind: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlanApplied:
    """What :meth:`Store.apply_plan` changed."""

    #: Tasks that went to PLANNED (from REQUESTED, or onto another robot).
    planned: tuple[str, ...] = ()
    #: Tasks whose promised ETA changed only.
    eta_updated: tuple[str, ...] = ()
    #: PLANNED tasks the plan left unassigned, back to REQUESTED.
    unplanned: tuple[str, ...] = ()
    #: Tasks of the plan the store did not touch, with the reason (finished, unknown, on board).
    skipped: dict[str, str] = field(default_factory=dict)
