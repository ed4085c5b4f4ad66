"""Synthetic kiosk camera sequences made from one face photo, for tests, demos and browser runs.

- :func:`kiosk_frame`: head-and-shoulders crop, letterboxed to 640×480 (a kiosk-size face).
- :func:`head_turn`: a 2.5-D head rotation. Each of the 68 landmarks gets a depth (nose tip in
  front, jaw line towards the ears behind), is rotated about the vertical axis and projected; the
  image follows by a piecewise-affine warp over a Delaunay mesh of the landmarks and fixed anchor
  points. The nose really moves off the plane of the face, as in a real turn, so the landmark
  detector sees a genuine change of yaw *and* parallax.
- :func:`close_eyes`: the eyes inpainted with the surrounding skin and a dark lash line drawn
  where the lids meet.
- :func:`flat_motion`: what a printed photo does: shift, zoom, roll, tilt (homographies).

Landmarks always come from the real detector (:class:`FaceEngine`); nothing here is mocked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import cv2
import numpy as np
from scipy.spatial import Delaunay

from .faces import FaceEngine, as_frame
from .liveness import LEFT_EYE, RIGHT_EYE, Challenge, inter_eye
from .video import letterbox

#: Depth of each landmark towards the camera, in inter-eye distances (rough average head).
_DEPTH: Final = np.concatenate(
    [
        # jaw 0..16: ears far behind, chin in front
        np.array(
            [-0.9, -0.75, -0.6, -0.45, -0.3, -0.15, 0.0, 0.1, 0.15, 0.1, 0.0, -0.15, -0.3, -0.45, -0.6, -0.75, -0.9]
        ),
        np.array([0.0, 0.1, 0.15, 0.2, 0.2, 0.2, 0.2, 0.15, 0.1, 0.0]),  # brows
        np.array([0.25, 0.35, 0.45, 0.6]),  # nose bridge to tip
        np.array([0.35, 0.4, 0.45, 0.4, 0.35]),  # nostrils
        np.array([-0.05, 0.05, 0.05, 0.0, 0.05, 0.05, 0.0, 0.05, 0.05, -0.05, 0.05, 0.05]),  # eyes
        np.full(20, 0.3),  # mouth
    ]
)
_DEPTH_SCALE: Final = 1.2


def kiosk_frame(photo: np.ndarray, engine: FaceEngine, *, context: float = 2.4) -> np.ndarray:
    """Crop ``photo`` to the head and shoulders of its largest face and letterbox to 640×480, so
    the face is as large as a patient's in front of a kiosk (inter-eye distance ≈ 80 px)."""
    img = as_frame(photo, name="photo")
    faces = engine.detect(img)
    if not faces:
        raise ValueError("photo: no face found to centre the kiosk frame on")
    f = faces[0]
    cx, cy = f.centre
    side = max(f.width, f.height) * context
    h, w = img.shape[:2]
    x0, x1 = int(max(0, cx - side * 0.67)), int(min(w, cx + side * 0.67))
    y0, y1 = int(max(0, cy - side * 0.5)), int(min(h, cy + side * 0.5))
    return letterbox(img[y0:y1, x0:x1])


def face_landmarks(frame: np.ndarray, engine: FaceEngine) -> np.ndarray:
    """68 landmarks of the single face in ``frame`` (ValueError if not exactly one)."""
    found = engine.find(frame)
    if len(found.subjects) != 1:
        raise ValueError(f"frame: expected one face, found {len(found.subjects)}")
    return engine.landmarks(frame, found.subjects[0])


