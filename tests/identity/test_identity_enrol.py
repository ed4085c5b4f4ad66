from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from triage_kiosk.identity import (
    AuditAction,
    Consent,
    ConsentRequiredError,
    EnrolmentRefused,
    IdentityPolicy,
    IdentityService,
    InMemoryAuditLog,
    InMemoryTemplateStore,
)


def test_enrol_with_consent_stores_sealed_template_and_audits(
    make_service: Callable[..., IdentityService],
    photo: Callable[[str], np.ndarray],
    consent: Callable[[str], Consent],
) -> None:
    """Enrolling with a matching consent record stores one sealed template, indexes it and writes
    an audit entry carrying the consent evidence (text version, source)."""
    store, audit = InMemoryTemplateStore(), InMemoryAuditLog()
    svc = make_service(store, audit)
    res = svc.enrol("P-1", photo("obama/obama2.jpg"), consent("P-1"), actor="nurse-7")
    assert res.patient_id == "P-1" and res.images == 1 and not res.replaced
    assert svc.is_enrolled("P-1") and store.count() == 1
    rec = store.get("P-1")
    assert rec is not None and rec.consent.text_version == "face-id-2026-01" and rec.enrolled_by == "nurse-7"
    (event,) = audit.events("patient:P-1")
    assert event.action is AuditAction.ENROLLED
    assert event.detail["consent_version"] == "face-id-2026-01" and event.detail["consent_source"] == "KIOSK-ED-1"


def test_enrol_without_consent_is_refused_and_nothing_is_stored(
    make_service: Callable[..., IdentityService], photo: Callable[[str], np.ndarray]
) -> None:
    """No consent record → ConsentRequiredError with a message that says what to do; no template
    anywhere, and the refusal is audit-logged."""
    store, audit = InMemoryTemplateStore(), InMemoryAuditLog()
    svc = make_service(store, audit)
    with pytest.raises(ConsentRequiredError, match=r"patient P-1: no recorded consent.*before enrolling"):
        svc.enrol("P-1", photo("obama/obama2.jpg"), None, actor="nurse-7")
    assert store.count() == 0 and not svc.is_enrolled("P-1")
    (event,) = audit.events("patient:P-1")
    assert event.action is AuditAction.ENROL_REFUSED and event.detail["code"] == "consent_required"


def test_consent_of_another_patient_is_refused(
    make_service: Callable[..., IdentityService],
    photo: Callable[[str], np.ndarray],
    consent: Callable[[str], Consent],
) -> None:
    """A consent recorded for patient A cannot be used to enrol patient B."""
    svc = make_service()
    with pytest.raises(ConsentRequiredError, match="recorded for patient P-2, not for this patient"):
        svc.enrol("P-1", photo("obama/obama2.jpg"), consent("P-2"), actor="nurse-7")
    assert svc.count() == 0


def test_consent_refused_for_future_time_or_outdated_text(
    make_service: Callable[..., IdentityService], photo: Callable[[str], np.ndarray], now: datetime
) -> None:
    """Consent dated in the future, or given to a text version no longer current, does not count."""
    future = Consent("P-1", "face-id-2026-01", now + timedelta(hours=1), "self", "KIOSK-1")
    svc = make_service()
    with pytest.raises(ConsentRequiredError, match="in the future"):
        svc.enrol("P-1", photo("obama/obama2.jpg"), future, actor="nurse-7")
    strict = make_service(policy=IdentityPolicy(accepted_consent_versions=frozenset({"face-id-2026-02"})))
    old = Consent("P-1", "face-id-2026-01", now, "self", "KIOSK-1")
    with pytest.raises(ConsentRequiredError, match="not a current version"):
        strict.enrol("P-1", photo("obama/obama2.jpg"), old, actor="nurse-7")


def test_consent_record_checks_its_fields(now: datetime) -> None:
    """A Consent needs every field and a timezone-aware time; the error names the field."""
    with pytest.raises(ValueError, match="consent: at: must be a timezone-aware"):
        Consent("P-1", "v1", datetime(2026, 1, 1), "self", "KIOSK-1")
    with pytest.raises(ValueError, match="consent: text_version"):
        Consent("P-1", " ", now, "self", "KIOSK-1")
    with pytest.raises(ValueError, match="consent: source"):
        Consent("P-1", "v1", now, "self", "")


