"""Shared, session-scoped face data: photos, real encodings, kiosk frames (encoding costs ~0.1 s
per face, so each photo is detected and encoded once per test run)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from triage_kiosk.identity import (
    Consent,
    FaceEngine,
    IdentityService,
    InMemoryAuditLog,
    InMemoryTemplateStore,
    TemplateCipher,
)
from triage_kiosk.identity.calibration import LabelledFace, load_labelled_faces
from triage_kiosk.identity.synthetic import kiosk_frame
from triage_kiosk.identity.video import load_rgb

FACES = Path(os.environ.get("HOSPITAL_OPS_FACES_DIR", Path(__file__).resolve().parents[3] / "shared/data/faces"))
#: One enrolment photo per person; every other photo is a probe.
GALLERY = {
    "P-OBAMA": "obama/obama1.jpg",
    "P-BIDEN": "biden/biden1.jpg",
    "P-ALEX": "alex_lacamoire/alex1.jpg",
    "P-KIT": "kit_harington/kit1.jpg",
    "P-ROSE": "rose_leslie/rose1.jpg",
}
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def now() -> datetime:
    """The services' clock in these tests."""
    return NOW


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    assert FACES.is_dir(), f"face photos not found at {FACES} (set HOSPITAL_OPS_FACES_DIR)"
    return FACES


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="session")
def photo(faces_dir: Path) -> Callable[[str], np.ndarray]:
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = load_rgb(faces_dir / name)
            cache[name].setflags(write=False)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def labelled(faces_dir: Path, engine: FaceEngine) -> list[LabelledFace]:
    faces, _ = load_labelled_faces(faces_dir, engine)
    return faces


@pytest.fixture(scope="session")
def encodings(labelled: list[LabelledFace]) -> dict[str, np.ndarray]:
    return {f.name: f.encoding for f in labelled}


@pytest.fixture(scope="session")
def kiosk(photo: Callable[[str], np.ndarray], engine: FaceEngine) -> Callable[[str], np.ndarray]:
    """640×480 head-and-shoulders frame of a photo (cached)."""
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = kiosk_frame(photo(name), engine)
            cache[name].setflags(write=False)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def consent() -> Callable[[str], Consent]:
    def make(patient_id: str, version: str = "face-id-2026-01") -> Consent:
        return Consent(
            patient_id=patient_id,
            text_version=version,
            at=NOW - timedelta(minutes=2),
            actor="self",
            source="KIOSK-ED-1",
        )

    return make


@pytest.fixture
def make_service(key: bytes, engine: FaceEngine) -> Callable[..., IdentityService]:
    def make(store: object | None = None, audit: object | None = None, **kw: object) -> IdentityService:
        return IdentityService(
            TemplateCipher(key),
            store or InMemoryTemplateStore(),  # type: ignore[arg-type]
            audit or InMemoryAuditLog(),  # type: ignore[arg-type]
            engine=engine,
            clock=lambda: NOW,
            **kw,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def gallery_service(
    make_service: Callable[..., IdentityService],
    encodings: dict[str, np.ndarray],
    consent: Callable[[str], Consent],
) -> IdentityService:
    """Five patients enrolled from their first photo (encodings shared from the session)."""
    svc = make_service()
    for pid, name in GALLERY.items():
        svc.enrol_template(pid, encodings[name], consent(pid), actor="nurse-7")
    return svc
