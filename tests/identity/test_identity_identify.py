from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from triage_kiosk.identity import (
    AuditAction,
    Consent,
    IdentityService,
    MatchStatus,
)
from triage_kiosk.identity.video import letterbox

PROBES = {
    "obama/obama2.jpg": "P-OBAMA",
    "obama/obama3.jpg": "P-OBAMA",
    "obama/obama4.jpg": "P-OBAMA",
    "obama/obama5_480p.jpg": "P-OBAMA",
    "obama/obama_partial_face.jpg": "P-OBAMA",
    "biden/biden2.jpg": "P-BIDEN",
    "alex_lacamoire/alex2.jpg": "P-ALEX",
    "kit_harington/kit2.jpg": "P-KIT",
    "kit_harington/kit3.jpg": "P-KIT",
    "rose_leslie/rose2.jpg": "P-ROSE",
}


@pytest.mark.parametrize(("name", "expected"), sorted(PROBES.items()))
def test_each_person_is_identified_from_another_photo(
    gallery_service: IdentityService, photo: Callable[[str], np.ndarray], name: str, expected: str
) -> None:
    """Enrolled from one photo, each person is found among the five from any other photo of them,
    with a clear margin to the runner-up."""
    res = gallery_service.identify(photo(name), kiosk_id="KIOSK-ED-1")
    assert res.status is MatchStatus.MATCHED, res
    assert res.patient_id == expected
    assert res.distance is not None and res.distance <= 0.5
    assert res.runner_up_distance is not None and res.runner_up_distance > 0.6


def test_identification_is_audit_logged(gallery_service: IdentityService, kiosk: Callable[[str], np.ndarray]) -> None:
    """A match on a 640×480 kiosk frame writes who was identified at which kiosk (no biometrics)."""
    res = gallery_service.identify(kiosk("biden/biden2.jpg"), kiosk_id="KIOSK-ED-1")
    assert res.matched and res.patient_id == "P-BIDEN"
    event = gallery_service.audit.events("patient:P-BIDEN")[-1]
    assert event.action is AuditAction.IDENTIFIED and event.actor == "KIOSK-ED-1"
    assert set(event.detail) == {"distance", "liveness"}


def test_stranger_is_not_matched_to_anyone(
    make_service: Callable[..., IdentityService],
    encodings: dict[str, np.ndarray],
    consent: Callable[[str], Consent],
    photo: Callable[[str], np.ndarray],
) -> None:
    """With everybody but Obama enrolled, no Obama photo matches anyone (open-set rejection)."""
    svc = make_service()
    for pid, name in (
        ("P-BIDEN", "biden/biden1.jpg"),
        ("P-ALEX", "alex_lacamoire/alex1.jpg"),
        ("P-KIT", "kit_harington/kit1.jpg"),
        ("P-ROSE", "rose_leslie/rose1.jpg"),
    ):
        svc.enrol_template(pid, encodings[name], consent(pid), actor="nurse-7")
    for name in ("obama/obama1.jpg", "obama/obama2.jpg", "obama/obama4.jpg"):
        res = svc.identify(photo(name))
        assert res.status is MatchStatus.NO_MATCH and res.patient_id is None
        assert res.distance is not None and res.distance > 0.6
        assert "ID card" in res.message_en and "身份证" in res.message_zh
    assert not [e for e in svc.audit.events() if e.action is AuditAction.IDENTIFIED]


@pytest.mark.parametrize("name", ["group/obama_and_biden.jpg", "group/kit_with_rose.jpg"])
def test_frame_with_two_people_is_refused(
    gallery_service: IdentityService, photo: Callable[[str], np.ndarray], name: str
) -> None:
    """Two people in view: refused with a message, nobody identified (even though both are
    enrolled)."""
    res = gallery_service.identify(letterbox(photo(name)))
    assert res.status is MatchStatus.MULTIPLE_FACES and res.patient_id is None
    assert res.faces >= 2
    assert "One person at a time" in res.message_en


def test_frame_without_face_is_refused(gallery_service: IdentityService, photo: Callable[[str], np.ndarray]) -> None:
    """A frame with no face (the suits of the group photo; an empty grey frame) is refused."""
    suits = np.ascontiguousarray(photo("group/obama_and_biden.jpg")[900:1380, 300:940])
    for frame in (suits, np.full((480, 640, 3), 90, np.uint8)):
        res = gallery_service.identify(frame)
        assert res.status is MatchStatus.NO_FACE and res.faces == 0
        assert "look at the camera" in res.message_en


