"""Active liveness: a random challenge (blink, or turn the head left / right) checked on a short
sequence of frames with the 68 facial landmarks.

Pure functions over frames (numpy arrays) → :class:`LivenessResult` with a reason. Measures, all
relative to the person's own *baseline* (median landmarks of the first frames):

- yaw ≈ (nose tip − mid-eye) projected on the eye line, / inter-eye distance (0 facing the
  camera; invariant to moving, scaling or rotating the picture in its plane);
- eye aspect ratio (EAR) of both eyes, compared with the baseline;
- the planar check (the "rigid-motion" check): a flat photo moves all its landmarks by one
  homography. For each frame we fit the homography that maps the baseline outline (jaw, brows,
  eye corners; or everything but the eyes) onto the frame and ask how far the nose (or the
  eyelids) moved *beyond* what that flat motion explains: ``parallax_yaw`` for a head turn,
  ``eye_closure`` (EAR / EAR predicted by the flat motion) for a blink. Tilting, shearing, shifting
  or zooming a printed photo gives ~0 and ~1; a real head turn puts the nose ≥ 0.12 eye-distances
  off the plane, a real blink drops the eye ratio to about half or less.

Measured on the shared face photos (kiosk-size faces, real dlib detections): still-photo attacks
(shift, zoom, 20° roll, 35–55° tilt, 40° pitch, shear) reach |Δyaw| ≤ 0.19, |parallax| ≤ 0.11 and
an eye ratio ≥ 0.62 (0.80 without strong pitch); synthetic head turns of 25–40° reach Δyaw
0.25–0.5 with parallax 0.18–0.40, synthetic eye closures 0.33–0.49 (on faces where dlib follows
the painted lids; on some it does not, which only makes the synthetic test data weaker).

Direction: yaw is positive when the nose moves to the image's right, which is the patient's own
left on a camera that does not mirror; set ``LivenessConfig(mirrored=True)`` for one that does.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import cv2
import numpy as np

from .faces import FaceEngine, as_frame

#: Landmark groups (iBUG 68).
JAW: Final = tuple(range(0, 17))
BROWS: Final = tuple(range(17, 27))
NOSE: Final = tuple(range(27, 36))
NOSE_TIP: Final = 30
RIGHT_EYE: Final = tuple(range(36, 42))  # the patient's right eye, image left
LEFT_EYE: Final = tuple(range(42, 48))
EYE_CORNERS: Final = (36, 39, 42, 45)
#: Points that stay on (roughly) one surface when the head turns: fitted to find the flat motion.
OUTLINE: Final = JAW + BROWS + EYE_CORNERS
NOT_EYES: Final = tuple(i for i in range(68) if i not in RIGHT_EYE + LEFT_EYE)


class Challenge(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"

    @property
    def prompt_en(self) -> str:
        return {
            "blink": "Please blink slowly once.",
            "turn_left": "Please turn your head to your left, then back to the camera.",
            "turn_right": "Please turn your head to your right, then back to the camera.",
        }[self.value]

    @property
    def prompt_zh(self) -> str:
        return {
            "blink": "请慢慢眨一次眼。",
            "turn_left": "请把头转向您的左侧，然后转回正对摄像头。",
            "turn_right": "请把头转向您的右侧，然后转回正对摄像头。",
        }[self.value]


def choose_challenge(seed: int, options: Sequence[Challenge] = tuple(Challenge)) -> Challenge:
    """The challenge for one attempt, chosen at random from ``options`` with ``seed``.

    The web layer passes ``secrets.randbits(64)`` so an attacker cannot predict it; tests pass a
    fixed seed."""
    if not options:
        raise ValueError("options: need at least one challenge")
    return random.Random(seed).choice(list(options))


class LivenessReason(StrEnum):
    PASSED = "passed"
    TOO_FEW_FRAMES = "too_few_frames"
    TOO_SLOW = "too_slow"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_CHANGED = "face_changed"
    NOT_FRONTAL = "not_frontal"
    EYES_NOT_OPEN = "eyes_not_open"
    NO_RESPONSE = "no_response"
    WRONG_DIRECTION = "wrong_direction"
    NOT_RETURNED = "not_returned"
    FLAT_MOTION = "flat_motion"


_MESSAGES: Final[dict[LivenessReason, tuple[str, str]]] = {
    LivenessReason.PASSED: ("Thank you.", "谢谢。"),
    LivenessReason.TOO_FEW_FRAMES: ("The camera sent too few pictures. Please try again.", "摄像头画面太少，请重试。"),
    LivenessReason.TOO_SLOW: ("That took too long. Please try again.", "用时过长，请重试。"),
    LivenessReason.NO_FACE: (
        "We lost sight of your face. Please stay in front of the camera.",
        "未能持续检测到人脸，请保持在摄像头前。",
    ),
    LivenessReason.MULTIPLE_FACES: (
        "More than one person is in view. One person at a time, please.",
        "画面中有多人，请一次一人操作。",
    ),
    LivenessReason.FACE_CHANGED: ("The face in view changed. Please try again.", "画面中的人脸发生了变化，请重试。"),
    LivenessReason.NOT_FRONTAL: ("Please look straight at the camera first.", "请先正对摄像头。"),
    LivenessReason.EYES_NOT_OPEN: ("Please open your eyes and look at the camera first.", "请先睁眼正对摄像头。"),
    LivenessReason.NO_RESPONSE: ("We did not see the movement. Please try again.", "未检测到要求的动作，请重试。"),
    LivenessReason.WRONG_DIRECTION: ("You turned the other way. Please try again.", "转头方向不对，请重试。"),
    LivenessReason.NOT_RETURNED: ("Please come back to face the camera at the end.", "最后请回到正对摄像头的姿势。"),
    LivenessReason.FLAT_MOTION: (
        "The movement looked like a photo or a screen, not a live face. Please use your ID card or QR code.",
        "动作看起来像照片或屏幕而非真人，请使用身份证或二维码。",
    ),
}


@dataclass(frozen=True, slots=True)
class LivenessConfig:
    """Thresholds; the defaults come from the measurements in the module docstring."""

    #: Frames (with one face) whose median is the person's baseline.
    baseline_frames: int = 3
    min_frames: int = 6
    max_duration_s: float = 10.0
    #: Required change of yaw in the asked direction (inter-eye distances).
    turn_yaw: float = 0.25
    #: Required nose movement beyond the flat (homography) motion at the turned frame.
    min_parallax_yaw: float = 0.12
    #: |Δyaw| back under this counts as facing the camera again.
    return_yaw: float = 0.12
    #: Eyes closed: EAR ≤ this × the EAR the flat motion predicts (a photo pitched by 55° still
    #: measures 0.62: dlib's eyelid points lag the foreshortening).
    closed_ratio: float = 0.5
    #: Eyes open again: EAR ≥ this × predicted.
    reopen_ratio: float = 0.85
    #: Baseline EAR below this = eyes (nearly) closed at the start.
    min_open_ear: float = 0.12
    #: Baseline |yaw| above this = not facing the camera at the start.
    frontal_max_yaw: float = 0.35
    #: Frames without a face tolerated (detections drop during fast moves).
    max_missing_fraction: float = 0.34
    #: Face centre jump between consecutive frames, in inter-eye distances, above which the face
    #: is taken to have been swapped.
    max_jump: float = 1.5
    max_scale_change: float = 1.5
    #: The camera mirrors the image (a selfie preview sent as is).
    mirrored: bool = False

    def __post_init__(self) -> None:
        if self.baseline_frames < 1:
            raise ValueError(f"Expected baseline_frames >= 1, got {self.baseline_frames}.")
        if self.min_frames < self.baseline_frames + 2:
            raise ValueError(f"Expected min_frames >= baseline_frames + 2, got {self.min_frames}.")
        if self.max_duration_s <= 0:
            raise ValueError(f"Expected max_duration_s > 0, got {self.max_duration_s}.")
        for name in ("turn_yaw", "min_parallax_yaw", "return_yaw", "min_open_ear", "frontal_max_yaw"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Expected {name} > 0, got {getattr(self, name)}.")
        if not 0 < self.closed_ratio < self.reopen_ratio <= 1.5:
            raise ValueError(
                f"Expected 0 < closed_ratio < reopen_ratio <= 1.5, got {self.closed_ratio}, {self.reopen_ratio}."
            )
        if not 0 <= self.max_missing_fraction < 1:
            raise ValueError(f"Expected max_missing_fraction in [0, 1), got {self.max_missing_fraction}.")
        if self.max_jump <= 0 or self.max_scale_change <= 1:
            raise ValueError("Expected max_jump > 0 and max_scale_change > 1.")


@dataclass(frozen=True, slots=True)
class Observation:
    """What the detector saw in one frame: how many candidate faces, and the landmarks if one."""

    faces: int
    landmarks: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FrameMeasure:
    index: int
    t_s: float
    faces: int
    yaw: float | None = None
    d_yaw: float | None = None
    parallax_yaw: float | None = None
    ear: float | None = None
    eye_closure: float | None = None
    #: RMS distance (inter-eye units) of all landmarks from the best flat motion of the baseline.
    nonplanar: float | None = None


@dataclass(frozen=True, slots=True)
class LivenessResult:
    passed: bool
    challenge: Challenge
    reason: LivenessReason
    message_en: str
    message_zh: str
    #: Index of a frontal, eyes-open baseline frame (the one to identify from), if any.
    baseline_index: int | None = None
    #: Frame where the asked movement peaked, if seen.
    peak_index: int | None = None
    frames: tuple[FrameMeasure, ...] = ()

    @property
    def detail(self) -> str:
        """One line for logs and the audit trail."""
        peak = self.frames[self.peak_index] if self.peak_index is not None else None
        bits = [f"{self.challenge.value}: {self.reason.value}"]
        if peak is not None:
            bits.append(
                f"peak frame {peak.index}: d_yaw={_fmt(peak.d_yaw)} parallax={_fmt(peak.parallax_yaw)} "
                f"eye_closure={_fmt(peak.eye_closure)}"
            )
        return "; ".join(bits)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:+.3f}"


# -- geometry ----------------------------------------------------------------------------------


def eye_aspect_ratio(p: np.ndarray) -> float:
    """Mean EAR of both eyes (Soukupová & Čech): eyelid gaps over eye width."""

    def one(e: np.ndarray) -> float:
        w = np.linalg.norm(e[0] - e[3])
        return float((np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])) / (2.0 * w)) if w > 0 else 0.0

    return (one(p[list(RIGHT_EYE)]) + one(p[list(LEFT_EYE)])) / 2.0


def inter_eye(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mid-eye point, unit vector along the eye line, inter-eye distance)."""
    r = p[list(RIGHT_EYE)].mean(axis=0)
    left = p[list(LEFT_EYE)].mean(axis=0)
    d = left - r
    iod = float(np.linalg.norm(d))
    return (r + left) / 2.0, d / max(iod, 1e-9), iod


