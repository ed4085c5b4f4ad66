"""Kiosk visits in progress, sealed (AES-256-GCM nonce + ciphertext), shared by every web worker.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosk_visits",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kiosk_id", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("touched_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("length(nonce) = 12", name=op.f("ck_kiosk_visits_nonce")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_visits")),
    )
    op.create_index(op.f("ix_kiosk_visits_kiosk_id"), "kiosk_visits", ["kiosk_id"])
    op.create_index(op.f("ix_kiosk_visits_touched_ms"), "kiosk_visits", ["touched_ms"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kiosk_visits_touched_ms"), table_name="kiosk_visits")
    op.drop_index(op.f("ix_kiosk_visits_kiosk_id"), table_name="kiosk_visits")
    op.drop_table("kiosk_visits")
