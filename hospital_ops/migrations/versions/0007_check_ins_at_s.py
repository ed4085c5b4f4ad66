"""Index check-ins by at_s: the kiosk tile reads the last 4 hours' check-ins every second.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_check_ins_at_s", "check_ins", ["at_s"])


def downgrade() -> None:
    op.drop_index("ix_check_ins_at_s", table_name="check_ins")