def yaw_index(p: np.ndarray) -> float:
    """(nose tip − mid-eye) along the eye line / inter-eye distance; ≈ 0 facing the camera."""
    mid, u, iod = inter_eye(p)
    return float(np.dot(p[NOSE_TIP] - mid, u) / max(iod, 1e-9))


def _flat_motion(base: np.ndarray, cur: np.ndarray, fit: Sequence[int]) -> np.ndarray | None:
    """The baseline landmarks moved by the homography that best maps ``base[fit]`` to ``cur[fit]``."""
    idx = list(fit)
    h, _ = cv2.findHomography(base[idx].astype(np.float64), cur[idx].astype(np.float64), 0)
    if h is None or not np.all(np.isfinite(h)):
        return None
    return cv2.perspectiveTransform(base[None].astype(np.float64), h)[0]


def measure(base: np.ndarray, cur: np.ndarray) -> dict[str, float | None]:
    """Per-frame measures relative to the baseline landmarks (see the module docstring)."""
    _, _, iod = inter_eye(base)
    yaw = yaw_index(cur)
    out: dict[str, float | None] = {"yaw": yaw, "d_yaw": yaw - yaw_index(base), "ear": eye_aspect_ratio(cur)}
    flat_outline = _flat_motion(base, cur, OUTLINE)
    out["parallax_yaw"] = None if flat_outline is None else yaw - yaw_index(flat_outline)
    flat_face = _flat_motion(base, cur, NOT_EYES)
    if flat_face is None:
        out["eye_closure"] = None
    else:
        expected = eye_aspect_ratio(flat_face)
        out["eye_closure"] = out["ear"] / expected if expected > 0 else None  # type: ignore[operator]
    flat_all = _flat_motion(base, cur, range(68))
    out["nonplanar"] = (
        None if flat_all is None else float(np.sqrt(((flat_all - cur) ** 2).sum(axis=1).mean()) / max(iod, 1e-9))
    )
    return out


