"""Kiosk visits in progress, sealed (migration 0006): any web worker can continue any visit.

A row is one patient's visit at one kiosk between "Start" and "Finish": the visit state (check-in,
answers, vitals, result) as AES-256-GCM nonce + ciphertext sealed by the kiosk room
(``triage_kiosk.web.visits``, key ``HOSPITAL_OPS_VISIT_KEY``; the associated data binds it to the
visit and kiosk ids), the key fingerprint, and the campus-clock times it was started and last used
(milliseconds). The store never sees the plaintext, and camera frames are never part of it.
Rows left alone longer than the kiosk's time-to-live are deleted by :func:`expire_visits` (and
ignored by :func:`touch_visit` meanwhile); "Finish" deletes the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, LargeBinary, String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hospital_ops.store.errors import InvalidInputError
from hospital_ops.store.models import Base

if TYPE_CHECKING:
    from hospital_ops.store.repository import Store

NONCE_BYTES = 12


class KioskVisitRow(Base):
    """A kiosk visit in progress: sealed state and when it was last used."""

    __tablename__ = "kiosk_visits"
    __table_args__ = (CheckConstraint("length(nonce) = 12", name="nonce"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(128), index=True)
    #: Fingerprint of the sealing key (a keyed hash; reveals nothing about the key).
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    #: Campus clock, milliseconds since the Unix epoch.
    started_ms: Mapped[int] = mapped_column(BigInteger)
    touched_ms: Mapped[int] = mapped_column(BigInteger, index=True)


@dataclass(frozen=True, slots=True)
class SealedVisit:
    """What is stored of a visit: never its plaintext."""

    visit_id: str
    kiosk_id: str
    key_id: str
    nonce: bytes
    ciphertext: bytes
    started_ms: int
    touched_ms: int


def _sealed(row: KioskVisitRow) -> SealedVisit:
    return SealedVisit(
        visit_id=row.id,
        kiosk_id=row.kiosk_id,
        key_id=row.key_id,
        nonce=bytes(row.nonce),
        ciphertext=bytes(row.ciphertext),
        started_ms=row.started_ms,
        touched_ms=row.touched_ms,
    )


def _check(visit: SealedVisit) -> None:
    for name in ("visit_id", "kiosk_id", "key_id"):
        value = getattr(visit, name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"kiosk visit: {name}: must be non-empty text")
    if len(visit.nonce) != NONCE_BYTES:
        raise InvalidInputError(
            f"kiosk visit {visit.visit_id}: nonce: must be {NONCE_BYTES} bytes, got {len(visit.nonce)}"
        )


def add_visit(store: Store, visit: SealedVisit) -> None:
    """Insert a new visit (``DuplicateError`` if the id exists)."""
    _check(visit)
    with store._write() as s:
        s.add(
            KioskVisitRow(
                id=visit.visit_id,
                kiosk_id=visit.kiosk_id,
                key_id=visit.key_id,
                nonce=visit.nonce,
                ciphertext=visit.ciphertext,
                started_ms=visit.started_ms,
                touched_ms=visit.touched_ms,
            )
        )
        s.flush()


def update_visit(store: Store, visit: SealedVisit) -> bool:
    """Replace the sealed state of a visit still in progress at that kiosk; False when it is gone
    (finished or expired meanwhile): a finished visit is never brought back."""
    _check(visit)
    with store._write() as s:
        result = s.execute(
            update(KioskVisitRow)
            .where(KioskVisitRow.id == visit.visit_id, KioskVisitRow.kiosk_id == visit.kiosk_id)
            .values(
                key_id=visit.key_id,
                nonce=visit.nonce,
                ciphertext=visit.ciphertext,
                touched_ms=visit.touched_ms,
            )
        )
        return bool(getattr(result, "rowcount", 0))


def touch_visit(store: Store, visit_id: str, kiosk_id: str, *, now_ms: int, ttl_ms: int) -> SealedVisit | None:
    """The visit in progress at that kiosk, marked as used now; None when there is none, it is
    another kiosk's, or it was left alone longer than ``ttl_ms`` (then it is deleted)."""
    with store._write() as s:
        row = s.get(KioskVisitRow, visit_id, with_for_update=True)
        if row is None or row.kiosk_id != kiosk_id:
            return None
        if now_ms - row.touched_ms > ttl_ms:
            s.delete(row)
            return None
        row.touched_ms = max(row.touched_ms, now_ms)
        return _sealed(row)


def delete_visit(store: Store, visit_id: str) -> bool:
    """Forget a visit ("Finish", or state that cannot be opened); False when it was not there."""
    with store._write() as s:
        result = s.execute(delete(KioskVisitRow).where(KioskVisitRow.id == visit_id))
        return bool(getattr(result, "rowcount", 0))


def expire_visits(store: Store, *, before_ms: int) -> list[str]:
    """Delete visits last used before ``before_ms``; their ids."""
    with store._write() as s:
        ids = list(s.scalars(select(KioskVisitRow.id).where(KioskVisitRow.touched_ms < before_ms)))
        if ids:
            s.execute(delete(KioskVisitRow).where(KioskVisitRow.id.in_(ids)))
        return ids


def count_visits(store: Store, *, since_ms: int | None = None) -> int:
    """Visits in progress (used at or after ``since_ms`` when given)."""
    query = select(func.count()).select_from(KioskVisitRow)
    if since_ms is not None:
        query = query.where(KioskVisitRow.touched_ms >= since_ms)
    with store._read() as s:
        return int(s.scalar(query) or 0)


def get_sealed(store: Store, visit_id: str) -> SealedVisit | None:
    """The stored row as it is (for inspection and tests); None when there is none."""
    with store._read() as s:
        row = s.get(KioskVisitRow, visit_id)
        return None if row is None else _sealed(row)
