"""The store: SQLAlchemy 2 over SQLite (WAL, default) or PostgreSQL, Alembic migrations.

    from hospital_ops.store import Store, db_upgrade

    store = Store.open()                 # the configured database; a fresh SQLite file is created
    rec = store.add_task(task, actor="nurse:amy", pin="4711", ward="T1-07")
    store.transition_task(rec.id, TaskStatus.PLANNED, actor="scheduler", robot_id="R-1", eta_s=...)
    store.open_tasks(priority="stat")

See ``repository.Store`` for the whole API and its rules (written before acknowledged, status
transitions, append-only audit), ``migrate`` for the schema policy, ``cli`` for ``hospital-ops db``.
"""

from hospital_ops.store.engine import make_engine, redact
from hospital_ops.store.errors import (
    DuplicateError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
    StoreError,
)
from hospital_ops.store.migrate import db_upgrade, ensure_schema, head_revision
from hospital_ops.store.records import (
    Alert,
    AlertSeverity,
    AuditEntry,
    Consent,
    DeviceToken,
    PlanApplied,
    RobotRecord,
    StatusChange,
    TaskRecord,
    TriageRecord,
    User,
)
from hospital_ops.store.repository import UNSET, Store

__all__ = [
    "UNSET",
    "Alert",
    "AlertSeverity",
    "AuditEntry",
    "Consent",
    "DeviceToken",
    "DuplicateError",
    "IllegalTransitionError",
    "InvalidInputError",
    "NotFoundError",
    "PlanApplied",
    "RobotRecord",
    "SchemaError",
    "StatusChange",
    "Store",
    "StoreError",
    "TaskRecord",
    "TriageRecord",
    "User",
    "db_upgrade",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "redact",
]
