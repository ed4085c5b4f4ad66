"""Check-in without biometrics: the resident identity number, or a QR code from the hospital app.

Resident id (GB 11643-1999, 18 characters): format, region, birth date and the ISO 7064
MOD 11-2 check character are validated; only a keyed hash (HMAC-SHA256 with
``HOSPITAL_OPS_ID_HASH_KEY``) is ever stored or compared (``Patient.id_number_hash``). Id numbers
have little entropy (region + birth date + 3 digits), so an unkeyed hash would be reversed by
enumeration in minutes; the key is what protects them.

QR token: ``HO1.<payload>.<signature>``, both base64url without padding; the payload is compact
JSON ``{"pid", "iat", "exp", "jti"}`` and the signature is HMAC-SHA256 over ``HO1.<payload>``
with ``HOSPITAL_OPS_QR_TOKEN_KEY`` (shared with the app's backend). A token lives minutes, and
:class:`ReplayGuard` refuses a ``jti`` already used at this kiosk service.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import date
from typing import Final

import cv2
import numpy as np

from .errors import InvalidIdNumber, QrTokenError

# -- resident identity number ------------------------------------------------------------------

_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK: Final = "10X98765432"
#: First two digits: provinces, autonomous regions, municipalities, HK/Macao/Taiwan residence permits.
_PROVINCES: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54}
    | {61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_ID_RE: Final = re.compile(r"^\d{17}[\dX]$")


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise InvalidIdNumber(f"id_number: need 17 digits to compute the check character, got {first17!r}")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A validated number. Keep only :meth:`ResidentIdHasher.hash` of it, never ``number``."""

    number: str
    region: str
    birth_date: date
    #: True if the sequence digit (17th) is odd.
    male: bool

    def __repr__(self) -> str:  # never print the number in logs
        return f"ResidentId(region={self.region}, birth_year={self.birth_date.year}, masked={mask_id(self.number)})"


def mask_id(number: str) -> str:
    """``110105********002X`` style, for screens and logs."""
    return number[:6] + "*" * 8 + number[14:] if len(number) == 18 else "*" * len(number)


def validate_resident_id(text: str, *, today: date | None = None) -> ResidentId:
    """Parse and validate an 18-character resident id (spaces ignored, ``x`` accepted)."""
    if not isinstance(text, str):
        raise InvalidIdNumber(f"id_number: expected text, got {type(text).__name__}")
    s = re.sub(r"\s+", "", text).upper()
    if len(s) != 18:
        raise InvalidIdNumber(f"id_number: must be 18 characters, got {len(s)}")
    if not _ID_RE.match(s):
        raise InvalidIdNumber("id_number: must be 17 digits followed by a digit or X")
    if int(s[:2]) not in _PROVINCES:
        raise InvalidIdNumber(f"id_number: region code {s[:2]} is not a valid province code")
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise InvalidIdNumber(f"id_number: birth date {s[6:14]} is not a valid date") from None
    today = today or date.today()
    if born > today or born.year < 1880:
        raise InvalidIdNumber(f"id_number: birth date {born.isoformat()} is not plausible")
    expected = check_character(s[:17])
    if s[17] != expected:
        raise InvalidIdNumber("id_number: check character does not match (mistyped digit?)")
    return ResidentId(number=s, region=s[:6], birth_date=born, male=int(s[16]) % 2 == 1)


class ResidentIdHasher:
    """Keyed hash of resident ids: the only form in which a number is stored or compared."""

    _DOMAIN: Final = b"hospital-ops/cn-resident-id/v1\x00"

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < 32:
            raise ValueError("key: the id-hash key must be at least 32 bytes (HOSPITAL_OPS_ID_HASH_KEY)")
        self._key = key

    def hash(self, id_number: str | ResidentId, *, today: date | None = None) -> str:
        """Validate and hash; hex HMAC-SHA256 (64 characters)."""
        rid = id_number if isinstance(id_number, ResidentId) else validate_resident_id(id_number, today=today)
        return hmac.new(self._key, self._DOMAIN + rid.number.encode("ascii"), hashlib.sha256).hexdigest()

    def matches(self, id_number: str, stored_hash: str) -> bool:
        """Constant-time comparison of a typed number with a stored hash."""
        return hmac.compare_digest(self.hash(id_number), stored_hash)


# -- QR tokens ---------------------------------------------------------------------------------

QR_PREFIX: Final = "HO1"
MAX_TOKEN_CHARS: Final = 512
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_.-]+")


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class QrClaims:
    patient_id: str
    issued_at_s: int
    expires_at_s: int
    token_id: str


