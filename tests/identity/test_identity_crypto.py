from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from hospital_ops.config import MissingSecretError, Settings
from triage_kiosk.identity import (
    Consent,
    IdentityService,
    InMemoryAuditLog,
    KeyConfigError,
    MatchStatus,
    SqliteAuditLog,
    SqliteTemplateStore,
    TemplateCipher,
    TemplateIntegrityError,
    TemplateKeyError,
    biometric_key,
    id_hash_key,
    new_key,
    qr_token_key,
    rekey,
)
from triage_kiosk.identity.crypto import SealedTemplate


def test_sealed_template_is_not_the_plaintext(encodings: dict[str, np.ndarray], key: bytes) -> None:
    """AES-GCM output: the float32 bytes of the vector appear nowhere in the ciphertext, every
    seal uses a fresh nonce, and opening gives the vector back exactly."""
    vec = encodings["obama/obama1.jpg"]
    cipher = TemplateCipher(key)
    a, b = cipher.seal("P-1", vec), cipher.seal("P-1", vec)
    plain = vec.astype("<f4").tobytes()
    assert len(a.ciphertext) == len(plain) + 16  # + GCM tag
    assert a.ciphertext != plain and plain[:16] not in a.ciphertext
    assert a.nonce != b.nonce and a.ciphertext != b.ciphertext
    np.testing.assert_array_equal(cipher.open("P-1", a), vec)


def test_wrong_key_fails_with_a_clear_error(encodings: dict[str, np.ndarray], key: bytes) -> None:
    """A template sealed with one key cannot be opened with another; the error names the setting."""
    sealed = TemplateCipher(key).seal("P-1", encodings["obama/obama1.jpg"])
    other = TemplateCipher(os.urandom(32))
    with pytest.raises(TemplateKeyError, match=r"HOSPITAL_OPS_BIOMETRIC_KEY has key id .*: wrong key"):
        other.open("P-1", sealed)
    # Even with a forged key id the authentication tag stops it.
    forged = SealedTemplate(key_id=other.key_id, nonce=sealed.nonce, ciphertext=sealed.ciphertext)
    with pytest.raises(TemplateIntegrityError, match="failed authentication"):
        other.open("P-1", forged)


def test_tampered_or_moved_template_fails_authentication(encodings: dict[str, np.ndarray], key: bytes) -> None:
    """A flipped bit, or a ciphertext copied onto another patient's row, is refused (AAD binds
    the patient id) instead of identifying the wrong person."""
    cipher = TemplateCipher(key)
    sealed = cipher.seal("P-1", encodings["obama/obama1.jpg"])
    flipped = bytearray(sealed.ciphertext)
    flipped[5] ^= 0x01
    with pytest.raises(TemplateIntegrityError, match="patient P-1: template failed authentication"):
        cipher.open("P-1", SealedTemplate(sealed.key_id, sealed.nonce, bytes(flipped)))
    with pytest.raises(TemplateIntegrityError, match="patient P-2"):
        cipher.open("P-2", sealed)


def test_missing_biometric_key_says_how_to_generate_one(tmp_path: Path) -> None:
    """No default key: an unset HOSPITAL_OPS_BIOMETRIC_KEY raises an error with the command."""
    settings = Settings(data_dir=tmp_path, biometric_key=None)
    with pytest.raises(MissingSecretError, match=r"HOSPITAL_OPS_BIOMETRIC_KEY is not set.*generate one with"):
        biometric_key(settings)
    with pytest.raises(MissingSecretError, match="HOSPITAL_OPS_BIOMETRIC_KEY"):
        IdentityService.from_settings(settings, store=None, audit=None)  # type: ignore[arg-type]


