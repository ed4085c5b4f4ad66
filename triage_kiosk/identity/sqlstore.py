"""The identity room's persistence in the product store (``hospital_ops.store.Store``).

- :class:`SqlTemplateStore` implements :class:`~triage_kiosk.identity.store.TemplateStore` over
  the ``face_templates`` table (SQLAlchemy; SQLite or PostgreSQL). Only the AES-GCM nonce and
  ciphertext, the key fingerprint and the consent evidence are stored. Every put and delete
  writes an ``audit_log`` entry in the same transaction (ids and consent version only, never
  template bytes). On SQLite a delete runs with ``secure_delete`` on, so the freed pages are
  overwritten; on PostgreSQL the dead tuple is gone from queries at once and from disk at the
  next (auto)vacuum.
- :class:`StoreAuditLog` implements :class:`~triage_kiosk.identity.audit.AuditLog` on the store's
  append-only audit log, so the identity service's events land next to every other audit entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from hospital_ops.store import Store
from hospital_ops.store.biometrics import FaceTemplateRow
from hospital_ops.store.engine import writer
from hospital_ops.store.errors import NotFoundError
from hospital_ops.store.models import AuditRow, PatientRow

from .audit import AuditAction, AuditEvent
from .consent import Consent
from .crypto import NONCE_BYTES, SealedTemplate
from .store import TemplateRecord

#: Audit actions written by the template store itself (the service adds its own ``face.*`` events).
PUT_ACTION = "face_template.put"
DELETE_ACTION = "face_template.delete"


class SqlTemplateStore:
    """Sealed face templates in the product database (one row per patient; the patient must exist)."""

    def __init__(self, store: Store, *, actor: str = "identity-service") -> None:
        if not actor:
            raise ValueError("actor: the audit log needs a name for this service")
        self.store = store
        self.actor = actor
        self._read_session = sessionmaker(store.engine, expire_on_commit=False)
        self._write_session = sessionmaker(writer(store.engine), expire_on_commit=False)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_session() as s, s.begin():
            yield s

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._read_session() as s, s.begin():
            yield s

    def _audit(self, s: Session, action: str, patient_id: str, detail: dict[str, object]) -> None:
        s.add(
            AuditRow(
                at=datetime.now(UTC),
                actor=self.actor,
                action=action,
                subject=f"patient:{patient_id}",
                detail=detail,
            )
        )

    def put(self, record: TemplateRecord) -> None:
        """Insert, or replace the patient's previous template (``NotFoundError`` for an unknown patient)."""
        sealed, consent = record.sealed, record.consent
        if len(sealed.nonce) != NONCE_BYTES:
            raise ValueError(f"sealed.nonce: must be {NONCE_BYTES} bytes, got {len(sealed.nonce)}")
        with self._write() as s:
            if s.get(PatientRow, record.patient_id) is None:
                raise NotFoundError(f"face template: patient {record.patient_id}: no such patient")
            row = s.get(FaceTemplateRow, record.patient_id)
            replaced = row is not None
            if row is None:
                row = FaceTemplateRow(patient_id=record.patient_id)
                s.add(row)
            row.key_id = sealed.key_id
            row.model = sealed.model
            row.nonce = bytes(sealed.nonce)
            row.ciphertext = bytes(sealed.ciphertext)
            row.consent_version = consent.text_version
            row.consent_at = consent.at
            row.consent_actor = consent.actor
            row.consent_source = consent.source
            row.enrolled_at = record.enrolled_at
            row.enrolled_by = record.enrolled_by
            s.flush()
            self._audit(
                s,
                PUT_ACTION,
                record.patient_id,
                {
                    "replaced": replaced,
                    "key_id": sealed.key_id,
                    "consent_version": consent.text_version,
                    "enrolled_by": record.enrolled_by,
                },
            )

    def get(self, patient_id: str) -> TemplateRecord | None:
        with self._read() as s:
            row = s.get(FaceTemplateRow, patient_id)
            return None if row is None else _record(row)

    def delete(self, patient_id: str) -> bool:
        """Remove the patient's template (audit-logged in the same transaction); False if none."""
        with self._write() as s:
            if self.store.dialect == "sqlite":
                s.connection().exec_driver_sql("PRAGMA secure_delete = ON")
            result = s.execute(delete(FaceTemplateRow).where(FaceTemplateRow.patient_id == patient_id))
            if not isinstance(result, CursorResult):
                raise TypeError(f"delete: expected a CursorResult with a row count, got {type(result).__name__}")
            gone = result.rowcount
            self._audit(s, DELETE_ACTION, patient_id, {"deleted": bool(gone)})
        return bool(gone)

    def records(self) -> Iterator[TemplateRecord]:
        with self._read() as s:
            rows = list(s.scalars(select(FaceTemplateRow).order_by(FaceTemplateRow.patient_id)))
        return (_record(r) for r in rows)

    def count(self) -> int:
        with self._read() as s:
            return int(s.scalar(select(func.count()).select_from(FaceTemplateRow)) or 0)


def _record(row: FaceTemplateRow) -> TemplateRecord:
    return TemplateRecord(
        patient_id=row.patient_id,
        sealed=SealedTemplate(
            key_id=row.key_id, nonce=bytes(row.nonce), ciphertext=bytes(row.ciphertext), model=row.model
        ),
        consent=Consent(
            patient_id=row.patient_id,
            text_version=row.consent_version,
            at=row.consent_at,
            actor=row.consent_actor,
            source=row.consent_source,
        ),
        enrolled_at=row.enrolled_at,
        enrolled_by=row.enrolled_by,
    )


class StoreAuditLog:
    """The identity service's audit events in the store's append-only ``audit_log``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, event: AuditEvent) -> None:
        self.store.audit(event.actor, event.action.value, event.subject, dict(event.detail))

    def events(self, subject: str | None = None) -> list[AuditEvent]:
        known = {a.value: a for a in AuditAction}
        return [
            AuditEvent(at=e.at, actor=e.actor, action=known[e.action], subject=e.subject, detail=dict(e.detail))
            for e in self.store.audit_log(subject=subject)
            if e.action in known
        ]
