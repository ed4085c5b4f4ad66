"""Recorded consent to face identification: no consent, no template.

A :class:`Consent` is the evidence kept next to the template (and in the audit log): which
patient agreed, to which version of the consent text, when, who recorded it and where. It maps
one-to-one onto ``hospital_ops.store.records.Consent`` (``purpose="face_identification"``,
``granted=True``) plus the text version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from .errors import ConsentRequiredError

#: The purpose string under which the store keeps this consent.
FACE_ID_PURPOSE: Final = "face_identification"
#: Clock skew tolerated between the kiosk that records consent and the service.
CONSENT_CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Consent:
    """A patient's recorded consent to have a face template kept for check-in."""

    patient_id: str
    #: Version of the consent wording the patient saw, e.g. ``"face-id-2026-01"``.
    text_version: str
    #: When consent was given (timezone-aware).
    at: datetime
    #: Who recorded it: a staff id, or ``"self"`` when the patient confirmed on the kiosk.
    actor: str
    #: Where: the kiosk id or the registration desk.
    source: str

    def __post_init__(self) -> None:
        for name in ("patient_id", "text_version", "actor", "source"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"consent: {name}: must be a non-empty string, got {value!r}")
        if not isinstance(self.at, datetime) or self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"consent: at: must be a timezone-aware datetime, got {self.at!r}")

    @property
    def purpose(self) -> str:
        return FACE_ID_PURPOSE


def require_consent(
    patient_id: str,
    consent: Consent | None,
    *,
    now: datetime,
    accepted_versions: frozenset[str] | None = None,
) -> Consent:
    """Return ``consent`` if it allows enrolling ``patient_id`` now, else raise
    :class:`ConsentRequiredError` saying what is missing."""
    if consent is None:
        raise ConsentRequiredError(
            f"patient {patient_id}: no recorded consent to face identification; record the patient's "
            "consent (Consent: patient id, text version, time, kiosk/staff) before enrolling a face, "
            "or check in with the ID card / QR code instead"
        )
    if not isinstance(consent, Consent):
        raise ConsentRequiredError(
            f"patient {patient_id}: consent: expected a Consent record, got {type(consent).__name__}"
        )
    if consent.patient_id != patient_id:
        raise ConsentRequiredError(
            f"patient {patient_id}: consent: recorded for patient {consent.patient_id}, not for this patient"
        )
    if consent.at > now + CONSENT_CLOCK_SKEW:
        raise ConsentRequiredError(
            f"patient {patient_id}: consent: time {consent.at.isoformat()} is in the future (now {now.isoformat()})"
        )
    if accepted_versions is not None and consent.text_version not in accepted_versions:
        raise ConsentRequiredError(
            f"patient {patient_id}: consent: text version {consent.text_version!r} is not a current "
            f"version ({', '.join(sorted(accepted_versions))}); ask the patient to consent again"
        )
    return consent
