"""Calibrate the match threshold on labelled face photos (one folder per person).

Two protocols over the same encodings:

- *pairs* (verification): every pair of photos; same person = genuine, else impostor.
  False accept = impostor pair at or under the threshold; false reject = genuine pair over it.
- *open-set 1:N* (what the kiosk does): for every choice of one gallery photo per person, each
  other photo is a probe. A genuine probe is a false reject if its best match is over the
  threshold, a misidentification if its best match under the threshold is someone else. Each
  person in turn is left out of the gallery and all their photos are *strangers*: a false accept
  is a stranger matched to anyone.

Photos in which the detector finds more than one face take the face that best matches the
person's other photos (:func:`~triage_kiosk.identity.faces.best_matching`), never simply the
largest box. Folders named in ``skip`` (the two-person ``group/`` photos) are not used.
Optional augmentation (flip, brightness, JPEG, blur, rotation) adds genuine probes; an augmented
copy is never paired with its own source photo.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import cv2
import numpy as np

from .faces import FaceBox, FaceEngine, best_matching
from .service import DEFAULT_THRESHOLD
from .video import load_rgb

DEFAULT_THRESHOLDS: Final = (0.40, 0.45, 0.50, 0.55, 0.60)
IMAGE_SUFFIXES: Final = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True, slots=True)
class LabelledFace:
    person: str
    #: Photo path relative to the data set root (``+flip`` etc. for augmented copies).
    name: str
    encoding: np.ndarray = field(repr=False)
    #: Faces the detector found in the photo.
    faces_in_photo: int = 1
    #: For augmented copies, the ``name`` of the source photo.
    source: str | None = None


def _augmentations() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    def jpeg(img: np.ndarray) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 20])
        assert ok
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError("augmentation jpeg20: OpenCV could not decode the JPEG it had just encoded")
        return np.ascontiguousarray(decoded[:, :, ::-1])

    def rotate(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0)
        return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)

    return {
        "flip": lambda img: np.ascontiguousarray(img[:, ::-1]),
        "dark": lambda img: cv2.convertScaleAbs(img, alpha=0.6, beta=0),
        "jpeg20": jpeg,
        "blur": lambda img: cv2.GaussianBlur(img, (7, 7), 0),
        "rot12": rotate,
    }


def load_labelled_faces(
    root: str | Path,
    engine: FaceEngine,
    *,
    skip: Iterable[str] = ("group",),
    augment: bool = False,
) -> tuple[list[LabelledFace], list[str]]:
    """Encode one face per photo under ``root/<person>/``. Returns (faces, skipped photo notes)."""
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"data: {base} is not a directory of per-person photo folders")
    skipped_dirs = set(skip)
    found: list[tuple[str, str, list[tuple[FaceBox, np.ndarray]], np.ndarray]] = []
    notes: list[str] = []
    for person_dir in sorted(p for p in base.iterdir() if p.is_dir() and p.name not in skipped_dirs):
        for photo in sorted(p for p in person_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            img = load_rgb(photo)
            cands = engine.encode_all(img)
            name = str(photo.relative_to(base))
            if not cands:
                notes.append(f"{name}: no face found, not used")
                continue
            found.append((person_dir.name, name, cands, img))
    if not found:
        raise ValueError(f"data: no usable face photos under {base}")
    faces: list[LabelledFace] = []
    for person, name, cands, _ in found:
        if len(cands) == 1:
            faces.append(LabelledFace(person, name, cands[0][1], 1))
            continue
        refs = [c[0][1] for p, n, c, _ in found if p == person and n != name and len(c) == 1]
        if not refs:
            notes.append(f"{name}: {len(cands)} faces and no single-face photo of {person} to choose with, not used")
            continue
        pick = best_matching(cands, refs)
        assert pick is not None
        faces.append(LabelledFace(person, name, pick[1], len(cands)))
        notes.append(f"{name}: {len(cands)} faces, took the one that best matches {person}'s other photos")
    if augment:
        aug = _augmentations()
        by_name = {f.name: f for f in faces}
        for person, name, _, img in found:
            if name not in by_name:
                continue
            for tag, fn in aug.items():
                cands = engine.encode_all(fn(img))
                pick = best_matching(cands, [by_name[name].encoding])
                if pick is None:
                    notes.append(f"{name}+{tag}: no face found after augmentation")
                    continue
                faces.append(LabelledFace(person, f"{name}+{tag}", pick[1], len(cands), source=name))
    return faces, notes


@dataclass(frozen=True, slots=True)
class PairRates:
    threshold: float
    genuine_pairs: int
    false_rejects: int
    impostor_pairs: int
    false_accepts: int

    @property
    def frr(self) -> float:
        return self.false_rejects / self.genuine_pairs if self.genuine_pairs else 0.0

    @property
    def far(self) -> float:
        return self.false_accepts / self.impostor_pairs if self.impostor_pairs else 0.0


@dataclass(frozen=True, slots=True)
class OpenSetRates:
    threshold: float
    galleries: int
    genuine_probes: int
    correct: int
    false_rejects: int
    misidentified: int
    stranger_probes: int
    stranger_accepts: int

    @property
    def frr(self) -> float:
        return self.false_rejects / self.genuine_probes if self.genuine_probes else 0.0

    @property
    def far(self) -> float:
        """Strangers matched to an enrolled person (the kiosk's false accept rate)."""
        return self.stranger_accepts / self.stranger_probes if self.stranger_probes else 0.0

    @property
    def misid_rate(self) -> float:
        return self.misidentified / self.genuine_probes if self.genuine_probes else 0.0


def _distances(faces: Sequence[LabelledFace]) -> np.ndarray:
    m = np.stack([f.encoding for f in faces]).astype(np.float64)
    return np.linalg.norm(m[:, None] - m[None], axis=2)


def _related(a: LabelledFace, b: LabelledFace) -> bool:
    """Same photo (an augmented copy and its source, or two copies of one source)."""
    sa, sb = a.source or a.name, b.source or b.name
    return sa == sb


def pair_distances(faces: Sequence[LabelledFace]) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) distances over all unrelated pairs."""
    d = _distances(faces)
    gen: list[float] = []
    imp: list[float] = []
    for i, j in itertools.combinations(range(len(faces)), 2):
        if _related(faces[i], faces[j]):
            continue
        (gen if faces[i].person == faces[j].person else imp).append(float(d[i, j]))
    return np.array(gen), np.array(imp)


def pair_rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> PairRates:
    return PairRates(
        threshold=threshold,
        genuine_pairs=len(genuine),
        false_rejects=int(np.sum(genuine > threshold)),
        impostor_pairs=len(impostor),
        false_accepts=int(np.sum(impostor <= threshold)),
    )


def open_set_rates(faces: Sequence[LabelledFace], threshold: float) -> OpenSetRates:
    """The kiosk protocol over every gallery of one (original) photo per person."""
    d = _distances(faces)
    people = sorted({f.person for f in faces})
    originals = {p: [i for i, f in enumerate(faces) if f.person == p and f.source is None] for p in people}
    if any(not v for v in originals.values()):
        raise ValueError("faces: every person needs at least one original photo")
    galleries = 0
    gen = correct = fr = misid = strangers = stranger_fa = 0
    for gallery in itertools.product(*(originals[p] for p in people)):
        galleries += 1
        g = np.array(gallery)
        for i, f in enumerate(faces):
            if i in gallery or any(_related(f, faces[j]) for j in gallery if faces[j].person == f.person):
                continue
            # Genuine probe against the full gallery.
            k = int(np.argmin(d[i, g]))
            gen += 1
            if d[i, g[k]] > threshold:
                fr += 1
            elif faces[g[k]].person == f.person:
                correct += 1
            else:
                misid += 1
            # The same photo as a stranger: its person left out of the gallery.
            others = np.array([j for j in gallery if faces[j].person != f.person])
            strangers += 1
            if others.size and float(d[i, others].min()) <= threshold:
                stranger_fa += 1
    return OpenSetRates(threshold, galleries, gen, correct, fr, misid, strangers, stranger_fa)


def recommend_threshold(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Midpoint of the gap between the largest genuine and the smallest impostor distance when
    they separate; otherwise the threshold that minimises FAR + FRR."""
    if len(genuine) == 0 or len(impostor) == 0:
        raise ValueError("need genuine and impostor pairs to recommend a threshold")
    if genuine.max() < impostor.min():
        return float((genuine.max() + impostor.min()) / 2)
    grid = np.unique(np.concatenate([genuine, impostor]))
    cost = [np.mean(genuine > t) + np.mean(impostor <= t) for t in grid]
    return float(grid[int(np.argmin(cost))])


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    root: str
    chosen: float
    people: int
    photos: int
    augmented: int
    notes: tuple[str, ...]
    genuine_range: tuple[float, float]
    impostor_range: tuple[float, float]
    recommended: float
    pairs: tuple[PairRates, ...]
    open_set: tuple[OpenSetRates, ...]
    closest_impostor: tuple[str, str, float]
    farthest_genuine: tuple[str, str, float]

    def at(self, threshold: float) -> tuple[PairRates, OpenSetRates]:
        p = next(r for r in self.pairs if abs(r.threshold - threshold) < 1e-9)
        o = next(r for r in self.open_set if abs(r.threshold - threshold) < 1e-9)
        return p, o

    def as_dict(self) -> dict[str, object]:
        return {
            "root": self.root,
            "chosen_threshold": self.chosen,
            "recommended_threshold": round(self.recommended, 4),
            "people": self.people,
            "photos": self.photos,
            "augmented_probes": self.augmented,
            "genuine_distance_range": [round(v, 4) for v in self.genuine_range],
            "impostor_distance_range": [round(v, 4) for v in self.impostor_range],
            "closest_impostor_pair": list(self.closest_impostor),
            "farthest_genuine_pair": list(self.farthest_genuine),
            "pairs": [
                {
                    "threshold": r.threshold,
                    "genuine": r.genuine_pairs,
                    "false_rejects": r.false_rejects,
                    "frr": r.frr,
                    "impostor": r.impostor_pairs,
                    "false_accepts": r.false_accepts,
                    "far": r.far,
                }
                for r in self.pairs
            ],
            "open_set": [
                {
                    "threshold": r.threshold,
                    "galleries": r.galleries,
                    "genuine_probes": r.genuine_probes,
                    "correct": r.correct,
                    "false_rejects": r.false_rejects,
                    "misidentified": r.misidentified,
                    "stranger_probes": r.stranger_probes,
                    "stranger_accepts": r.stranger_accepts,
                }
                for r in self.open_set
            ],
            "notes": list(self.notes),
        }