class QrTokenCodec:
    """Signs (hospital app backend, tests) and verifies (kiosk) check-in QR tokens."""

    def __init__(self, key: bytes, *, max_ttl_s: int = 15 * 60, clock_skew_s: int = 30) -> None:
        if not isinstance(key, bytes) or len(key) < 32:
            raise ValueError("key: the QR token key must be at least 32 bytes (HOSPITAL_OPS_QR_TOKEN_KEY)")
        if max_ttl_s <= 0 or clock_skew_s < 0:
            raise ValueError("max_ttl_s must be positive and clock_skew_s not negative")
        self._key = key
        self.max_ttl_s = max_ttl_s
        self.clock_skew_s = clock_skew_s

    def _sign(self, signed_part: str) -> str:
        return _b64e(hmac.new(self._key, signed_part.encode("ascii"), hashlib.sha256).digest())

    def sign(self, patient_id: str, *, now_s: int, ttl_s: int = 300, token_id: str | None = None) -> str:
        if not patient_id or len(patient_id) > 64:
            raise ValueError(f"patient_id: must be 1–64 characters, got {patient_id!r}")
        if not 0 < ttl_s <= self.max_ttl_s:
            raise ValueError(f"ttl_s: must be in 1..{self.max_ttl_s}, got {ttl_s}")
        claims = {
            "pid": patient_id,
            "iat": int(now_s),
            "exp": int(now_s) + ttl_s,
            "jti": token_id or secrets.token_hex(8),
        }
        payload = _b64e(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        signed = f"{QR_PREFIX}.{payload}"
        return f"{signed}.{self._sign(signed)}"

    def verify(self, token: str, *, now_s: int) -> QrClaims:
        """Check structure, signature (constant time), then times. Raises :class:`QrTokenError`."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise QrTokenError("malformed", "qr: not a hospital check-in code (empty or too long)")
        token = token.strip()
        if not _TOKEN_RE.fullmatch(token):
            raise QrTokenError("malformed", "qr: not a hospital check-in code")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != QR_PREFIX:
            raise QrTokenError("malformed", "qr: not a hospital check-in code")
        signed = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(signed).encode("ascii"), parts[2].encode("ascii")):
            raise QrTokenError("bad_signature", "qr: signature is not valid (forged, altered or from another system)")
        try:
            claims = json.loads(_b64d(parts[1]))
            pid, iat, exp, jti = claims["pid"], claims["iat"], claims["exp"], claims["jti"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise QrTokenError("malformed", "qr: payload is not valid") from None
        if not (isinstance(pid, str) and pid and isinstance(jti, str) and jti):
            raise QrTokenError("malformed", "qr: payload lacks patient id or token id")
        if type(iat) is not int or type(exp) is not int or exp <= iat:
            raise QrTokenError("malformed", "qr: payload times are not valid")
        if exp - iat > self.max_ttl_s:
            raise QrTokenError("too_long_lived", f"qr: code is valid for {exp - iat} s, more than {self.max_ttl_s} s")
        if now_s + self.clock_skew_s < iat:
            raise QrTokenError("not_yet_valid", "qr: code is issued in the future; check the clocks")
        if now_s - self.clock_skew_s >= exp:
            raise QrTokenError("expired", "qr: code has expired; refresh it in the hospital app")
        return QrClaims(patient_id=pid, issued_at_s=iat, expires_at_s=exp, token_id=jti)


class ReplayGuard:
    """Remembers used token ids until they expire; a second use is refused."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def use(self, claims: QrClaims, *, now_s: int) -> None:
        with self._lock:
            for jti in [j for j, exp in self._seen.items() if exp < now_s]:
                del self._seen[jti]
            if claims.token_id in self._seen:
                raise QrTokenError("replayed", "qr: this code was already used; refresh it in the hospital app")
            self._seen[claims.token_id] = claims.expires_at_s


def decode_qr(frame: np.ndarray) -> str | None:
    """The text of the QR code in an RGB (or grey) frame, or None if none is readable."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise ValueError("frame: expected an H×W (grey) or H×W×3 (RGB) uint8 array")
    img = frame if frame.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(img)
    return text if points is not None and text else None


def qr_image(text: str, *, module_px: int = 6, border_modules: int = 4) -> np.ndarray:
    """A QR code image (grey uint8) of ``text`` with a quiet zone (``cv2.QRCodeEncoder``)."""
    qr = cv2.QRCodeEncoder.create().encode(text)
    big = cv2.resize(qr, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    pad = border_modules * module_px
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
