"""Badge credentials of tasks: an argon2 hash of each badge per task end (never the badge itself).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_badges",
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("end_kind", sa.String(length=16), nullable=False),
        sa.Column("badge_hash", sa.String(length=255), nullable=False),
        sa.CheckConstraint("end_kind IN ('pickup', 'dropoff')", name=op.f("ck_task_badges_end_kind")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_badges_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", "end_kind", "badge_hash", name=op.f("pk_task_badges")),
    )


def downgrade() -> None:
    op.drop_table("task_badges")
