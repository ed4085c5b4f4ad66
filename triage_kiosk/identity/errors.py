"""Errors of the identity room. Every message names the field or the setting and the reason.

The kiosk web layer catches :class:`IdentityError` (and ``ValueError`` for bad input) and shows
``str(error)``; nothing here should ever surface as a traceback.
"""

from __future__ import annotations


class IdentityError(Exception):
    """Base of every error the identity room raises on purpose."""

    #: Stable machine-readable code for the web layer and the audit log.
    code: str = "identity_error"


class KeyConfigError(IdentityError, ValueError):
    """A key in the settings is malformed (wrong length, not base64)."""

    code = "key_config"


class InvalidFrameError(IdentityError, ValueError):
    """A camera frame / photo is not an ``H×W×3`` uint8 image."""

    code = "invalid_frame"


class EnrolmentRefused(IdentityError):
    """Enrolment could not go ahead; ``code`` says why (``no_face``, ``multiple_faces``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConsentRequiredError(EnrolmentRefused):
    """No recorded consent (or consent for someone else): a face template must not be created."""

    def __init__(self, message: str) -> None:
        super().__init__("consent_required", message)


class TemplateKeyError(IdentityError):
    """A stored template was sealed with another key than the one in the settings."""

    code = "template_key"


class TemplateIntegrityError(IdentityError):
    """A stored template failed authentication (tampered with, or moved to another patient)."""

    code = "template_integrity"


class InvalidIdNumber(IdentityError, ValueError):
    """A Chinese resident identity number failed validation."""

    code = "invalid_id_number"


class QrTokenError(IdentityError, ValueError):
    """A hospital-app QR token was refused; ``reason`` is one of ``QrTokenError.REASONS``."""

    REASONS = ("malformed", "bad_signature", "expired", "not_yet_valid", "too_long_lived", "replayed")

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"reason: {reason!r} is not one of {', '.join(self.REASONS)}")
        super().__init__(message)
        self.reason = reason
        self.code = f"qr_{reason}"