def calibrate_faces(
    faces: Sequence[LabelledFace],
    *,
    chosen: float = DEFAULT_THRESHOLD,
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    root: str = "",
    notes: Sequence[str] = (),
) -> CalibrationReport:
    """The report for already-encoded faces (tests share the encodings of a session fixture)."""
    grid = sorted({round(float(t), 4) for t in thresholds} | {round(chosen, 4)})
    genuine, impostor = pair_distances(faces)
    if len(genuine) == 0 or len(impostor) == 0:
        raise ValueError("faces: need at least two people and two photos of one person")
    d = _distances(faces)
    pairs = [(i, j) for i, j in itertools.combinations(range(len(faces)), 2) if not _related(faces[i], faces[j])]
    imp = [(d[i, j], i, j) for i, j in pairs if faces[i].person != faces[j].person]
    gen = [(d[i, j], i, j) for i, j in pairs if faces[i].person == faces[j].person]
    ci = min(imp)
    fg = max(gen)
    return CalibrationReport(
        root=root,
        chosen=chosen,
        people=len({f.person for f in faces}),
        photos=sum(1 for f in faces if f.source is None),
        augmented=sum(1 for f in faces if f.source is not None),
        notes=tuple(notes),
        genuine_range=(float(genuine.min()), float(genuine.max())),
        impostor_range=(float(impostor.min()), float(impostor.max())),
        recommended=recommend_threshold(genuine, impostor),
        pairs=tuple(pair_rates(genuine, impostor, t) for t in grid),
        open_set=tuple(open_set_rates(faces, t) for t in grid),
        closest_impostor=(faces[ci[1]].name, faces[ci[2]].name, round(float(ci[0]), 4)),
        farthest_genuine=(faces[fg[1]].name, faces[fg[2]].name, round(float(fg[0]), 4)),
    )


