"""The ``kiosk_visits`` table (migration 0006) on SQLite and PostgreSQL: sealed rows only, used
and expired on the campus clock, a finished visit never re-created, another kiosk's visit refused."""

from __future__ import annotations

import pytest

from hospital_ops.store import DuplicateError, InvalidInputError, Store
from hospital_ops.store import kiosk_visits as kv

TTL_MS = 30 * 60 * 1000


def sealed(
    visit_id: str = "V-1", kiosk: str = "K-1", *, at_ms: int = 1_000, ct: bytes = b"\x01" * 40
) -> kv.SealedVisit:
    return kv.SealedVisit(visit_id, kiosk, "key-1", b"\x00" * 12, ct, at_ms, at_ms)


def test_add_touch_update_delete(store: Store) -> None:
    """A visit is added, read back (marked used) by its own kiosk only, updated, and deleted."""
    kv.add_visit(store, sealed())
    with pytest.raises(DuplicateError):
        kv.add_visit(store, sealed())
    assert kv.touch_visit(store, "V-1", "K-2", now_ms=2_000, ttl_ms=TTL_MS) is None
    got = kv.touch_visit(store, "V-1", "K-1", now_ms=2_000, ttl_ms=TTL_MS)
    assert got is not None and got.touched_ms == 2_000 and got.ciphertext == b"\x01" * 40 and got.started_ms == 1_000
    assert kv.update_visit(store, sealed(ct=b"\x02" * 40, at_ms=3_000))
    again = kv.get_sealed(store, "V-1")
    assert again is not None and again.ciphertext == b"\x02" * 40 and again.started_ms == 1_000
    assert not kv.update_visit(store, sealed(kiosk="K-2"))  # another kiosk's: refused
    assert kv.delete_visit(store, "V-1") and not kv.delete_visit(store, "V-1")
    assert not kv.update_visit(store, sealed())  # finished: not brought back
    assert kv.count_visits(store) == 0


def test_expiry(store: Store) -> None:
    """A visit left alone longer than the TTL is ignored and deleted; the sweep deletes old rows only."""
    kv.add_visit(store, sealed("V-OLD", at_ms=0))
    kv.add_visit(store, sealed("V-NEW", at_ms=TTL_MS))
    assert kv.touch_visit(store, "V-OLD", "K-1", now_ms=TTL_MS + 1, ttl_ms=TTL_MS) is None
    assert kv.get_sealed(store, "V-OLD") is None
    kv.add_visit(store, sealed("V-OLD2", at_ms=5))
    assert kv.count_visits(store, since_ms=TTL_MS) == 1
    assert kv.expire_visits(store, before_ms=TTL_MS) == ["V-OLD2"]
    assert kv.count_visits(store) == 1


def test_bad_rows_are_refused(store: Store) -> None:
    """A nonce that is not 12 bytes, or an empty id, is refused naming the field."""
    with pytest.raises(InvalidInputError, match="nonce: must be 12 bytes"):
        kv.add_visit(store, kv.SealedVisit("V-1", "K-1", "key", b"\x00" * 8, b"x", 0, 0))
    with pytest.raises(InvalidInputError, match="kiosk_id: must be non-empty"):
        kv.add_visit(store, kv.SealedVisit("V-1", " ", "key", b"\x00" * 12, b"x", 0, 0))
