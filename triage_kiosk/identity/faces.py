"""Face detection, 68 landmarks and 128-d encodings (dlib via ``face_recognition``).

Every call into dlib goes through :class:`FaceEngine`, so swapping the detector or the encoder
touches this one module. Frames are RGB ``H×W×3`` uint8 arrays; OpenCV gives BGR, convert with
:func:`from_bgr`.

Which face is "the patient": a kiosk user stands close, so detections much smaller than the
largest one (``bystander_ratio``) are people in the background and are ignored; two faces of
similar size are two people at the kiosk and the frame is refused. ``subject_faces`` implements
that rule; :func:`best_matching` is the other rule, for photos whose label is known (calibration):
pick the detection closest to a reference, never simply the largest box.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import cv2
import numpy as np

from .errors import InvalidFrameError

#: Smallest frame side accepted, pixels.
MIN_FRAME_SIDE: Final = 32


def _load_dlib() -> tuple[object, object, object, object]:
    """The four dlib models, loaded by ``face_recognition`` on import (~1 s, once)."""
    import warnings

    with warnings.catch_warnings():
        # face_recognition_models still imports pkg_resources (setuptools<81 is pinned for it).
        warnings.simplefilter("ignore", UserWarning)
        import dlib
        from face_recognition import api

    return dlib, api.face_detector, api.pose_predictor_68_point, api.face_encoder


def as_frame(frame: object, *, name: str = "frame") -> np.ndarray:
    """Check that ``frame`` is an RGB image dlib can read; return it C-contiguous."""
    if not isinstance(frame, np.ndarray):
        raise InvalidFrameError(f"{name}: expected a numpy array (H×W×3 RGB uint8), got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InvalidFrameError(f"{name}: expected dtype uint8, got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InvalidFrameError(f"{name}: expected shape H×W×3 (RGB), got {frame.shape}")
    if min(frame.shape[:2]) < MIN_FRAME_SIDE:
        raise InvalidFrameError(f"{name}: {frame.shape[1]}×{frame.shape[0]} is too small (min {MIN_FRAME_SIDE} px)")
    return np.ascontiguousarray(frame)


def from_bgr(frame_bgr: np.ndarray) -> np.ndarray:
    """OpenCV BGR frame → contiguous RGB (what every function here expects)."""
    return np.ascontiguousarray(as_frame(frame_bgr)[:, :, ::-1])


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detection in frame pixels (``face_recognition`` css order: top, right, bottom, left)."""

    top: int
    right: int
    bottom: int
    left: int
    #: dlib HOG detector score (higher = more face-like; the detector's cut-off is 0).
    score: float = 0.0

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def css(self) -> tuple[int, int, int, int]:
        return (self.top, self.right, self.bottom, self.left)


@dataclass(frozen=True, slots=True)
class FaceFinding:
    """All detections in a frame, split into the subject candidates and the background."""

    faces: tuple[FaceBox, ...]
    subjects: tuple[FaceBox, ...]
    background: tuple[FaceBox, ...] = field(default=())


