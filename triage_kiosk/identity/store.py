"""Where sealed face templates live: a small Protocol and two implementations.

A :class:`TemplateRecord` carries the nonce + ciphertext and the consent evidence, never a
plaintext vector. :class:`InMemoryTemplateStore` serves tests and the twin;
:class:`SqliteTemplateStore` persists to one SQLite file with the standard library (``secure_delete``
on, so a deleted template's pages are overwritten). The product's SQLAlchemy store can
implement the same five methods later (``hospital_ops/store``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from .consent import Consent
from .crypto import SealedTemplate


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    """One patient's sealed template and the consent it was created under."""

    patient_id: str
    sealed: SealedTemplate
    consent: Consent
    enrolled_at: datetime
    #: Who enrolled it (staff id, or the kiosk for self-service).
    enrolled_by: str

    def __post_init__(self) -> None:
        if not self.patient_id:
            raise ValueError("patient_id: must not be empty")
        if self.consent.patient_id != self.patient_id:
            raise ValueError(
                f"consent: recorded for patient {self.consent.patient_id}, record is for {self.patient_id}"
            )


@runtime_checkable
class TemplateStore(Protocol):
    """Persistence of sealed templates, one per patient."""

    def put(self, record: TemplateRecord) -> None:
        """Insert, or replace the patient's previous template."""
        ...

    def get(self, patient_id: str) -> TemplateRecord | None: ...

    def delete(self, patient_id: str) -> bool:
        """Remove the patient's template; False if there was none."""
        ...

    def records(self) -> Iterator[TemplateRecord]:
        """Every stored record (for loading the search index at start-up)."""
        ...

    def count(self) -> int: ...


class InMemoryTemplateStore:
    """A dict; for tests, the digital twin and single-process demos."""

    def __init__(self) -> None:
        self._rows: dict[str, TemplateRecord] = {}
        self._lock = threading.Lock()

    def put(self, record: TemplateRecord) -> None:
        with self._lock:
            self._rows[record.patient_id] = record

    def get(self, patient_id: str) -> TemplateRecord | None:
        with self._lock:
            return self._rows.get(patient_id)

    def delete(self, patient_id: str) -> bool:
        with self._lock:
            return self._rows.pop(patient_id, None) is not None

    def records(self) -> Iterator[TemplateRecord]:
        with self._lock:
            rows = list(self._rows.values())
        return iter(rows)

    def count(self) -> int:
        with self._lock:
            return len(self._rows)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS face_templates (
    patient_id       TEXT PRIMARY KEY,
    key_id           TEXT NOT NULL,
    model            TEXT NOT NULL,
    nonce            BLOB NOT NULL,
    ciphertext       BLOB NOT NULL,
    consent_version  TEXT NOT NULL,
    consent_at       TEXT NOT NULL,
    consent_actor    TEXT NOT NULL,
    consent_source   TEXT NOT NULL,
    enrolled_at      TEXT NOT NULL,
    enrolled_by      TEXT NOT NULL
)
"""
_COLUMNS = (
    "patient_id, key_id, model, nonce, ciphertext, consent_version, consent_at, consent_actor, "
    "consent_source, enrolled_at, enrolled_by"
)


class SqliteTemplateStore:
    """Sealed templates in one SQLite file (stdlib ``sqlite3``; safe to share between threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            # Overwrite deleted content instead of leaving it in free pages.
            self._conn.execute("PRAGMA secure_delete = ON")
            self._conn.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteTemplateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, record: TemplateRecord) -> None:
        c, s = record.consent, record.sealed
        row = (
            record.patient_id,
            s.key_id,
            s.model,
            s.nonce,
            s.ciphertext,
            c.text_version,
            c.at.isoformat(),
            c.actor,
            c.source,
            record.enrolled_at.isoformat(),
            record.enrolled_by,
        )
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO face_templates ({_COLUMNS}) VALUES ({', '.join('?' * 11)})", row
            )

    def get(self, patient_id: str) -> TemplateRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM face_templates WHERE patient_id = ?", (patient_id,)
            ).fetchone()
        return None if row is None else _record(row)

    def delete(self, patient_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM face_templates WHERE patient_id = ?", (patient_id,))
        return cur.rowcount > 0

    def records(self) -> Iterator[TemplateRecord]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM face_templates ORDER BY patient_id").fetchall()
        return (_record(r) for r in rows)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0])


def _record(row: tuple) -> TemplateRecord:
    (pid, key_id, model, nonce, ct, version, c_at, c_actor, c_source, enrolled_at, enrolled_by) = row
    return TemplateRecord(
        patient_id=pid,
        sealed=SealedTemplate(key_id=key_id, nonce=bytes(nonce), ciphertext=bytes(ct), model=model),
        consent=Consent(
            patient_id=pid,
            text_version=version,
            at=datetime.fromisoformat(c_at),
            actor=c_actor,
            source=c_source,
        ),
        enrolled_at=datetime.fromisoformat(enrolled_at),
        enrolled_by=enrolled_by,
    )
