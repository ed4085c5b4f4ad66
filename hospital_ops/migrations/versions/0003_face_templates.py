"""Sealed face templates of enrolled patients (nonce + ciphertext + consent evidence).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "face_templates",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("consent_version", sa.String(length=64), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_actor", sa.String(length=128), nullable=False),
        sa.Column("consent_source", sa.String(length=64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint("length(nonce) = 12", name=op.f("ck_face_templates_nonce")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_face_templates_patient_id_patients")),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_face_templates")),
    )


def downgrade() -> None:
    op.drop_table("face_templates")