# -- frames → observations → result -------------------------------------------------------------


def observe(frames: Sequence[np.ndarray], engine: FaceEngine) -> list[Observation]:
    """Detect the face and its landmarks in every frame (the only step that needs dlib)."""
    obs: list[Observation] = []
    for i, frame in enumerate(frames):
        img = as_frame(frame, name=f"frames[{i}]")
        found = engine.find(img)
        if len(found.subjects) != 1:
            obs.append(Observation(faces=len(found.subjects)))
        else:
            obs.append(Observation(faces=1, landmarks=engine.landmarks(img, found.subjects[0])))
    return obs


def check_liveness(
    frames: Sequence[np.ndarray],
    challenge: Challenge,
    *,
    engine: FaceEngine,
    fps: float = 10.0,
    timestamps_s: Sequence[float] | None = None,
    config: LivenessConfig | None = None,
) -> LivenessResult:
    """Did a live person answer ``challenge`` in ``frames`` (RGB, in order)?"""
    challenge = Challenge(challenge)
    return evaluate(observe(frames, engine), challenge, fps=fps, timestamps_s=timestamps_s, config=config)


def _result(
    challenge: Challenge,
    reason: LivenessReason,
    measures: Sequence[FrameMeasure] = (),
    *,
    baseline_index: int | None = None,
    peak_index: int | None = None,
) -> LivenessResult:
    en, zh = _MESSAGES[reason]
    if reason is LivenessReason.NO_RESPONSE:
        en = {
            Challenge.BLINK: "We did not see you blink. Please try again.",
            Challenge.TURN_LEFT: "We did not see you turn your head to your left. Please try again.",
            Challenge.TURN_RIGHT: "We did not see you turn your head to your right. Please try again.",
        }[challenge]
    return LivenessResult(
        passed=reason is LivenessReason.PASSED,
        challenge=challenge,
        reason=reason,
        message_en=en,
        message_zh=zh,
        baseline_index=baseline_index,
        peak_index=peak_index,
        frames=tuple(measures),
    )


