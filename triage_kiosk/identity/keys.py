"""The identity room's secrets, read from the product settings (``hospital_ops.config``).

There is no default key anywhere in code: a missing secret raises ``MissingSecretError`` whose
message names the variable and the command that generates a value.

- ``HOSPITAL_OPS_BIOMETRIC_KEY`` — 32 random bytes, base64 (standard or URL-safe alphabet):
  the AES-256-GCM key that seals face templates at rest.
- ``HOSPITAL_OPS_ID_HASH_KEY`` — any secret of at least 32 characters: the HMAC key of the
  resident-id hash.
- ``HOSPITAL_OPS_QR_TOKEN_KEY`` — at least 32 characters, shared with the hospital app's backend:
  the HMAC key of the check-in QR tokens. (Not yet a field of ``Settings``; read from the
  environment here until the lead adds it.)
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Final

from hospital_ops.config import GENERATE_HINT, MIN_SECRET_CHARS, MissingSecretError, Settings, require_secret

from .errors import KeyConfigError

BIOMETRIC_KEY_VAR: Final = "HOSPITAL_OPS_BIOMETRIC_KEY"
ID_HASH_KEY_VAR: Final = "HOSPITAL_OPS_ID_HASH_KEY"
QR_TOKEN_KEY_VAR: Final = "HOSPITAL_OPS_QR_TOKEN_KEY"
#: AES-256.
AES_KEY_BYTES: Final = 32


def new_key() -> str:
    """A fresh 32-byte key, URL-safe base64 (what :data:`GENERATE_HINT` prints)."""
    return base64.urlsafe_b64encode(os.urandom(AES_KEY_BYTES)).decode("ascii")


def decode_aes_key(text: str, *, var: str = BIOMETRIC_KEY_VAR) -> bytes:
    """Decode a base64 key (either alphabet, padding optional) that must be exactly 32 bytes."""
    raw = text.strip()
    if not raw:
        raise KeyConfigError(f"{var}: empty; generate one with\n    {GENERATE_HINT}")
    padded = raw + "=" * (-len(raw) % 4)
    try:
        key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigError(f"{var}: not valid base64 ({exc}); generate a key with\n    {GENERATE_HINT}") from None
    if len(key) != AES_KEY_BYTES:
        raise KeyConfigError(
            f"{var}: decodes to {len(key)} bytes, an AES-256 key needs exactly {AES_KEY_BYTES}; "
            f"generate one with\n    {GENERATE_HINT}"
        )
    return key


def biometric_key(settings: Settings | None = None) -> bytes:
    """The face-template key from the settings (``MissingSecretError`` if unset)."""
    return decode_aes_key(require_secret("biometric_key", settings), var=BIOMETRIC_KEY_VAR)


def id_hash_key(settings: Settings | None = None) -> bytes:
    """The resident-id HMAC key from the settings (``MissingSecretError`` if unset)."""
    return require_secret("id_hash_key", settings).encode("utf-8")


def qr_token_key(env: Mapping[str, str] | None = None) -> bytes:
    """The QR-token HMAC key from the environment (``MissingSecretError`` if unset or short)."""
    env = os.environ if env is None else env
    value = env.get(QR_TOKEN_KEY_VAR, "").strip()
    how = f"generate one with\n    {GENERATE_HINT}\nand set the same value in the hospital app's backend"
    if not value:
        raise MissingSecretError(f"{QR_TOKEN_KEY_VAR} is not set (signs check-in QR codes): {how}")
    if len(value) < MIN_SECRET_CHARS:
        raise MissingSecretError(
            f"{QR_TOKEN_KEY_VAR} is too short ({len(value)} characters, need at least {MIN_SECRET_CHARS}): {how}"
        )
    return value.encode("utf-8")
