"""Liveness on real images: sequences made from the shared photos with OpenCV, landmarks from the
real dlib detector (no mocks). Still-photo attacks must fail; synthetic live answers must pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from triage_kiosk.identity import (
    Challenge,
    FaceEngine,
    IdentityService,
    LivenessConfig,
    LivenessReason,
    MatchStatus,
    check_liveness,
    choose_challenge,
)
from triage_kiosk.identity.liveness import evaluate, observe
from triage_kiosk.identity.synthetic import (
    close_eyes,
    face_landmarks,
    head_turn,
    live_sequence,
    photo_attack_sequence,
)
from triage_kiosk.identity.video import letterbox

ATTACK_FAILS = {LivenessReason.NO_RESPONSE, LivenessReason.FLAT_MOTION, LivenessReason.FACE_CHANGED}


def test_challenge_is_random_but_reproducible_with_a_seed() -> None:
    """Same seed → same challenge; over seeds every challenge comes up; options can be limited."""
    assert choose_challenge(42) == choose_challenge(42)
    assert {choose_challenge(s) for s in range(60)} == set(Challenge)
    assert {choose_challenge(s, [Challenge.BLINK]) for s in range(10)} == {Challenge.BLINK}
    assert Challenge.TURN_LEFT.prompt_en.startswith("Please turn your head to your left")
    assert "左侧" in Challenge.TURN_LEFT.prompt_zh


@pytest.mark.parametrize("challenge", list(Challenge))
def test_still_photo_repeated_fails(
    engine: FaceEngine, kiosk: Callable[[str], np.ndarray], challenge: Challenge
) -> None:
    """A printed photo held still in front of the camera answers no challenge."""
    frame = kiosk("rose_leslie/rose2.jpg")
    res = check_liveness([frame] * 10, challenge, engine=engine)
    assert not res.passed and res.reason is LivenessReason.NO_RESPONSE
    assert "did not see" in res.message_en


@pytest.mark.parametrize(
    ("label", "moves"),
    [
        ("translated", [{"dx": 8.0 * i, "dy": -4.0 * i} for i in range(1, 7)]),
        ("scaled", [{"zoom": 1.0 + 0.06 * i} for i in range(1, 7)]),
        ("rolled", [{"roll_deg": a} for a in (8.0, 16.0, 24.0, 16.0, 8.0, 0.0)]),
        ("tilted about the vertical", [{"yaw_tilt_deg": a} for a in (10.0, 20.0, 30.0, 40.0, 20.0, 0.0)]),
        ("tilted about the horizontal", [{"pitch_tilt_deg": a} for a in (15.0, 30.0, 45.0, 30.0, 0.0)]),
        ("sheared", [{"shear": s} for s in (0.1, 0.2, 0.3, 0.4, 0.2, 0.0)]),
    ],
)
@pytest.mark.parametrize("name", ["obama/obama1.jpg", "kit_harington/kit1.jpg"])
def test_moving_a_photo_fails_every_challenge(
    engine: FaceEngine, kiosk: Callable[[str], np.ndarray], name: str, label: str, moves: list[dict[str, float]]
) -> None:
    """A photo moved, zoomed, rolled, tilted or sheared in front of the camera moves its landmarks
    by one homography: no challenge passes, whichever is asked."""
    seen = observe(photo_attack_sequence(kiosk(name), moves), engine)  # detect once, judge 3 ways
    for challenge in Challenge:
        res = evaluate(seen, challenge)
        assert not res.passed, (label, challenge, res.detail)
        assert res.reason in ATTACK_FAILS, (label, challenge, res.detail)


@pytest.mark.parametrize("name", ["obama/obama1.jpg", "rose_leslie/rose2.jpg", "kit_harington/kit1.jpg"])
@pytest.mark.parametrize("challenge", [Challenge.TURN_LEFT, Challenge.TURN_RIGHT])
def test_synthetic_head_turn_passes(
    engine: FaceEngine, kiosk: Callable[[str], np.ndarray], name: str, challenge: Challenge
) -> None:
    """A 2.5-D head turn synthesised from the photo (nose off the face plane) and back: the real
    detector sees yaw change *with* parallax, so the asked direction passes."""
    frames = live_sequence(kiosk(name), challenge, engine)
    res = check_liveness(frames, challenge, engine=engine)
    assert res.passed, res.detail
    peak = res.frames[res.peak_index]  # type: ignore[index]
    sign = 1 if challenge is Challenge.TURN_LEFT else -1
    assert sign * peak.d_yaw >= 0.25 and sign * peak.parallax_yaw >= 0.12  # type: ignore[operator]
    assert res.baseline_index is not None and res.baseline_index < 3


def test_turning_the_wrong_way_fails(engine: FaceEngine, kiosk: Callable[[str], np.ndarray]) -> None:
    """Asked to turn left, the person turns right: refused with its own message."""
    frames = live_sequence(kiosk("obama/obama1.jpg"), Challenge.TURN_RIGHT, engine)
    res = check_liveness(frames, Challenge.TURN_LEFT, engine=engine)
    assert res.reason is LivenessReason.WRONG_DIRECTION and "other way" in res.message_en


def test_mirrored_camera_swaps_left_and_right(engine: FaceEngine, kiosk: Callable[[str], np.ndarray]) -> None:
    """On a mirroring camera the nose moves the other way in the image for the same turn."""
    frames = live_sequence(kiosk("rose_leslie/rose2.jpg"), Challenge.TURN_LEFT, engine, mirrored=True)
    assert check_liveness(frames, Challenge.TURN_LEFT, engine=engine, config=LivenessConfig(mirrored=True)).passed
    assert not check_liveness(frames, Challenge.TURN_LEFT, engine=engine).passed


def test_turn_without_coming_back_fails(engine: FaceEngine, kiosk: Callable[[str], np.ndarray]) -> None:
    """The challenge is a turn *and back*: a sequence that ends turned away is not accepted."""
    frame = kiosk("obama/obama1.jpg")
    lm = face_landmarks(frame, engine)
    frames = [frame] * 3 + [head_turn(frame, lm, d) for d in (15.0, 30.0, 40.0, 40.0, 40.0)]
    res = check_liveness(frames, Challenge.TURN_LEFT, engine=engine)
    assert res.reason is LivenessReason.NOT_RETURNED


@pytest.mark.parametrize("name", ["rose_leslie/rose2.jpg", "biden/biden2.jpg"])
def test_synthetic_blink_passes(engine: FaceEngine, kiosk: Callable[[str], np.ndarray], name: str) -> None:
    """Eyes painted shut from the landmarks for two frames, then open: the detector's eye aspect
    ratio drops to under half of what the (flat) head motion predicts, then recovers."""
    frames = live_sequence(kiosk(name), Challenge.BLINK, engine)
    res = check_liveness(frames, Challenge.BLINK, engine=engine)
    assert res.passed, res.detail
    assert res.frames[res.peak_index].eye_closure <= 0.5  # type: ignore[index,operator]


def test_eyes_that_stay_shut_fail(engine: FaceEngine, kiosk: Callable[[str], np.ndarray]) -> None:
    """Closing the eyes and not opening them again is not a blink."""
    frame = kiosk("rose_leslie/rose2.jpg")
    shut = close_eyes(frame, face_landmarks(frame, engine))
    res = check_liveness([frame] * 3 + [shut] * 5, Challenge.BLINK, engine=engine)
    assert res.reason is LivenessReason.NOT_RETURNED


def test_two_people_or_no_face_or_short_sequence_fail(
    engine: FaceEngine, kiosk: Callable[[str], np.ndarray], photo: Callable[[str], np.ndarray]
) -> None:
    """Two faces in any frame, a face missing in most frames, or too few frames: refused."""
    frame = kiosk("obama/obama1.jpg")
    group = letterbox(photo("group/kit_with_rose.jpg"))
    blank = np.zeros_like(frame)
    assert (
        check_liveness([frame] * 6 + [group] * 2, Challenge.BLINK, engine=engine).reason
        is LivenessReason.MULTIPLE_FACES
    )
    assert check_liveness([frame] * 4 + [blank] * 6, Challenge.BLINK, engine=engine).reason is LivenessReason.NO_FACE
    assert check_liveness([frame] * 3, Challenge.BLINK, engine=engine).reason is LivenessReason.TOO_FEW_FRAMES
    slow = check_liveness([frame] * 8, Challenge.BLINK, engine=engine, timestamps_s=[0, 1, 2, 3, 4, 5, 6, 30])
    assert slow.reason is LivenessReason.TOO_SLOW


def test_liveness_config_checks_itself() -> None:
    """Inconsistent thresholds are refused when the config is built."""
    with pytest.raises(ValueError, match="closed_ratio < reopen_ratio"):
        LivenessConfig(closed_ratio=0.9, reopen_ratio=0.8)
    with pytest.raises(ValueError, match="min_frames"):
        LivenessConfig(baseline_frames=5, min_frames=5)


def test_check_in_binds_liveness_to_identity(
    gallery_service: IdentityService, engine: FaceEngine, kiosk: Callable[[str], np.ndarray]
) -> None:
    """Check-in = live challenge, then identification on a frontal frame of the same sequence:
    a live turn identifies Obama; his photo held still is refused before any matching; a sequence
    that ends on someone else's face is refused."""
    frame = kiosk("obama/obama1.jpg")
    live = live_sequence(frame, Challenge.TURN_RIGHT, engine)
    res = gallery_service.check_in(live, Challenge.TURN_RIGHT, kiosk_id="KIOSK-ED-1")
    assert res.status is MatchStatus.MATCHED and res.patient_id == "P-OBAMA"
    assert res.liveness is not None and res.liveness.passed
    assert gallery_service.audit.events("patient:P-OBAMA")[-1].detail["challenge"] == "turn_right"

    still = gallery_service.check_in([frame] * 10, Challenge.TURN_RIGHT, kiosk_id="KIOSK-ED-1")
    assert still.status is MatchStatus.NOT_LIVE and still.patient_id is None
    assert still.liveness is not None and still.liveness.reason is LivenessReason.NO_RESPONSE

    swapped = [*live[:-1], kiosk("alex_lacamoire/alex1.jpg")]
    res = gallery_service.check_in(swapped, Challenge.TURN_RIGHT, kiosk_id="KIOSK-ED-1")
    assert res.status is MatchStatus.FACE_CHANGED and res.patient_id is None
    assert res.liveness is not None and res.liveness.passed  # the movement itself was fine