class FaceEngine:
    """dlib HOG detector + 68-point landmarks + ResNet encoder, with kiosk policies."""

    def __init__(
        self,
        *,
        upsample: Sequence[int] = (0, 1),
        max_detect_side: int = 800,
        min_face_px: int = 60,
        bystander_ratio: float = 0.5,
        num_jitters: int = 1,
    ) -> None:
        if not upsample or any(u < 0 or u > 3 for u in upsample):
            raise ValueError(f"upsample: expected levels in 0..3, got {tuple(upsample)}")
        if max_detect_side < 160:
            raise ValueError(f"max_detect_side: must be at least 160 px, got {max_detect_side}")
        if min_face_px < 20:
            raise ValueError(f"min_face_px: must be at least 20 px, got {min_face_px}")
        if not 0.0 <= bystander_ratio < 1.0:
            raise ValueError(f"bystander_ratio: expected in [0, 1), got {bystander_ratio}")
        if num_jitters < 1:
            raise ValueError(f"num_jitters: must be at least 1, got {num_jitters}")
        self.upsample = tuple(upsample)
        self.max_detect_side = max_detect_side
        self.min_face_px = min_face_px
        self.bystander_ratio = bystander_ratio
        self.num_jitters = num_jitters
        self._dlib, self._detector, self._predictor68, self._encoder = _load_dlib()
        from face_recognition import api

        self._predictor5 = api.pose_predictor_5_point
        # dlib's models are not documented as thread-safe; the kiosk web layer may call from threads.
        self._lock = threading.Lock()

    # -- detection --------------------------------------------------------------------------
    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Faces in the frame, largest first. Tries each upsample level until one finds a face;
        big photos are searched on a copy scaled to ``max_detect_side`` (boxes in full-size pixels)."""
        img = as_frame(frame)
        h, w = img.shape[:2]
        scale = min(1.0, self.max_detect_side / max(h, w))
        small = (
            img if scale == 1.0 else cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        )
        boxes: list[FaceBox] = []
        for level in self.upsample:
            with self._lock:
                rects, scores, _ = self._detector.run(small, level, 0.0)  # type: ignore[attr-defined]
            for r, s in zip(rects, scores, strict=True):
                box = FaceBox(
                    top=max(0, round(r.top() / scale)),
                    right=min(w, round(r.right() / scale)),
                    bottom=min(h, round(r.bottom() / scale)),
                    left=max(0, round(r.left() / scale)),
                    score=float(s),
                )
                if box.width > 0 and box.height > 0:
                    boxes.append(box)
            if boxes:
                break
        return sorted(boxes, key=lambda b: (-b.width * b.height, b.top, b.left))

    def find(self, frame: np.ndarray) -> FaceFinding:
        """Detect, then apply the kiosk rule: faces smaller than ``bystander_ratio`` × the largest
        are background; the rest are candidates for the person using the kiosk."""
        faces = self.detect(frame)
        if not faces:
            return FaceFinding((), ())
        largest = faces[0].width
        subjects = tuple(f for f in faces if f.width >= self.bystander_ratio * largest)
        background = tuple(f for f in faces if f.width < self.bystander_ratio * largest)
        return FaceFinding(tuple(faces), subjects, background)

    # -- landmarks and encodings -----------------------------------------------------------------
    def _rect(self, box: FaceBox) -> object:
        return self._dlib.rectangle(box.left, box.top, box.right, box.bottom)  # type: ignore[attr-defined]

    def landmarks(self, frame: np.ndarray, box: FaceBox) -> np.ndarray:
        """The 68 iBUG landmarks as a ``(68, 2)`` float array (x, y)."""
        img = as_frame(frame)
        with self._lock:
            shape = self._predictor68(img, self._rect(box))  # type: ignore[operator]
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def encode(self, frame: np.ndarray, box: FaceBox) -> np.ndarray:
        """The 128-d encoding of the face in ``box`` (float32), as ``face_recognition.face_encodings``."""
        img = as_frame(frame)
        with self._lock:
            shape = self._predictor5(img, self._rect(box))
            desc = self._encoder.compute_face_descriptor(img, shape, self.num_jitters)  # type: ignore[attr-defined]
        return np.asarray(desc, dtype=np.float32)

    def encode_all(self, frame: np.ndarray) -> list[tuple[FaceBox, np.ndarray]]:
        """Every detected face with its encoding (calibration, enrolment from labelled photos)."""
        img = as_frame(frame)
        return [(b, self.encode(img, b)) for b in self.detect(img)]


def best_matching(
    candidates: Sequence[tuple[FaceBox, np.ndarray]], references: Sequence[np.ndarray]
) -> tuple[FaceBox, np.ndarray, float] | None:
    """The candidate face closest (mean distance) to ``references``: for a photo known to show
    one person, where the detector also fired on a bystander or on a pattern (a suit, a poster),
    the right face is the one that looks like the person, not necessarily the largest box."""
    if not candidates:
        return None
    if not references:
        raise ValueError("references: need at least one encoding to choose the best-matching face")
    refs = np.asarray(references, dtype=np.float64)
    best: tuple[FaceBox, np.ndarray, float] | None = None
    for box, enc in candidates:
        d = float(np.linalg.norm(refs - enc.astype(np.float64), axis=1).mean())
        if best is None or d < best[2]:
            best = (box, enc, d)
    return best