def test_biometric_key_must_be_32_bytes_of_base64(tmp_path: Path) -> None:
    """Standard and URL-safe base64 of 32 bytes are accepted; other lengths or junk are refused
    with the variable named."""
    raw = os.urandom(32)
    for text in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="), new_key()):
        key = biometric_key(Settings(data_dir=tmp_path, biometric_key=SecretStr(text)))
        assert len(key) == 32
    assert biometric_key(Settings(data_dir=tmp_path, biometric_key=SecretStr(base64.b64encode(raw).decode()))) == raw
    short = base64.b64encode(os.urandom(24)).decode()  # 32 characters, 24 bytes
    with pytest.raises(KeyConfigError, match="HOSPITAL_OPS_BIOMETRIC_KEY: decodes to 24 bytes"):
        biometric_key(Settings(data_dir=tmp_path, biometric_key=SecretStr(short)))
    with pytest.raises(KeyConfigError, match="not valid base64"):
        biometric_key(Settings(data_dir=tmp_path, biometric_key=SecretStr("!" * 44)))


def test_other_keys_have_no_default(tmp_path: Path) -> None:
    """The id-hash key comes from the settings and the QR key from the environment; both refuse
    to run without a value."""
    with pytest.raises(MissingSecretError, match="HOSPITAL_OPS_ID_HASH_KEY"):
        id_hash_key(Settings(data_dir=tmp_path, id_hash_key=None))
    assert id_hash_key(Settings(data_dir=tmp_path, id_hash_key=SecretStr("k" * 40))) == b"k" * 40
    with pytest.raises(MissingSecretError, match="HOSPITAL_OPS_QR_TOKEN_KEY is not set"):
        qr_token_key({})
    with pytest.raises(MissingSecretError, match="too short"):
        qr_token_key({"HOSPITAL_OPS_QR_TOKEN_KEY": "short"})
    assert qr_token_key({"HOSPITAL_OPS_QR_TOKEN_KEY": "q" * 44}) == b"q" * 44


def test_sqlite_store_keeps_only_ciphertext_and_survives_restart(
    tmp_path: Path,
    key: bytes,
    make_service: Callable[..., IdentityService],
    encodings: dict[str, np.ndarray],
    kiosk: Callable[[str], np.ndarray],
    consent: Callable[[str], Consent],
) -> None:
    """The file holds nonce + ciphertext, never the vector's bytes; a new service on the same file
    and key identifies the patient; a service with another key refuses to start."""
    db = tmp_path / "faces.sqlite3"
    vec = encodings["obama/obama1.jpg"]
    with SqliteTemplateStore(db) as store:
        make_service(store, SqliteAuditLog(db)).enrol_template("P-OBAMA", vec, consent("P-OBAMA"), actor="nurse-7")
    data = db.read_bytes()
    plain = vec.astype("<f4").tobytes()
    assert plain[:16] not in data and plain[-16:] not in data
    with SqliteTemplateStore(db) as store:
        again = make_service(store, InMemoryAuditLog())
        res = again.identify(kiosk("obama/obama2.jpg"))
        assert res.status is MatchStatus.MATCHED and res.patient_id == "P-OBAMA"
        with pytest.raises(TemplateKeyError, match="wrong key"):
            IdentityService(TemplateCipher(os.urandom(32)), store, InMemoryAuditLog())


def test_rekey_moves_templates_to_a_new_key(
    tmp_path: Path, key: bytes, encodings: dict[str, np.ndarray], consent: Callable[[str], Consent]
) -> None:
    """Key rotation re-seals every template; afterwards only the new key opens them."""
    db = tmp_path / "faces.sqlite3"
    old, new = TemplateCipher(key), TemplateCipher(os.urandom(32))
    with SqliteTemplateStore(db) as store:
        from triage_kiosk.identity import TemplateRecord

        for pid, name in (("P-1", "obama/obama1.jpg"), ("P-2", "rose_leslie/rose1.jpg")):
            store.put(TemplateRecord(pid, old.seal(pid, encodings[name]), consent(pid), consent(pid).at, "nurse"))
        assert rekey(store, old, new) == 2
        assert rekey(store, old, new) == 0  # idempotent
        for rec in store.records():
            assert rec.sealed.key_id == new.key_id
            new.open(rec.patient_id, rec.sealed)
            with pytest.raises(TemplateKeyError):
                old.open(rec.patient_id, rec.sealed)
