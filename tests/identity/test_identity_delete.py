from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from triage_kiosk.identity import (
    AuditAction,
    Consent,
    IdentityService,
    InMemoryAuditLog,
    MatchStatus,
    SqliteAuditLog,
    SqliteTemplateStore,
)


def test_delete_removes_template_everywhere_and_is_audited(
    gallery_service: IdentityService, photo: Callable[[str], np.ndarray]
) -> None:
    """After deletion on request the patient is in neither the store nor the index, is no longer
    identified, and the audit log says who deleted it and why."""
    assert gallery_service.identify(photo("rose_leslie/rose2.jpg")).patient_id == "P-ROSE"
    assert gallery_service.delete("P-ROSE", actor="clerk-3", reason="patient withdrew consent")
    assert gallery_service.store.get("P-ROSE") is None and not gallery_service.is_enrolled("P-ROSE")
    assert "P-ROSE" not in gallery_service.index.ids
    res = gallery_service.identify(photo("rose_leslie/rose2.jpg"))
    assert res.status is MatchStatus.NO_MATCH
    event = gallery_service.audit.events("patient:P-ROSE")[-1]
    assert event.action is AuditAction.DELETED and event.actor == "clerk-3"
    assert event.detail == {"reason": "patient withdrew consent", "store": True, "index": True}
    # The others are untouched.
    assert gallery_service.identify(photo("kit_harington/kit2.jpg")).patient_id == "P-KIT"


def test_deleting_twice_reports_nothing_stored(gallery_service: IdentityService) -> None:
    """A second request finds nothing (False) and that is audit-logged too."""
    assert gallery_service.delete("P-KIT", actor="clerk-3")
    assert not gallery_service.delete("P-KIT", actor="clerk-3")
    actions = [e.action for e in gallery_service.audit.events("patient:P-KIT")]
    assert actions[-2:] == [AuditAction.DELETED, AuditAction.DELETE_NOTHING]
    with pytest.raises(ValueError, match="actor"):
        gallery_service.delete("P-KIT", actor="")


def test_delete_from_sqlite_leaves_no_ciphertext_in_the_file(
    tmp_path: Path,
    make_service: Callable[..., IdentityService],
    encodings: dict[str, np.ndarray],
    consent: Callable[[str], Consent],
) -> None:
    """With secure_delete the sealed bytes are overwritten in the file, and a restarted service
    does not bring the template back; the audit table keeps the deletion and refuses edits."""
    db = tmp_path / "faces.sqlite3"
    with SqliteTemplateStore(db) as store:
        audit = SqliteAuditLog(db)
        svc = make_service(store, audit)
        svc.enrol_template("P-1", encodings["obama/obama1.jpg"], consent("P-1"), actor="nurse-7")
        svc.enrol_template("P-2", encodings["rose_leslie/rose1.jpg"], consent("P-2"), actor="nurse-7")
        rec = store.get("P-1")
        assert rec is not None
        ct = rec.sealed.ciphertext
        assert ct in db.read_bytes()
        assert svc.delete("P-1", actor="clerk-3")
        assert ct not in db.read_bytes()
    with SqliteTemplateStore(db) as store:
        again = make_service(store, InMemoryAuditLog())
        assert again.count() == 1 and not again.is_enrolled("P-1") and again.is_enrolled("P-2")
    actions = [e.action for e in SqliteAuditLog(db).events("patient:P-1")]
    assert actions == [AuditAction.ENROLLED, AuditAction.DELETED]
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM face_audit")
    audit.close()