def evaluate(
    observations: Sequence[Observation],
    challenge: Challenge,
    *,
    fps: float = 10.0,
    timestamps_s: Sequence[float] | None = None,
    config: LivenessConfig | None = None,
) -> LivenessResult:
    """The decision over per-frame landmarks (pure; see :func:`check_liveness`)."""
    cfg = config or LivenessConfig()
    challenge = Challenge(challenge)
    n = len(observations)
    if timestamps_s is None:
        if fps <= 0:
            raise ValueError(f"fps: must be positive, got {fps}")
        times = [i / fps for i in range(n)]
    else:
        times = [float(t) for t in timestamps_s]
        if len(times) != n:
            raise ValueError(f"timestamps_s: {len(times)} values for {n} frames")
        if any(b < a for a, b in itertools.pairwise(times)):
            raise ValueError("timestamps_s: must not go backwards")
    plain = [FrameMeasure(index=i, t_s=times[i], faces=o.faces) for i, o in enumerate(observations)]
    if n < cfg.min_frames:
        return _result(challenge, LivenessReason.TOO_FEW_FRAMES, plain)
    if times[-1] - times[0] > cfg.max_duration_s:
        return _result(challenge, LivenessReason.TOO_SLOW, plain)
    if any(o.faces > 1 for o in observations):
        return _result(challenge, LivenessReason.MULTIPLE_FACES, plain)
    seen = [i for i, o in enumerate(observations) if o.landmarks is not None]
    if (n - len(seen)) / n > cfg.max_missing_fraction or len(seen) < cfg.baseline_frames + 2:
        return _result(challenge, LivenessReason.NO_FACE, plain)

    # Same face throughout: no jumps in position or size between consecutive detections.
    for a, b in itertools.pairwise(seen):
        pa, pb = observations[a].landmarks, observations[b].landmarks
        assert pa is not None and pb is not None
        _, _, iod_a = inter_eye(pa)
        _, _, iod_b = inter_eye(pb)
        jump = float(np.linalg.norm(pa.mean(axis=0) - pb.mean(axis=0))) / max(iod_a, 1e-9)
        size = max(iod_a, iod_b) / max(min(iod_a, iod_b), 1e-9)
        if jump > cfg.max_jump or size > cfg.max_scale_change:
            return _result(challenge, LivenessReason.FACE_CHANGED, plain)

    base_idx = seen[: cfg.baseline_frames]
    base = np.median(np.stack([observations[i].landmarks for i in base_idx]), axis=0)  # type: ignore[misc]
    measures = list(plain)
    for i in seen:
        lm = observations[i].landmarks
        assert lm is not None
        measures[i] = FrameMeasure(index=i, t_s=times[i], faces=1, **measure(base, lm))  # type: ignore[arg-type]
    baseline_frame = base_idx[len(base_idx) // 2]
    if abs(yaw_index(base)) > cfg.frontal_max_yaw:
        return _result(challenge, LivenessReason.NOT_FRONTAL, measures)
    if eye_aspect_ratio(base) < cfg.min_open_ear:
        return _result(challenge, LivenessReason.EYES_NOT_OPEN, measures)

    after = [m for m in measures[base_idx[-1] + 1 :] if m.d_yaw is not None]
    if challenge is Challenge.BLINK:
        return _blink(challenge, cfg, measures, after, baseline_frame, eye_aspect_ratio(base))
    return _turn(challenge, cfg, measures, after, baseline_frame)


def _turn(
    challenge: Challenge,
    cfg: LivenessConfig,
    measures: list[FrameMeasure],
    after: list[FrameMeasure],
    baseline_frame: int,
) -> LivenessResult:
    sign = 1.0 if challenge is Challenge.TURN_LEFT else -1.0
    if cfg.mirrored:
        sign = -sign
    asked = [m for m in after if sign * (m.d_yaw or 0.0) >= cfg.turn_yaw]
    live = [m for m in asked if m.parallax_yaw is not None and sign * m.parallax_yaw >= cfg.min_parallax_yaw]
    if live:
        peak = max(live, key=lambda m: sign * (m.d_yaw or 0.0))
        back = [m for m in after if m.index > peak.index and abs(m.d_yaw or 0.0) <= cfg.return_yaw]
        reason = LivenessReason.PASSED if back else LivenessReason.NOT_RETURNED
        return _result(challenge, reason, measures, baseline_index=baseline_frame, peak_index=peak.index)
    if asked:
        peak = max(asked, key=lambda m: sign * (m.d_yaw or 0.0))
        return _result(
            challenge, LivenessReason.FLAT_MOTION, measures, baseline_index=baseline_frame, peak_index=peak.index
        )
    other = [
        m
        for m in after
        if -sign * (m.d_yaw or 0.0) >= cfg.turn_yaw
        and m.parallax_yaw is not None
        and -sign * m.parallax_yaw >= cfg.min_parallax_yaw
    ]
    if other:
        peak = max(other, key=lambda m: -sign * (m.d_yaw or 0.0))
        return _result(
            challenge, LivenessReason.WRONG_DIRECTION, measures, baseline_index=baseline_frame, peak_index=peak.index
        )
    peak_m = max(after, key=lambda m: sign * (m.d_yaw or 0.0), default=None)
    return _result(
        challenge,
        LivenessReason.NO_RESPONSE,
        measures,
        baseline_index=baseline_frame,
        peak_index=None if peak_m is None else peak_m.index,
    )


def _blink(
    challenge: Challenge,
    cfg: LivenessConfig,
    measures: list[FrameMeasure],
    after: list[FrameMeasure],
    baseline_frame: int,
    base_ear: float,
) -> LivenessResult:
    closed = [m for m in after if m.eye_closure is not None and m.eye_closure <= cfg.closed_ratio]
    if closed:
        peak = min(closed, key=lambda m: m.eye_closure or 0.0)
        first = closed[0]
        reopened = [
            m
            for m in after
            if m.index > first.index and m.eye_closure is not None and m.eye_closure >= cfg.reopen_ratio
        ]
        reason = LivenessReason.PASSED if reopened else LivenessReason.NOT_RETURNED
        return _result(challenge, reason, measures, baseline_index=baseline_frame, peak_index=peak.index)
    # Eyes narrower in the image but exactly as a tilted flat picture predicts: not a blink.
    narrowed = [m for m in after if m.ear is not None and m.ear <= cfg.closed_ratio * base_ear]
    if narrowed:
        return _result(
            challenge, LivenessReason.FLAT_MOTION, measures, baseline_index=baseline_frame, peak_index=narrowed[0].index
        )
    peak_m = min(after, key=lambda m: m.eye_closure if m.eye_closure is not None else 9.0, default=None)
    return _result(
        challenge,
        LivenessReason.NO_RESPONSE,
        measures,
        baseline_index=baseline_frame,
        peak_index=None if peak_m is None else peak_m.index,
    )