def test_enrol_refuses_group_photo_and_photo_without_face(
    make_service: Callable[..., IdentityService],
    photo: Callable[[str], np.ndarray],
    consent: Callable[[str], Consent],
) -> None:
    """A template is only made from a photo of the patient alone."""
    audit = InMemoryAuditLog()
    svc = make_service(audit=audit)
    with pytest.raises(EnrolmentRefused, match="faces found; the photo must show the patient alone") as exc:
        svc.enrol("P-1", photo("group/kit_with_rose.jpg"), consent("P-1"), actor="nurse-7")
    assert exc.value.code == "multiple_faces"
    blank = np.full((480, 640, 3), 128, np.uint8)
    with pytest.raises(EnrolmentRefused, match="no face found") as exc:
        svc.enrol("P-1", blank, consent("P-1"), actor="nurse-7")
    assert exc.value.code == "no_face"
    assert svc.count() == 0
    assert [e.detail["code"] for e in audit.events("patient:P-1")] == ["multiple_faces", "no_face"]


def test_enrol_from_several_photos_averages_and_checks_they_agree(
    make_service: Callable[..., IdentityService],
    photo: Callable[[str], np.ndarray],
    consent: Callable[[str], Consent],
) -> None:
    """Two photos of one person give one template; photos of two people are refused."""
    svc = make_service()
    res = svc.enrol(
        "P-1", [photo("kit_harington/kit1.jpg"), photo("kit_harington/kit3.jpg")], consent("P-1"), actor="n"
    )
    assert res.images == 2 and 0.0 < res.spread < 0.5
    with pytest.raises(EnrolmentRefused, match="do not look like one person") as exc:
        svc.enrol("P-2", [photo("rose_leslie/rose1.jpg"), photo("kit_harington/kit2.jpg")], consent("P-2"), actor="n")
    assert exc.value.code == "inconsistent_images"


def test_enrolling_a_face_already_enrolled_for_another_patient_is_refused(
    gallery_service: IdentityService, photo: Callable[[str], np.ndarray], consent: Callable[[str], Consent]
) -> None:
    """Obama is enrolled as P-OBAMA: enrolling his face under a new id is a duplicate registration
    (refused, audit names the match) unless staff override it."""
    with pytest.raises(EnrolmentRefused, match="already matches another enrolled patient") as exc:
        gallery_service.enrol("P-NEW", photo("obama/obama3.jpg"), consent("P-NEW"), actor="nurse-7")
    assert exc.value.code == "duplicate"
    (event,) = gallery_service.audit.events("patient:P-NEW")
    assert event.detail["matches"] == "patient:P-OBAMA"
    res = gallery_service.enrol(
        "P-NEW", photo("obama/obama3.jpg"), consent("P-NEW"), actor="nurse-7", allow_duplicate=True
    )
    assert res.patient_id == "P-NEW" and gallery_service.is_enrolled("P-NEW")


def test_re_enrolling_replaces_the_template(
    gallery_service: IdentityService, photo: Callable[[str], np.ndarray], consent: Callable[[str], Consent]
) -> None:
    """Enrolling the same patient again replaces the template (one per patient)."""
    before = gallery_service.count()
    res = gallery_service.enrol("P-KIT", photo("kit_harington/kit2.jpg"), consent("P-KIT"), actor="nurse-7")
    assert res.replaced and gallery_service.count() == before
    assert gallery_service.store.count() == before


def test_bad_enrol_arguments_name_the_field(
    make_service: Callable[..., IdentityService], consent: Callable[[str], Consent]
) -> None:
    """Empty patient id, missing actor, wrong image type: ValueError naming the field."""
    svc = make_service()
    img = np.zeros((480, 640, 3), np.uint8)
    with pytest.raises(ValueError, match="patient_id"):
        svc.enrol("", img, consent("P-1"), actor="n")
    with pytest.raises(ValueError, match="actor"):
        svc.enrol("P-1", img, consent("P-1"), actor="")
    with pytest.raises(ValueError, match=r"images\[0\]: expected dtype uint8"):
        svc.enrol("P-1", [img.astype(np.float32)], consent("P-1"), actor="n")
    with pytest.raises(ValueError, match="images: expected 1 to 5 images"):
        svc.enrol("P-1", [], consent("P-1"), actor="n")
