"""Sealed face templates (issue 8): one row per enrolled patient, never a plaintext vector.

A row holds the AES-256-GCM nonce and ciphertext of the patient's 128-d face encoding (sealed by
``triage_kiosk.identity.crypto.TemplateCipher`` with the key from the settings; the associated
data binds it to the patient id and the encoder model), the key fingerprint, and the consent
evidence it was created under. Deleting the row (patient request) is audit-logged by the
template store in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hospital_ops.store.models import Base


class FaceTemplateRow(Base):
    """A patient's sealed face template and the consent it was enrolled under."""

    __tablename__ = "face_templates"
    __table_args__ = (CheckConstraint("length(nonce) = 12", name="nonce"),)

    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.id"), primary_key=True)
    #: Fingerprint of the sealing key (a keyed hash; reveals nothing about the key).
    key_id: Mapped[str] = mapped_column(String(32))
    #: Encoder whose vector is sealed.
    model: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    #: Consent evidence: text version shown, when, who recorded it, where.
    consent_version: Mapped[str] = mapped_column(String(64))
    consent_at: Mapped[datetime]
    consent_actor: Mapped[str] = mapped_column(String(128))
    consent_source: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime]
    enrolled_by: Mapped[str] = mapped_column(String(128))