def _piecewise_affine(img: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Warp ``img`` so that points ``src`` land on ``dst`` (triangle by triangle)."""
    out = img.copy()
    h, w = img.shape[:2]
    for tri in Delaunay(dst).simplices:
        d = dst[tri].astype(np.float32)
        s = src[tri].astype(np.float32)
        x0, y0 = np.floor(d.min(axis=0)).astype(int)
        x1, y1 = np.ceil(d.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, d - np.array([x0, y0], dtype=np.float32))
        patch = cv2.warpAffine(img, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(d - [x0, y0]).astype(np.int32), 1)
        region = out[y0:y1, x0:x1]
        region[mask > 0] = patch[mask > 0]
    return out


def head_turn(frame: np.ndarray, landmarks: np.ndarray, degrees: float) -> np.ndarray:
    """The face turned by ``degrees`` about the vertical axis; positive moves the nose to the
    image's right (the person's own left on a non-mirrored camera)."""
    img = as_frame(frame)
    p = np.asarray(landmarks, dtype=np.float64)
    if degrees == 0:
        return img.copy()
    _, _, iod = inter_eye(p)
    th = np.radians(degrees)
    cx = p[27:31, 0].mean()
    q = p.copy()
    q[:, 0] = cx + (p[:, 0] - cx) * np.cos(th) + _DEPTH * iod * _DEPTH_SCALE * np.sin(th)
    (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
    fw, fh = x1 - x0, y1 - y0
    h, w = img.shape[:2]
    xs = (x0 - 0.6 * fw, (x0 + x1) / 2, x1 + 0.6 * fw)
    ys = (y0 - 0.8 * fh, (y0 + y1) / 2, y1 + 0.5 * fh)
    anchors = np.array([(ax, ay) for ax in xs for ay in ys if (ax, ay) != (xs[1], ys[1])])
    anchors = np.clip(anchors, [0, 0], [w - 1, h - 1])
    return _piecewise_affine(img, np.vstack([p, anchors]), np.vstack([q, anchors]))


def close_eyes(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Both eyes shut: eye openings inpainted from the surrounding skin, lash line drawn."""
    img = as_frame(frame)
    p = np.asarray(landmarks, dtype=np.float64)
    mask = np.zeros(img.shape[:2], np.uint8)
    for eye in (RIGHT_EYE, LEFT_EYE):
        e = p[list(eye)]
        c = e.mean(axis=0)
        poly = (e - c) * np.array([1.25, 1.8]) + c
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
    grown = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    out = cv2.inpaint(img, grown, 5, cv2.INPAINT_TELEA)
    for eye in (RIGHT_EYE, LEFT_EYE):
        e = p[list(eye)]
        w = float(np.linalg.norm(e[3] - e[0]))
        lid = np.array([e[0], (e[5] + e[1]) / 2 + [0, 0.1 * w], (e[4] + e[2]) / 2 + [0, 0.1 * w], e[3]])
        y_lo, y_hi = int(e[:, 1].min() - 0.5 * w), int(e[:, 1].max() + 0.5 * w)
        ring = img[max(y_lo, 0) : y_hi, int(e[0, 0]) : int(e[3, 0])].reshape(-1, 3)
        colour = np.percentile(ring, 10, axis=0) * 0.6 if ring.size else np.array([40.0, 30.0, 30.0])
        cv2.polylines(
            out,
            [np.round(lid).astype(np.int32)],
            False,
            tuple(int(v) for v in colour),
            max(1, round(w / 14)),
            cv2.LINE_AA,
        )
    return out


def flat_motion(
    frame: np.ndarray,
    *,
    shift: tuple[float, float] = (0.0, 0.0),
    zoom: float = 1.0,
    roll_deg: float = 0.0,
    yaw_tilt_deg: float = 0.0,
    pitch_tilt_deg: float = 0.0,
    shear: float = 0.0,
    focal_px: float = 700.0,
) -> np.ndarray:
    """The frame as a printed photo would look moved in front of the camera (one homography)."""
    img = as_frame(frame)
    h, w = img.shape[:2]
    cx, cy = w / 2.0, h / 2.0
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    a, b = np.radians(yaw_tilt_deg), np.radians(pitch_tilt_deg)
    out_pts: list[list[float]] = []
    for x, y in corners:
        X, Y = x - cx, y - cy
        X = X + shear * Y
        X, Z = X * np.cos(a), X * np.sin(a)
        Y, Z = Y * np.cos(b), Z + Y * np.sin(b)
        f = focal_px / (focal_px + Z)
        out_pts.append([cx + X * f, cy + Y * f])
    persp = cv2.getPerspectiveTransform(corners, np.array(out_pts, dtype=np.float32))
    sim = np.vstack([cv2.getRotationMatrix2D((cx, cy), roll_deg, zoom), [0, 0, 1]])
    sim[0, 2] += shift[0]
    sim[1, 2] += shift[1]
    return cv2.warpPerspective(img, sim @ persp, (w, h), borderMode=cv2.BORDER_CONSTANT)


def _ramp(peak: float, steps: int) -> list[float]:
    up = [peak * (i + 1) / steps for i in range(steps)]
    return [*up, peak, *up[::-1][1:], 0.0]


def live_sequence(
    frame: np.ndarray,
    challenge: Challenge,
    engine: FaceEngine,
    *,
    baseline: int = 3,
    peak_deg: float = 40.0,
    steps: int = 3,
    mirrored: bool = False,
) -> list[np.ndarray]:
    """Frames of a person answering ``challenge``: still, the movement, back to still."""
    img = as_frame(frame)
    lm = face_landmarks(img, engine)
    still = [img.copy() for _ in range(baseline)]
    if Challenge(challenge) is Challenge.BLINK:
        shut = close_eyes(img, lm)
        return [*still, shut, shut, img.copy(), img.copy()]
    sign = 1.0 if challenge is Challenge.TURN_LEFT else -1.0
    if mirrored:
        sign = -sign
    return still + [head_turn(img, lm, sign * d) for d in _ramp(peak_deg, steps)] + [img.copy()]


def photo_attack_sequence(frame: np.ndarray, moves: Sequence[dict[str, float]]) -> list[np.ndarray]:
    """A printed photo held up and moved: the frame, then one :func:`flat_motion` per move."""
    img = as_frame(frame)
    out = [img.copy(), img.copy(), img.copy()]
    for mv in moves:
        kwargs = dict(mv)
        shift = (kwargs.pop("dx", 0.0), kwargs.pop("dy", 0.0))
        out.append(flat_motion(img, shift=shift, **kwargs))
    return out
