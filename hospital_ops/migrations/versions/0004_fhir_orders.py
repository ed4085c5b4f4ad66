"""FHIR intake: orders from the hospital information system (by identifier) and appointments.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False)


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "fhir_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("identifier_system", sa.String(length=255), nullable=False),
        sa.Column("identifier_value", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("patient_identifier", sa.String(length=300), nullable=True),
        _json("resource"),
        sa.Column("note", sa.Text(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_fhir_orders_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_orders")),
        sa.UniqueConstraint("identifier_system", "identifier_value", name="uq_fhir_orders_identifier"),
    )
    op.create_index(op.f("ix_fhir_orders_task_id"), "fhir_orders", ["task_id"])
    op.create_index("ix_fhir_orders_patient_identifier", "fhir_orders", ["patient_identifier"])

    op.create_table(
        "fhir_appointments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("identifier_system", sa.String(length=255), nullable=False),
        sa.Column("identifier_value", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("patient_identifier", sa.String(length=300), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("start_s", sa.BigInteger(), nullable=True),
        _json("resource"),
        _time("created_at"),
        _time("updated_at"),
        _time("arrived_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_appointments")),
        sa.UniqueConstraint("identifier_system", "identifier_value", name="uq_fhir_appointments_identifier"),
    )
    op.create_index(op.f("ix_fhir_appointments_patient_id"), "fhir_appointments", ["patient_id"])
    op.create_index("ix_fhir_appointments_patient_identifier", "fhir_appointments", ["patient_identifier"])


def downgrade() -> None:
    op.drop_index("ix_fhir_appointments_patient_identifier", table_name="fhir_appointments")
    op.drop_index(op.f("ix_fhir_appointments_patient_id"), table_name="fhir_appointments")
    op.drop_table("fhir_appointments")
    op.drop_index("ix_fhir_orders_patient_identifier", table_name="fhir_orders")
    op.drop_index(op.f("ix_fhir_orders_task_id"), table_name="fhir_orders")
    op.drop_table("fhir_orders")