def test_each_person_of_a_group_photo_alone_is_identified(
    gallery_service: IdentityService, photo: Callable[[str], np.ndarray]
) -> None:
    """Cropped to one person, the group photo identifies Biden (left) and Obama (right)."""
    img = photo("group/obama_and_biden.jpg")
    left = np.ascontiguousarray(img[100:1000, 350:1050])
    right = np.ascontiguousarray(img[100:1000, 1000:1550])
    assert gallery_service.identify(letterbox(left)).patient_id == "P-BIDEN"
    assert gallery_service.identify(letterbox(right)).patient_id == "P-OBAMA"


def test_small_face_in_the_background_does_not_block_the_patient(
    gallery_service: IdentityService, kiosk: Callable[[str], np.ndarray], photo: Callable[[str], np.ndarray]
) -> None:
    """A much smaller face behind the patient is a bystander: the patient is still identified."""
    frame = np.array(kiosk("rose_leslie/rose2.jpg"))
    small = cv2.resize(kiosk("kit_harington/kit2.jpg"), (256, 192), interpolation=cv2.INTER_AREA)
    frame[0:192, 0:256] = small
    found = gallery_service.engine.find(frame)
    res = gallery_service.identify(frame)
    assert res.status is MatchStatus.MATCHED and res.patient_id == "P-ROSE"
    assert len(found.subjects) == 1


def test_face_too_far_asks_to_come_closer(gallery_service: IdentityService, kiosk: Callable[[str], np.ndarray]) -> None:
    """A face below the minimum size is not matched; the patient is asked to come closer."""
    tiny = cv2.resize(kiosk("obama/obama1.jpg"), (128, 96), interpolation=cv2.INTER_AREA)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[200:296, 250:378] = tiny
    (face,) = gallery_service.engine.detect(frame)  # found only with upsampling, ~43 px wide
    assert face.width < gallery_service.engine.min_face_px
    res = gallery_service.identify(frame)
    assert res.status is MatchStatus.FACE_TOO_SMALL and res.patient_id is None
    assert "come closer" in res.message_en


def test_two_patients_with_the_same_face_are_ambiguous(
    gallery_service: IdentityService,
    encodings: dict[str, np.ndarray],
    consent: Callable[[str], Consent],
    photo: Callable[[str], np.ndarray],
) -> None:
    """Look-alikes (here: Obama enrolled twice, as twins would be) are never resolved by a hair:
    the kiosk refuses and sends the patient to the ID/QR check-in."""
    gallery_service.enrol_template(
        "P-TWIN", encodings["obama/obama4.jpg"], consent("P-TWIN"), actor="nurse-7", allow_duplicate=True
    )
    res = gallery_service.identify(photo("obama/obama2.jpg"))
    assert res.status is MatchStatus.AMBIGUOUS and res.patient_id is None


def test_candidate_list_restricts_the_search(
    gallery_service: IdentityService, photo: Callable[[str], np.ndarray]
) -> None:
    """Searching only today's expected patients: Biden is found when expected, rejected when not."""
    img = photo("biden/biden2.jpg")
    assert gallery_service.identify(img, candidates=["P-BIDEN", "P-KIT"]).patient_id == "P-BIDEN"
    res = gallery_service.identify(img, candidates=["P-KIT", "P-ROSE", "P-UNKNOWN"])
    assert res.status is MatchStatus.NO_MATCH


def test_bad_frames_are_refused_with_the_field_named(gallery_service: IdentityService) -> None:
    """Not an H×W×3 uint8 array → ValueError naming the frame and what was wrong."""
    with pytest.raises(ValueError, match="frame: expected dtype uint8"):
        gallery_service.identify(np.zeros((480, 640, 3), np.float64))
    with pytest.raises(ValueError, match=r"frame: expected shape H×W×3"):
        gallery_service.identify(np.zeros((480, 640), np.uint8))
    with pytest.raises(ValueError, match="frame: expected a numpy array"):
        gallery_service.identify("frame.jpg")  # type: ignore[arg-type]
