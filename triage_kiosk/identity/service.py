"""The identity service the kiosk web layer calls: enrol (with consent), identify, check in with
liveness, delete on request.

Templates are sealed (AES-GCM) in a :class:`TemplateStore`; at start-up they are opened into the
in-memory :class:`TemplateIndex` for 1:N search. Every enrolment, refusal, deletion and
identification is written to the :class:`AuditLog` (ids and outcomes only, never a template).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

import numpy as np

from hospital_ops.config import Settings

from .audit import AuditAction, AuditEvent, AuditLog
from .consent import Consent, require_consent
from .crypto import TemplateCipher
from .errors import EnrolmentRefused, IdentityError
from .faces import FaceEngine, as_frame
from .index import TemplateIndex
from .keys import biometric_key
from .liveness import Challenge, LivenessConfig, LivenessResult, check_liveness
from .store import TemplateRecord, TemplateStore

#: Euclidean distance between 128-d encodings at or under which two faces are the same person.
#: face_recognition's default is 0.6; on the shared photos same-person pairs measure 0.06–0.43 and
#: different people 0.70–0.97 (``calibration``), so 0.5 keeps a margin on both sides. A false
#: accept checks a patient in as somebody else; a false reject only sends them to the ID/QR path.
DEFAULT_THRESHOLD: Final = 0.5
#: The runner-up (another patient) must be farther than threshold + this margin, else the face
#: fits two patients and the kiosk refuses (twins, look-alikes, a duplicate registration).
DEFAULT_AMBIGUITY_MARGIN: Final = 0.05
MAX_ENROL_IMAGES: Final = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


class MatchStatus(StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_SMALL = "face_too_small"
    NOT_LIVE = "not_live"
    FACE_CHANGED = "face_changed"


_MESSAGES: Final[dict[MatchStatus, tuple[str, str]]] = {
    MatchStatus.MATCHED: ("Welcome. You have been identified.", "欢迎，身份已确认。"),
    MatchStatus.NO_MATCH: (
        "We could not recognise you. Please use your ID card or the hospital app QR code.",
        "未能识别您的身份，请使用身份证或医院App二维码。",
    ),
    MatchStatus.AMBIGUOUS: (
        "We could not tell you apart from another patient. Please use your ID card or QR code.",
        "无法唯一确认您的身份，请使用身份证或二维码。",
    ),
    MatchStatus.NO_FACE: ("No face found. Please look at the camera.", "未检测到人脸，请正对摄像头。"),
    MatchStatus.MULTIPLE_FACES: (
        "More than one person is in view. One person at a time, please.",
        "画面中有多人，请一次一人操作。",
    ),
    MatchStatus.FACE_TOO_SMALL: ("Please come closer to the camera.", "请靠近摄像头。"),
    MatchStatus.NOT_LIVE: ("The live check did not pass.", "活体检测未通过。"),
    MatchStatus.FACE_CHANGED: (
        "The person in view changed during the check. Please try again.",
        "检测过程中画面中的人发生了变化，请重试。",
    ),
}


@dataclass(frozen=True, slots=True)
class IdentifyResult:
    status: MatchStatus
    patient_id: str | None
    message_en: str
    message_zh: str
    distance: float | None = None
    runner_up_distance: float | None = None
    #: Candidate faces in the frame (background faces excluded).
    faces: int = 0
    liveness: LivenessResult | None = None

    @property
    def matched(self) -> bool:
        return self.status is MatchStatus.MATCHED


@dataclass(frozen=True, slots=True)
class EnrolResult:
    patient_id: str
    #: The patient had a template before (now replaced).
    replaced: bool
    images: int
    #: Largest distance between the encodings of the given images (0 for one image).
    spread: float
    enrolled_at: datetime


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    threshold: float = DEFAULT_THRESHOLD
    ambiguity_margin: float = DEFAULT_AMBIGUITY_MARGIN
    #: Consent text versions accepted for new enrolments (None = any).
    accepted_consent_versions: frozenset[str] | None = None
    #: Refuse enrolling a face that already matches another patient (duplicate registration);
    #: staff can override per call.
    refuse_duplicates: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 2.0:
            raise ValueError(f"Expected threshold in (0, 2), got {self.threshold}.")
        if not 0.0 <= self.ambiguity_margin <= 0.5:
            raise ValueError(f"Expected ambiguity_margin in [0, 0.5], got {self.ambiguity_margin}.")


def _result(
    status: MatchStatus,
    patient_id: str | None = None,
    *,
    distance: float | None = None,
    runner_up_distance: float | None = None,
    faces: int = 0,
    liveness: LivenessResult | None = None,
    message: tuple[str, str] | None = None,
) -> IdentifyResult:
    en, zh = message or _MESSAGES[status]
    return IdentifyResult(
        status=status,
        patient_id=patient_id,
        message_en=en,
        message_zh=zh,
        distance=distance,
        runner_up_distance=runner_up_distance,
        faces=faces,
        liveness=liveness,
    )


class IdentityService:
    """Face identity for the kiosks. Thread-safe; one instance per process."""

    def __init__(
        self,
        cipher: TemplateCipher,
        store: TemplateStore,
        audit: AuditLog,
        *,
        engine: FaceEngine | None = None,
        policy: IdentityPolicy | None = None,
        liveness: LivenessConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.cipher = cipher
        self.store = store
        self.audit = audit
        self.engine = engine or FaceEngine()
        self.policy = policy or IdentityPolicy()
        self.liveness_config = liveness or LivenessConfig()
        self.clock = clock
        self.index = TemplateIndex(capacity=max(1024, store.count()))
        self._lock = threading.RLock()
        self.reload()

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None,
        store: TemplateStore,
        audit: AuditLog,
        **kwargs: object,
    ) -> IdentityService:
        """Build with the key from ``HOSPITAL_OPS_BIOMETRIC_KEY`` (``MissingSecretError`` if unset)."""
        return cls(TemplateCipher(biometric_key(settings)), store, audit, **kwargs)  # type: ignore[arg-type]

    # -- state ------------------------------------------------------------------------------------
    def reload(self) -> int:
        """Open every stored template into the search index (fails closed on a wrong key)."""
        with self._lock:
            ids: list[str] = []
            vectors: list[np.ndarray] = []
            for rec in self.store.records():
                ids.append(rec.patient_id)
                vectors.append(self.cipher.open(rec.patient_id, rec.sealed))
            self.index.clear()
            if ids:
                self.index.add_many(ids, np.stack(vectors))
            return len(ids)

    def is_enrolled(self, patient_id: str) -> bool:
        return patient_id in self.index

    def count(self) -> int:
        return len(self.index)

    def _event(self, action: AuditAction, patient_id: str, actor: str, **detail: object) -> None:
        self.audit.append(
            AuditEvent(
                at=self.clock(),
                actor=actor,
                action=action,
                subject=f"patient:{patient_id}",
                detail=dict(detail),  # type: ignore[arg-type]
            )
        )

    # -- enrolment --------------------------------------------------------------------------------
    def _subject_encoding(self, frame: np.ndarray, *, name: str) -> np.ndarray:
        img = as_frame(frame, name=name)
        found = self.engine.find(img)
        if not found.subjects:
            raise EnrolmentRefused("no_face", f"{name}: no face found; use a clear, frontal photo of the patient")
        if len(found.subjects) > 1:
            raise EnrolmentRefused(
                "multiple_faces", f"{name}: {len(found.subjects)} faces found; the photo must show the patient alone"
            )
        box = found.subjects[0]
        if box.width < self.engine.min_face_px:
            raise EnrolmentRefused(
                "face_too_small",
                f"{name}: face is {box.width} px wide, need at least {self.engine.min_face_px} px; move closer",
            )
        return self.engine.encode(img, box)

    def _admit(self, patient_id: str, consent: Consent | None, actor: str) -> tuple[datetime, Consent]:
        """Check the request and the consent (audit-logging a refusal)."""
        if not isinstance(patient_id, str) or not patient_id.strip():
            raise ValueError(f"patient_id: must be a non-empty string, got {patient_id!r}")
        if not actor:
            raise ValueError("actor: who enrols must be recorded (staff id or kiosk id)")
        now = self.clock()
        try:
            ok = require_consent(patient_id, consent, now=now, accepted_versions=self.policy.accepted_consent_versions)
        except IdentityError as exc:
            self._event(AuditAction.ENROL_REFUSED, patient_id, actor, code=exc.code, reason=str(exc))
            raise
        return now, ok

    def enrol(
        self,
        patient_id: str,
        images: np.ndarray | Sequence[np.ndarray],
        consent: Consent | None,
        *,
        actor: str,
        allow_duplicate: bool = False,
    ) -> EnrolResult:
        """Create (or replace) the patient's face template from 1–5 RGB images of them alone.

        Raises :class:`ConsentRequiredError` without a matching consent record, and
        :class:`EnrolmentRefused` (``code`` = ``no_face`` / ``multiple_faces`` / ``face_too_small`` /
        ``inconsistent_images`` / ``duplicate``) when the images cannot give a safe template."""
        now, consent = self._admit(patient_id, consent, actor)
        frames = [images] if isinstance(images, np.ndarray) else list(images)
        if not 1 <= len(frames) <= MAX_ENROL_IMAGES:
            raise ValueError(f"images: expected 1 to {MAX_ENROL_IMAGES} images, got {len(frames)}")
        try:
            encs = [self._subject_encoding(f, name=f"images[{i}]") for i, f in enumerate(frames)]
            m = np.stack(encs).astype(np.float64)
            spread = float(np.max(np.linalg.norm(m[:, None] - m[None], axis=2))) if len(encs) > 1 else 0.0
            if spread > self.policy.threshold:
                raise EnrolmentRefused(
                    "inconsistent_images",
                    f"images: the photos do not look like one person (distance {spread:.2f} > "
                    f"{self.policy.threshold}); use photos of the patient only",
                )
            template = m.mean(axis=0).astype(np.float32)
            replaced = self._store_template(
                patient_id, template, consent, actor=actor, now=now, allow_duplicate=allow_duplicate
            )
        except EnrolmentRefused as exc:
            if exc.code != "duplicate":
                self._event(AuditAction.ENROL_REFUSED, patient_id, actor, code=exc.code, reason=str(exc))
            raise
        self._enrolled_event(patient_id, consent, actor=actor, images=len(encs), replaced=replaced)
        return EnrolResult(patient_id, replaced, len(encs), spread, now)

    def enrol_template(
        self,
        patient_id: str,
        template: np.ndarray,
        consent: Consent | None,
        *,
        actor: str,
        allow_duplicate: bool = False,
    ) -> EnrolResult:
        """Enrol a ready 128-d encoding (import from another system of the same encoder, the twin,
        benchmarks). Same consent, duplicate and audit rules as :meth:`enrol`."""
        now, consent = self._admit(patient_id, consent, actor)
        vec = TemplateIndex.check_vector(template)
        replaced = self._store_template(patient_id, vec, consent, actor=actor, now=now, allow_duplicate=allow_duplicate)
        self._enrolled_event(patient_id, consent, actor=actor, images=0, replaced=replaced)
        return EnrolResult(patient_id, replaced, 0, 0.0, now)

    def _store_template(
        self,
        patient_id: str,
        template: np.ndarray,
        consent: Consent,
        *,
        actor: str,
        now: datetime,
        allow_duplicate: bool,
    ) -> bool:
        """Duplicate check, seal, persist, index (atomically w.r.t. other enrolments)."""
        with self._lock:
            hit = self.index.search(template)
            other, other_d = (
                (hit.runner_up_id, hit.runner_up_distance)
                if hit.patient_id == patient_id
                else (hit.patient_id, hit.distance)
            )
            if (
                self.policy.refuse_duplicates
                and not allow_duplicate
                and other is not None
                and other_d is not None
                and other_d <= self.policy.threshold
            ):
                self._event(
                    AuditAction.ENROL_REFUSED,
                    patient_id,
                    actor,
                    code="duplicate",
                    matches=f"patient:{other}",
                    distance=round(other_d, 4),
                )
                raise EnrolmentRefused(
                    "duplicate",
                    f"patient {patient_id}: this face already matches another enrolled patient "
                    "(see the audit log); check for a duplicate registration, or let staff "
                    "enrol with allow_duplicate=True (e.g. twins)",
                )
            replaced = self.store.get(patient_id) is not None or patient_id in self.index
            record = TemplateRecord(
                patient_id=patient_id,
                sealed=self.cipher.seal(patient_id, template),
                consent=consent,
                enrolled_at=now,
                enrolled_by=actor,
            )
            self.store.put(record)  # persisted first: the index never holds what the store lacks
            self.index.add(patient_id, template)
            return replaced

    def _enrolled_event(self, patient_id: str, consent: Consent, *, actor: str, images: int, replaced: bool) -> None:
        self._event(
            AuditAction.ENROLLED,
            patient_id,
            actor,
            consent_version=consent.text_version,
            consent_at=consent.at.isoformat(),
            consent_actor=consent.actor,
            consent_source=consent.source,
            images=images,
            replaced=replaced,
            key_id=self.cipher.key_id,
        )

    # -- deletion ---------------------------------------------------------------------------------
    def delete(self, patient_id: str, *, actor: str, reason: str = "patient request") -> bool:
        """Remove the patient's template from the store and the index; audit-logged either way.
        Returns False if nothing was stored."""
        if not actor:
            raise ValueError("actor: who deletes must be recorded (staff id or kiosk id)")
        with self._lock:
            in_store = self.store.delete(patient_id)
            in_index = self.index.remove(patient_id)
        if not (in_store or in_index):
            self._event(AuditAction.DELETE_NOTHING, patient_id, actor, reason=reason)
            return False
        self._event(AuditAction.DELETED, patient_id, actor, reason=reason, store=in_store, index=in_index)
        return True

    # -- identification ---------------------------------------------------------------------------
    def _identify(
        self, frame: np.ndarray, candidates: Collection[str] | None = None
    ) -> tuple[IdentifyResult, np.ndarray | None]:
        img = as_frame(frame)
        found = self.engine.find(img)
        n = len(found.subjects)
        if n == 0:
            return _result(MatchStatus.NO_FACE), None
        if n > 1:
            return _result(MatchStatus.MULTIPLE_FACES, faces=n), None
        box = found.subjects[0]
        if box.width < self.engine.min_face_px:
            return _result(MatchStatus.FACE_TOO_SMALL, faces=1), None
        enc = self.engine.encode(img, box)
        hit = self.index.search(enc, candidates)
        t = self.policy.threshold
        if hit.patient_id is None or hit.distance is None or hit.distance > t:
            return _result(MatchStatus.NO_MATCH, faces=1, distance=hit.distance), enc
        if hit.runner_up_distance is not None and hit.runner_up_distance <= t + self.policy.ambiguity_margin:
            return (
                _result(
                    MatchStatus.AMBIGUOUS,
                    faces=1,
                    distance=hit.distance,
                    runner_up_distance=hit.runner_up_distance,
                ),
                enc,
            )
        return (
            _result(
                MatchStatus.MATCHED,
                patient_id=hit.patient_id,
                faces=1,
                distance=hit.distance,
                runner_up_distance=hit.runner_up_distance,
            ),
            enc,
        )

    def identify(
        self, frame: np.ndarray, *, kiosk_id: str = "", candidates: Collection[str] | None = None
    ) -> IdentifyResult:
        """1:N identification of the one person in an RGB frame (no liveness: see :meth:`check_in`).

        ``candidates`` restricts the search to those patients (e.g. today's appointments at this
        building): fewer templates, fewer chances for a stranger to match someone."""
        res, _ = self._identify(frame, candidates)
        if res.matched:
            assert res.patient_id is not None
            self._event(
                AuditAction.IDENTIFIED,
                res.patient_id,
                kiosk_id or "kiosk",
                distance=round(res.distance or 0.0, 4),
                liveness=False,
            )
        return res

    def check_in(
        self,
        frames: Sequence[np.ndarray],
        challenge: Challenge,
        *,
        kiosk_id: str = "",
        fps: float = 10.0,
        timestamps_s: Sequence[float] | None = None,
        candidates: Collection[str] | None = None,
    ) -> IdentifyResult:
        """Liveness challenge over ``frames``, then identification on a frontal frame of the same
        sequence, then a check that the person at the end is the one identified."""
        live = check_liveness(
            frames, challenge, engine=self.engine, fps=fps, timestamps_s=timestamps_s, config=self.liveness_config
        )
        if not live.passed or live.baseline_index is None:
            return _result(MatchStatus.NOT_LIVE, liveness=live, message=(live.message_en, live.message_zh))
        res, enc = self._identify(frames[live.baseline_index], candidates)
        if not res.matched or enc is None:
            return _with_liveness(res, live)
        assert res.patient_id is not None
        # The same person at the end (a frontal, eyes-open frame after the movement).
        cfg = self.liveness_config
        tail = [
            m.index
            for m in live.frames
            if m.d_yaw is not None
            and abs(m.d_yaw) <= cfg.return_yaw
            and (m.eye_closure is None or m.eye_closure >= cfg.reopen_ratio)
            and m.index > (live.peak_index or 0)
        ]
        if tail:
            end = as_frame(frames[tail[-1]])
            found = self.engine.find(end)
            same = len(found.subjects) == 1 and (
                float(np.linalg.norm(self.engine.encode(end, found.subjects[0]) - enc)) <= self.policy.threshold
            )
            if not same:
                return _result(MatchStatus.FACE_CHANGED, faces=len(found.subjects), liveness=live)
        self._event(
            AuditAction.IDENTIFIED,
            res.patient_id,
            kiosk_id or "kiosk",
            distance=round(res.distance or 0.0, 4),
            liveness=True,
            challenge=live.challenge.value,
        )
        return _with_liveness(res, live)


def _with_liveness(res: IdentifyResult, live: LivenessResult) -> IdentifyResult:
    return dataclasses.replace(res, liveness=live)


def rekey(store: TemplateStore, old: TemplateCipher, new: TemplateCipher) -> int:
    """Re-seal every stored template under a new key (key rotation); returns how many.

    Run it offline, then restart the services with the new ``HOSPITAL_OPS_BIOMETRIC_KEY``."""
    n = 0
    for rec in list(store.records()):
        if rec.sealed.key_id == new.key_id:
            continue
        vector = old.open(rec.patient_id, rec.sealed)
        store.put(
            TemplateRecord(
                patient_id=rec.patient_id,
                sealed=new.seal(rec.patient_id, vector),
                consent=rec.consent,
                enrolled_at=rec.enrolled_at,
                enrolled_by=rec.enrolled_by,
            )
        )
        vector.fill(0.0)
        n += 1
    return n
