"""Audit trail of the identity room: enrolments, refusals, deletions, identifications.

Append-only; entries carry ids, outcomes and consent versions, never biometric data. The shape
mirrors ``hospital_ops.store.records.AuditEntry`` (at, actor, action, subject, detail) so the
product store can implement :class:`AuditLog` with its ``audit_log`` table.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable


class AuditAction(StrEnum):
    ENROLLED = "face.enrolled"
    ENROL_REFUSED = "face.enrol_refused"
    DELETED = "face.deleted"
    DELETE_NOTHING = "face.delete_nothing_stored"
    IDENTIFIED = "face.identified"
    REKEYED = "face.rekeyed"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    actor: str
    action: AuditAction
    #: ``"patient:<id>"``.
    subject: str
    detail: dict[str, str | float | int | bool | None] = field(default_factory=dict)


@runtime_checkable
class AuditLog(Protocol):
    def append(self, event: AuditEvent) -> None: ...

    def events(self, subject: str | None = None) -> list[AuditEvent]:
        """All events, oldest first; only those about ``subject`` if given."""
        ...


class InMemoryAuditLog:
    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def append(self, event: AuditEvent) -> None:
        with self._lock:
            self._events.append(event)

    def events(self, subject: str | None = None) -> list[AuditEvent]:
        with self._lock:
            return [e for e in self._events if subject is None or e.subject == subject]


class SqliteAuditLog:
    """Audit events in a SQLite file (may be the template store's file); a trigger refuses
    UPDATE and DELETE, as on the product's ``audit_log`` table."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS face_audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                    subject TEXT NOT NULL, detail TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS ix_face_audit_subject ON face_audit (subject);
                CREATE TRIGGER IF NOT EXISTS face_audit_no_update BEFORE UPDATE ON face_audit
                    BEGIN SELECT RAISE(ABORT, 'face_audit is append-only'); END;
                CREATE TRIGGER IF NOT EXISTS face_audit_no_delete BEFORE DELETE ON face_audit
                    BEGIN SELECT RAISE(ABORT, 'face_audit is append-only'); END;
                """
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def append(self, event: AuditEvent) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO face_audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                (
                    event.at.isoformat(),
                    event.actor,
                    event.action.value,
                    event.subject,
                    json.dumps(event.detail, sort_keys=True, ensure_ascii=False),
                ),
            )

    def events(self, subject: str | None = None) -> list[AuditEvent]:
        sql = "SELECT at, actor, action, subject, detail FROM face_audit"
        args: tuple[str, ...] = ()
        if subject is not None:
            sql += " WHERE subject = ?"
            args = (subject,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", args).fetchall()
        return [
            AuditEvent(
                at=datetime.fromisoformat(at),
                actor=actor,
                action=AuditAction(action),
                subject=subj,
                detail=json.loads(detail),
            )
            for at, actor, action, subj, detail in rows
        ]
