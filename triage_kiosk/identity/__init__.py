"""Identity at the triage kiosk: face check-in with consent, encrypted templates and liveness,
and the ID-number / QR-code fallback.

The kiosk web layer uses :class:`IdentityService` (enrol, identify, check_in, delete), the
liveness challenge helpers, and the fallback codecs. Heavy imports (dlib) happen when a
:class:`FaceEngine` is built, not on import of this package.
"""

from __future__ import annotations

from .audit import AuditAction, AuditEvent, AuditLog, InMemoryAuditLog, SqliteAuditLog
from .consent import FACE_ID_PURPOSE, Consent
from .crypto import SealedTemplate, TemplateCipher
from .errors import (
    ConsentRequiredError,
    EnrolmentRefused,
    IdentityError,
    InvalidFrameError,
    InvalidIdNumber,
    KeyConfigError,
    QrTokenError,
    TemplateIntegrityError,
    TemplateKeyError,
)
from .faces import FaceBox, FaceEngine, from_bgr
from .fallback import (
    QrClaims,
    QrTokenCodec,
    ReplayGuard,
    ResidentId,
    ResidentIdHasher,
    decode_qr,
    mask_id,
    validate_resident_id,
)
from .index import SearchResult, TemplateIndex
from .keys import biometric_key, id_hash_key, new_key, qr_token_key
from .liveness import Challenge, LivenessConfig, LivenessReason, LivenessResult, check_liveness, choose_challenge
from .service import (
    DEFAULT_THRESHOLD,
    EnrolResult,
    IdentifyResult,
    IdentityPolicy,
    IdentityService,
    MatchStatus,
    rekey,
)
from .store import InMemoryTemplateStore, SqliteTemplateStore, TemplateRecord, TemplateStore
from .video import letterbox, photo_to_y4m, read_y4m, write_y4m

__all__ = [
    "DEFAULT_THRESHOLD",
    "FACE_ID_PURPOSE",
    "AuditAction",
    "AuditEvent",
    "AuditLog",
    "Challenge",
    "Consent",
    "ConsentRequiredError",
    "EnrolResult",
    "EnrolmentRefused",
    "FaceBox",
    "FaceEngine",
    "IdentifyResult",
    "IdentityError",
    "IdentityPolicy",
    "IdentityService",
    "InMemoryAuditLog",
    "InMemoryTemplateStore",
    "InvalidFrameError",
    "InvalidIdNumber",
    "KeyConfigError",
    "LivenessConfig",
    "LivenessReason",
    "LivenessResult",
    "MatchStatus",
    "QrClaims",
    "QrTokenCodec",
    "QrTokenError",
    "ReplayGuard",
    "ResidentId",
    "ResidentIdHasher",
    "SealedTemplate",
    "SearchResult",
    "SqliteAuditLog",
    "SqliteTemplateStore",
    "TemplateCipher",
    "TemplateIndex",
    "TemplateIntegrityError",
    "TemplateKeyError",
    "TemplateRecord",
    "TemplateStore",
    "biometric_key",
    "check_liveness",
    "choose_challenge",
    "decode_qr",
    "from_bgr",
    "id_hash_key",
    "letterbox",
    "mask_id",
    "new_key",
    "photo_to_y4m",
    "qr_token_key",
    "read_y4m",
    "rekey",
    "validate_resident_id",
    "write_y4m",
]
