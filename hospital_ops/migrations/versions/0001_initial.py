"""Initial schema: tasks + status history, robots, custody, patients, consents, check-ins,
triage results, alerts, users, device tokens, audit log; append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("audit_log", "task_status_history", "custody_events")
TASK_STATUSES = "'requested', 'planned', 'picked_up', 'delivered', 'failed', 'cancelled'"


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False)


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _int(name: str, nullable: bool = False, big: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger() if big else sa.Integer(), nullable=nullable)


def _bool(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Boolean(), nullable=False)


def _float(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Float(), nullable=False)


def _index(table: str, *columns: str, name: str | None = None, unique: bool = False) -> None:
    op.create_index(name or op.f(f"ix_{table}_{columns[0]}"), table, list(columns), unique=unique)


def upgrade() -> None:
    op.create_table(
        "tasks",
        _str("id", 64),
        _str("pickup", 64),
        _str("dropoff", 64),
        _str("priority", 16),
        _str("kind", 16),
        _int("earliest_s", big=True),
        _int("deadline_s", big=True),
        _int("units"),
        _json("items"),
        _bool("cold_chain"),
        _bool("controlled"),
        _int("max_transit_s", nullable=True),
        _str("requester", 128),
        _int("service_s"),
        _str("ward", 64, nullable=True),
        _str("status", 16),
        _str("robot_id", 64, nullable=True),
        _int("eta_s", nullable=True, big=True),
        _str("pin_hash", 255, nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.CheckConstraint(f"status IN ({TASK_STATUSES})", name=op.f("ck_tasks_status")),
        sa.CheckConstraint("priority IN ('stat', 'urgent', 'routine')", name=op.f("ck_tasks_priority")),
        sa.CheckConstraint("kind IN ('medication', 'specimen', 'supply')", name=op.f("ck_tasks_kind")),
        sa.CheckConstraint("units >= 1", name=op.f("ck_tasks_units")),
        sa.CheckConstraint("service_s >= 0", name=op.f("ck_tasks_service_s")),
        sa.CheckConstraint("deadline_s >= earliest_s", name=op.f("ck_tasks_window")),
        sa.CheckConstraint("pickup <> dropoff", name=op.f("ck_tasks_ends")),
        sa.CheckConstraint("max_transit_s IS NULL OR max_transit_s > 0", name=op.f("ck_tasks_max_transit_s")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    _index("tasks", "priority")
    _index("tasks", "requester")
    _index("tasks", "ward")
    _index("tasks", "robot_id")
    _index("tasks", "status", "deadline_s", name="ix_tasks_status_deadline")

    op.create_table(
        "task_status_history",
        _id(),
        _str("task_id", 64),
        _str("from_status", 16, nullable=True),
        _str("to_status", 16),
        _time("at"),
        _str("actor", 128),
        sa.Column("reason", sa.Text(), nullable=False),
        _str("robot_id", 64, nullable=True),
        sa.CheckConstraint(f"to_status IN ({TASK_STATUSES})", name=op.f("ck_task_status_history_to_status")),
        sa.CheckConstraint(
            f"from_status IS NULL OR from_status IN ({TASK_STATUSES})",
            name=op.f("ck_task_status_history_from_status"),
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_status_history_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_status_history")),
    )
    _index("task_status_history", "task_id")

    op.create_table(
        "robots",
        _str("id", 64),
        _str("mode", 16),
        _str("location", 64),
        _int("available_s", big=True),
        _int("capacity_units"),
        _json("capabilities"),
        _float("speed_mps"),
        _float("battery_pct"),
        _float("consumption_pct_per_km"),
        _float("min_battery_pct"),
        _json("on_board"),
        _str("home_dock", 64, nullable=True),
        _time("last_heartbeat_at", nullable=True),
        _time("updated_at"),
        sa.CheckConstraint("mode IN ('idle', 'busy', 'charging', 'fault', 'lost')", name=op.f("ck_robots_mode")),
        sa.CheckConstraint("battery_pct >= 0 AND battery_pct <= 100", name=op.f("ck_robots_battery_pct")),
        sa.CheckConstraint("capacity_units >= 1", name=op.f("ck_robots_capacity_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robots")),
    )

    op.create_table(
        "custody_events",
        _id(),
        _str("task_id", 64),
        _str("robot_id", 64),
        _str("kind", 16),
        _str("location", 64),
        _int("at_s", big=True),
        _str("method", 16),
        _str("actor", 128),
        _int("drawer"),
        _time("recorded_at"),
        sa.CheckConstraint(
            "kind IN ('loaded', 'delivered', 'denied', 'locked_out', 'returned')",
            name=op.f("ck_custody_events_kind"),
        ),
        sa.CheckConstraint("method IN ('pin', 'badge')", name=op.f("ck_custody_events_method")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_custody_events_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_events")),
    )
    _index("custody_events", "task_id")
    _index("custody_events", "robot_id")

    op.create_table(
        "patients",
        _str("id", 64),
        _str("mrn", 64),
        _str("name", 200),
        _int("birth_year", nullable=True),
        _str("sex", 16),
        _str("id_number_hash", 128, nullable=True),
        _str("phone", 32, nullable=True),
        _bool("credit_care"),
        _time("created_at"),
        sa.CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name=op.f("ck_patients_sex")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("mrn", name=op.f("uq_patients_mrn")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_patients_id_number_hash")),
    )

    op.create_table(
        "consents",
        _id(),
        _str("patient_id", 64),
        _str("purpose", 64),
        _bool("granted"),
        _time("at"),
        _str("actor", 128),
        _str("source", 64),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_consents_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    _index("consents", "patient_id", "purpose", name="ix_consents_patient_purpose")

    op.create_table(
        "check_ins",
        _str("id", 64),
        _str("patient_id", 64),
        _str("kiosk_id", 64),
        _str("method", 16),
        _int("at_s", big=True),
        _str("appointment_id", 64, nullable=True),
        _time("recorded_at"),
        sa.CheckConstraint("method IN ('face', 'id_number', 'qr', 'staff')", name=op.f("ck_check_ins_method")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_check_ins_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
    )
    _index("check_ins", "patient_id")

    op.create_table(
        "triage_results",
        _id(),
        _str("patient_id", 64),
        _str("check_in_id", 64, nullable=True),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        _json("reasons"),
        _str("destination", 64),
        _bool("escalate"),
        _json("missing"),
        _str("ruleset", 64),
        _json("vitals", nullable=True),
        _time("at"),
        _str("actor", 128),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_triage_results_level")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_triage_results_patient_id_patients")),
        sa.ForeignKeyConstraint(
            ["check_in_id"], ["check_ins.id"], name=op.f("fk_triage_results_check_in_id_check_ins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_results")),
    )
    _index("triage_results", "patient_id")
    _index("triage_results", "check_in_id")

    op.create_table(
        "alerts",
        _id(),
        _str("kind", 64),
        _str("severity", 16),
        _str("subject", 128),
        sa.Column("message", sa.Text(), nullable=False),
        _time("raised_at"),
        _time("acknowledged_at", nullable=True),
        _str("acknowledged_by", 128, nullable=True),
        sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name=op.f("ck_alerts_severity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    _index("alerts", "kind")
    _index("alerts", "subject")
    _index("alerts", "acknowledged_at")

    op.create_table(
        "users",
        _str("username", 64),
        _str("role", 32),
        _str("password_hash", 255),
        _bool("active"),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )

    op.create_table(
        "device_tokens",
        _id(),
        _str("device_id", 64),
        _str("kind", 32),
        _str("token_hash", 64),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_device_tokens_token_hash")),
    )
    _index("device_tokens", "device_id")

    op.create_table(
        "audit_log",
        _id(),
        _time("at"),
        _str("actor", 128),
        _str("action", 64),
        _str("subject", 128),
        _json("detail"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    for column in ("at", "actor", "action", "subject"):
        _index("audit_log", column)

    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    """UPDATE and DELETE (and TRUNCATE on PostgreSQL) of the append-only tables fail."""
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION hospital_ops_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION hospital_ops_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION hospital_ops_append_only()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
                )
    else:
        raise NotImplementedError(f"append-only triggers for {dialect}")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for table in (
        "audit_log",
        "device_tokens",
        "users",
        "alerts",
        "triage_results",
        "check_ins",
        "consents",
        "patients",
        "custody_events",
        "robots",
        "task_status_history",
        "tasks",
    ):
        op.drop_table(table)  # drops its indexes and triggers
    if dialect == "postgresql":
        op.execute("DROP FUNCTION hospital_ops_append_only()")
