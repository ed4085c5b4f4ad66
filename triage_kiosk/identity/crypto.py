"""Face templates sealed with AES-256-GCM: only nonce + ciphertext ever reach a store.

The associated data binds a ciphertext to its patient id and to the encoder model, so a row
copied onto another patient (or read with another model's semantics) fails authentication
instead of silently identifying the wrong person. ``key_id`` is a short fingerprint of the key
(a keyed hash, reveals nothing about it) that lets a wrong key be reported as such.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Final

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import TemplateIntegrityError, TemplateKeyError
from .keys import AES_KEY_BYTES, BIOMETRIC_KEY_VAR

#: Encoder whose 128-d vectors are sealed (dlib ResNet via face_recognition, 5-point alignment).
MODEL: Final = "dlib_face_recognition_resnet_model_v1"
DIM: Final = 128
NONCE_BYTES: Final = 12
_AAD_PREFIX: Final = b"hospital-ops/face-template/v1\x00"


@dataclass(frozen=True, slots=True)
class SealedTemplate:
    """What is stored: never the vector itself."""

    key_id: str
    nonce: bytes
    ciphertext: bytes
    model: str = MODEL


def _aad(patient_id: str, model: str) -> bytes:
    return _AAD_PREFIX + model.encode("utf-8") + b"\x00" + patient_id.encode("utf-8")


class TemplateCipher:
    """Seals and opens 128-d float32 face templates with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != AES_KEY_BYTES:
            raise ValueError(f"key: must be {AES_KEY_BYTES} bytes (AES-256), got {len(key)} bytes")
        self._aead = AESGCM(bytes(key))
        self.key_id = hmac.new(bytes(key), b"hospital-ops key id", hashlib.sha256).hexdigest()[:16]

    def seal(self, patient_id: str, vector: np.ndarray) -> SealedTemplate:
        v = np.asarray(vector, dtype=np.float32)
        if v.shape != (DIM,) or not np.all(np.isfinite(v)):
            raise ValueError(f"vector: must be {DIM} finite numbers, got shape {v.shape}")
        nonce = os.urandom(NONCE_BYTES)
        ct = self._aead.encrypt(nonce, v.astype("<f4").tobytes(), _aad(patient_id, MODEL))
        return SealedTemplate(key_id=self.key_id, nonce=nonce, ciphertext=ct, model=MODEL)

    def open(self, patient_id: str, sealed: SealedTemplate) -> np.ndarray:
        if sealed.key_id != self.key_id:
            raise TemplateKeyError(
                f"patient {patient_id}: template was sealed with key id {sealed.key_id}, but "
                f"{BIOMETRIC_KEY_VAR} has key id {self.key_id}: wrong key (or the key was changed "
                "without re-sealing the templates with rekey())"
            )
        if sealed.model != MODEL:
            raise TemplateIntegrityError(
                f"patient {patient_id}: template is for encoder {sealed.model!r}, this service uses {MODEL!r}"
            )
        try:
            raw = self._aead.decrypt(sealed.nonce, sealed.ciphertext, _aad(patient_id, sealed.model))
        except InvalidTag:
            raise TemplateIntegrityError(
                f"patient {patient_id}: template failed authentication: wrong {BIOMETRIC_KEY_VAR}, "
                "or the stored ciphertext was altered or belongs to another patient"
            ) from None
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
