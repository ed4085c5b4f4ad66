"""Face templates in the product store (``face_templates``): the TemplateStore protocol over
SQLAlchemy, ciphertext only, consent evidence, audit-logged deletion; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from hospital_ops.domain import Patient
from hospital_ops.store import NotFoundError, Store
from tests.identity.conftest import GALLERY, NOW
from triage_kiosk.identity import Consent, IdentityService, TemplateCipher, TemplateRecord, TemplateStore
from triage_kiosk.identity.sqlstore import DELETE_ACTION, PUT_ACTION, SqlTemplateStore, StoreAuditLog


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store.open(url, auto_upgrade=True)
    for pid in [*GALLERY, "P-NEW"]:
        s.add_patient(Patient(id=pid, mrn=f"MRN-{pid}", name=pid), actor="test")
    yield s
    s.close()


def _record(cipher: TemplateCipher, consent: Callable[[str], Consent], pid: str, seed: int = 0) -> TemplateRecord:
    vec = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return TemplateRecord(pid, cipher.seal(pid, vec), consent(pid), NOW, "nurse-7")


def test_protocol_put_get_replace_count(store: Store, key: bytes, consent: Callable[[str], Consent]) -> None:
    """Put, get (with the consent evidence), replace, records and count; the class is a TemplateStore."""
    cipher = TemplateCipher(key)
    ts = SqlTemplateStore(store)
    assert isinstance(ts, TemplateStore)
    ts.put(_record(cipher, consent, "P-OBAMA"))
    got = ts.get("P-OBAMA")
    assert got is not None and got.consent == consent("P-OBAMA") and got.enrolled_by == "nurse-7"
    assert got.sealed.key_id == cipher.key_id and len(got.sealed.nonce) == 12
    ts.put(_record(cipher, consent, "P-OBAMA", seed=1))
    ts.put(_record(cipher, consent, "P-BIDEN"))
    assert ts.count() == 2 and [r.patient_id for r in ts.records()] == ["P-BIDEN", "P-OBAMA"]
    puts = store.audit_log(action=PUT_ACTION, subject="patient:P-OBAMA")
    assert [e.detail["replaced"] for e in puts] == [False, True]
    assert puts[0].detail["consent_version"] == "face-id-2026-01"


def test_unknown_patient_refused(store: Store, key: bytes, consent: Callable[[str], Consent]) -> None:
    """A template can only belong to a patient of the store."""
    with pytest.raises(NotFoundError, match="P-GHOST"):
        SqlTemplateStore(store).put(_record(TemplateCipher(key), consent, "P-GHOST"))


def test_only_ciphertext_is_stored(store: Store, key: bytes, consent: Callable[[str], Consent]) -> None:
    """The stored bytes are nonce + ciphertext: the vector's bytes appear nowhere in the row."""
    cipher = TemplateCipher(key)
    vec = np.random.default_rng(3).normal(size=128).astype(np.float32)
    SqlTemplateStore(store).put(TemplateRecord("P-KIT", cipher.seal("P-KIT", vec), consent("P-KIT"), NOW, "n"))
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT nonce, ciphertext FROM face_templates")).one()
    raw = vec.astype("<f4").tobytes()
    assert raw not in bytes(row.ciphertext) and raw[:16] not in bytes(row.ciphertext)
    assert len(bytes(row.ciphertext)) == 128 * 4 + 16  # AES-GCM tag
    assert np.allclose(cipher.open("P-KIT", SqlTemplateStore(store).get("P-KIT").sealed), vec)  # type: ignore[union-attr]


def test_delete_removes_and_is_audited(store: Store, key: bytes, consent: Callable[[str], Consent]) -> None:
    """Deleting removes the row and writes the audit entry; deleting again reports nothing stored."""
    ts = SqlTemplateStore(store)
    ts.put(_record(TemplateCipher(key), consent, "P-ROSE"))
    assert ts.delete("P-ROSE") is True
    assert ts.get("P-ROSE") is None and ts.count() == 0
    assert ts.delete("P-ROSE") is False
    entries = store.audit_log(action=DELETE_ACTION, subject="patient:P-ROSE")
    assert [e.detail["deleted"] for e in entries] == [True, False]


def test_identity_service_on_the_product_store(
    store: Store,
    key: bytes,
    consent: Callable[[str], Consent],
    encodings: dict[str, np.ndarray],
    make_service: Callable[..., IdentityService],
) -> None:
    """Enrol through the service, restart (a new service loads the sealed templates), identify,
    then delete on request: gone from store and index, and audit-logged in the store's log."""
    svc = make_service(SqlTemplateStore(store), StoreAuditLog(store))
    for pid, name in GALLERY.items():
        svc.enrol_template(pid, encodings[name], consent(pid), actor="nurse-7")
    again = make_service(SqlTemplateStore(store), StoreAuditLog(store))
    assert again.count() == len(GALLERY)
    hit = again.index.search(encodings["obama/obama2.jpg"])
    assert hit.patient_id == "P-OBAMA"
    assert again.delete("P-OBAMA", actor="dpo-1", reason="patient request")
    assert SqlTemplateStore(store).get("P-OBAMA") is None and not again.is_enrolled("P-OBAMA")
    actions = [e.action.value for e in StoreAuditLog(store).events("patient:P-OBAMA")]
    assert actions == ["face.enrolled", "face.deleted"]
    assert store.audit_log(action="face.deleted", actor="dpo-1")
    assert make_service(SqlTemplateStore(store), StoreAuditLog(store)).count() == len(GALLERY) - 1