def calibrate(
    root: str | Path,
    engine: FaceEngine | None = None,
    *,
    chosen: float = DEFAULT_THRESHOLD,
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    augment: bool = False,
) -> CalibrationReport:
    """Encode the photos under ``root`` and report error rates at each threshold."""
    faces, notes = load_labelled_faces(root, engine or FaceEngine(), augment=augment)
    return calibrate_faces(faces, chosen=chosen, thresholds=thresholds, root=str(root), notes=notes)


def format_report(rep: CalibrationReport) -> str:
    """A plain-text table for the CLI."""
    lines = [
        f"data: {rep.root}  ({rep.people} people, {rep.photos} photos"
        + (f", {rep.augmented} augmented probes)" if rep.augmented else ")"),
        f"same person:   distance {rep.genuine_range[0]:.3f}–{rep.genuine_range[1]:.3f}"
        f"  (farthest: {rep.farthest_genuine[0]} vs {rep.farthest_genuine[1]})",
        f"different:     distance {rep.impostor_range[0]:.3f}–{rep.impostor_range[1]:.3f}"
        f"  (closest: {rep.closest_impostor[0]} vs {rep.closest_impostor[1]})",
        f"recommended threshold (gap midpoint / min FAR+FRR): {rep.recommended:.3f};  chosen: {rep.chosen:.2f}",
        "",
        "threshold | pairs: FA/impostor  FAR    FR/genuine  FRR    | 1:N: strangers accepted  FR/probes  misidentified",
    ]
    for p, o in zip(rep.pairs, rep.open_set, strict=True):
        mark = " *" if abs(p.threshold - rep.chosen) < 1e-9 else "  "
        lines.append(
            f"  {p.threshold:.2f}{mark}  | {p.false_accepts:4d}/{p.impostor_pairs:<5d} {p.far:6.2%}  "
            f"{p.false_rejects:3d}/{p.genuine_pairs:<5d} {p.frr:6.2%} | "
            f"{o.stranger_accepts:6d}/{o.stranger_probes:<6d} {o.far:6.2%}  "
            f"{o.false_rejects:5d}/{o.genuine_probes:<5d} {o.misidentified:5d}"
        )
    lines += ["", "(1:N: every gallery of one photo per person; each probe also tried as a stranger)"]
    lines += [f"note: {n}" for n in rep.notes]
    return "\n".join(lines)
