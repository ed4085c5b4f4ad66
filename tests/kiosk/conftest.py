"""A fresh app (dashboard + kiosk) over a fresh SQLite store per test, a kiosk device token, staff
accounts per role, and session-scoped face data (dlib runs once per photo per test session)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from hospital_ops.config import Settings
from hospital_ops.domain import Patient, Sex
from hospital_ops.store import Store
from ops_dashboard import create_app
from ops_dashboard.auth import STAFF_ROLES
from triage_kiosk.identity import Challenge, FaceEngine, IdentityService, TemplateCipher, new_key
from triage_kiosk.identity.keys import decode_aes_key
from triage_kiosk.identity.sqlstore import SqlTemplateStore, StoreAuditLog
from triage_kiosk.identity.synthetic import kiosk_frame
from triage_kiosk.identity.video import load_rgb
from triage_kiosk.web.service import KioskContext

PASSWORD = "correct horse battery"
KIOSK_ID = "KIOSK-ED-1"
FACES = Path(os.environ.get("HOSPITAL_OPS_FACES_DIR", Path(__file__).resolve().parents[3] / "shared/data/faces"))
#: A valid resident id (checksum correct), born 1990.
ID_NUMBER = "11010519900307001X"


def _valid_id(first17: str) -> str:
    from triage_kiosk.identity.fallback import check_character

    return first17 + check_character(first17)


@pytest.fixture(scope="session")
def id_number() -> str:
    return _valid_id("11010519900307001")


@pytest.fixture(scope="session")
def other_id_number() -> str:
    return _valid_id("31010419851120002")


@pytest.fixture(scope="session")
def face_engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="session")
def kiosk_photo(face_engine: FaceEngine) -> Callable[[str], np.ndarray]:
    """640×480 kiosk frame of a shared photo (cached)."""
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            assert FACES.is_dir(), f"face photos not found at {FACES}"
            cache[name] = kiosk_frame(load_rgb(FACES / name), face_engine)
        return cache[name]

    return get


def data_url(rgb: np.ndarray) -> str:
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return "data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode("ascii")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="k" * 44,
        biometric_key=new_key(),
        id_hash_key="i" * 44,
        qr_token_key="q" * 44,
        visit_key=new_key(),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(
        f"sqlite:///{tmp_path / 'ops.sqlite3'}",
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    yield s
    s.close()


@pytest.fixture
def app(store: Store, settings: Settings, request: pytest.FixtureRequest) -> Flask:
    app = create_app(settings, store=store, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False
    for role in STAFF_ROLES:
        store.add_user(f"{role}1", role, PASSWORD, actor="test")
    ctx: KioskContext = app.extensions["triage_kiosk"]
    assert settings.biometric_key is not None
    key = decode_aes_key(settings.biometric_key.get_secret_value())

    def identity() -> IdentityService:  # the session's dlib models instead of loading them per app
        engine = request.getfixturevalue("face_engine")
        return IdentityService(TemplateCipher(key), SqlTemplateStore(store), StoreAuditLog(store), engine=engine)

    ctx.identity_factory = identity
    ctx.challenges = (Challenge.TURN_LEFT,)
    return app


def kctx(app: Flask) -> KioskContext:
    return app.extensions["triage_kiosk"]  # type: ignore[no-any-return]


@pytest.fixture
def kiosk_token(store: Store) -> str:
    return store.issue_device_token(KIOSK_ID, "kiosk", actor="test")[0]


@pytest.fixture
def kiosk(app: Flask, kiosk_token: str) -> FlaskClient:
    """A browser session activated as the kiosk."""
    client = app.test_client()
    r = client.post("/kiosk/activate", data={"token": kiosk_token})
    assert r.status_code == 302, r.data
    return client


def login(client: FlaskClient, role: str) -> None:
    r = client.post("/login", data={"username": f"{role}1", "password": PASSWORD})
    assert r.status_code == 302, r.data


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def known_patient(store: Store, app: Flask, id_number: str) -> Patient:
    """A registered patient (born 1958, female) with a hashed resident id on record."""
    hasher = kctx(app).id_hasher
    assert hasher is not None
    p = Patient(
        id="P-KNOWN",
        mrn="MRN-1",
        name="Wang Fang",
        birth_year=1958,
        sex=Sex.FEMALE,
        id_number_hash=hasher.hash(id_number),
    )
    return store.add_patient(p, actor="test")


def go(client: FlaskClient, path: str, data: dict[str, Any] | None = None) -> Any:
    """POST a form and return the response (not followed)."""
    return client.post(path, data=data or {})


def start_visit(client: FlaskClient) -> None:
    r = client.post("/kiosk/start")
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/consent")


def check_in_by_id(client: FlaskClient, id_number: str) -> Any:
    start_visit(client)
    assert go(client, "/kiosk/consent", {"consent": "no_face"}).headers["Location"].endswith("/kiosk/fallback")
    return go(client, "/kiosk/fallback", {"id_number": id_number})


QUESTIONS_OK = {"onset": "3", "pain": "2", "injury": "no", "arrival": "walk_in", "mental": "alert"}
VITALS_OK = {
    "heart_rate": "78",
    "resp_rate": "16",
    "systolic_bp": "128",
    "diastolic_bp": "80",
    "temperature_c": "36.8",
    "spo2": "98",
    "source": "staff",
}


@pytest.fixture
def his(store: Store) -> dict[str, str]:
    """Headers of the hospital information system's device token (FHIR intake)."""
    token = store.issue_device_token("his-1", "his", actor="test")[0]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


def send(app: Flask, his: dict[str, str], *resources: dict[str, Any]) -> None:
    """Post ``resources`` to /fhir as one transaction; every entry must be accepted."""
    from tests.fhir.conftest import transaction

    r = app.test_client().post("/fhir/", json=transaction(*resources), headers=his)
    assert r.status_code == 200, r.get_json()
    assert all(e["response"]["status"].startswith("20") for e in r.get_json()["entry"]), r.get_json()
