"""Face check-in through the kiosk's JSON endpoint with real dlib on the shared photos: liveness
challenge, identification, registration with enrolment, refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from hospital_ops.config import Settings
from hospital_ops.domain import CheckInMethod, Patient, Sex
from hospital_ops.store import Store
from ops_dashboard import create_app
from tests.kiosk.conftest import data_url, go, kctx, start_visit
from triage_kiosk.identity import Challenge, Consent, FaceEngine
from triage_kiosk.identity.consent import FACE_ID_PURPOSE
from triage_kiosk.identity.sqlstore import SqlTemplateStore
from triage_kiosk.identity.synthetic import live_sequence


def _to_camera(kiosk: FlaskClient) -> None:
    start_visit(kiosk)
    r = go(kiosk, "/kiosk/consent", {"consent": "face"})
    assert r.headers["Location"].endswith("/kiosk/camera")


def _post_frames(kiosk: FlaskClient, frames: list[np.ndarray]) -> dict:
    times = [i * 100 for i in range(len(frames))]
    r = kiosk.post("/kiosk/api/face", json={"frames": [data_url(f) for f in frames], "timestamps_ms": times})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def obama_enrolled(app: Flask, store: Store, kiosk_photo: Callable[[str], np.ndarray]) -> Patient:
    p = store.add_patient(Patient(id="P-OBAMA", mrn="MRN-O", name="Barack", birth_year=1961, sex=Sex.MALE), actor="t")
    consent = Consent("P-OBAMA", "face-id-2026-11", datetime.now(UTC), "self", "desk")
    kctx(app).identity().enrol("P-OBAMA", [kiosk_photo("obama/obama1.jpg")], consent, actor="nurse-1")
    return p


def test_camera_screen_shows_the_challenge(kiosk: FlaskClient) -> None:
    """After consent the camera screen shows the live check the patient must do, in words."""
    _to_camera(kiosk)
    page = kiosk.get("/kiosk/camera").get_data(as_text=True)
    assert 'data-code="turn_left"' in page and "turn your head to your left" in page
    assert "getUserMedia" not in page and "camera.js" in page  # the script is a static file


def test_enrolled_patient_checks_in_by_face(
    kiosk: FlaskClient,
    store: Store,
    obama_enrolled: Patient,
    kiosk_photo: Callable[[str], np.ndarray],
    face_engine: FaceEngine,
) -> None:
    """A live head turn on another photo of an enrolled patient: matched, checked in by face,
    on to the complaint screen; the identification is in the store's audit log."""
    _to_camera(kiosk)
    frames = live_sequence(kiosk_photo("obama/obama2.jpg"), Challenge.TURN_LEFT, face_engine)
    out = _post_frames(kiosk, frames)
    assert out["status"] == "matched" and out["next"].endswith("/kiosk/complaint"), out
    [ci] = store.check_ins(patient_id="P-OBAMA")
    assert ci.method is CheckInMethod.FACE
    assert store.audit_log(action="face.identified", subject="patient:P-OBAMA")


def test_stranger_is_offered_registration_and_enrolled_with_consent(
    app: Flask,
    kiosk: FlaskClient,
    store: Store,
    obama_enrolled: Patient,
    kiosk_photo: Callable[[str], np.ndarray],
    face_engine: FaceEngine,
) -> None:
    """A live face nobody has: not matched to the enrolled patient, registration offered with the
    face-enrolment consent; agreeing records the consent, stores a sealed template, and the
    next visit recognises the new patient."""
    _to_camera(kiosk)
    frames = live_sequence(kiosk_photo("kit_harington/kit1.jpg"), Challenge.TURN_LEFT, face_engine)
    out = _post_frames(kiosk, frames)
    assert out["status"] == "no_match" and out["next"].endswith("/kiosk/register"), out
    assert not store.check_ins()
    page = kiosk.get("/kiosk/register").get_data(as_text=True)
    assert 'name="enrol_face"' in page and "We could not find you" in page
    r = go(
        kiosk,
        "/kiosk/register",
        {"name": "Kit", "birth_year": "1986", "sex": "male", "enrol_face": "1", "confirm": "1"},
    )
    assert r.headers["Location"].endswith("/kiosk/complaint"), r.get_data(as_text=True)[:2000]
    [ci] = store.check_ins()
    assert ci.method is CheckInMethod.FACE
    assert store.has_consent(ci.patient_id, FACE_ID_PURPOSE)
    assert SqlTemplateStore(store).get(ci.patient_id) is not None
    assert store.audit_log(action="face.enrolled", subject=f"patient:{ci.patient_id}")
    assert "face template is saved" in kiosk.get("/kiosk/complaint").get_data(as_text=True)
    # next visit: recognised
    _to_camera(kiosk)
    frames2 = live_sequence(kiosk_photo("kit_harington/kit2.jpg"), Challenge.TURN_LEFT, face_engine)
    out2 = _post_frames(kiosk, frames2)
    assert out2["status"] == "matched", out2
    assert len(store.check_ins(patient_id=ci.patient_id)) == 2


def test_declining_enrolment_records_the_refusal(
    kiosk: FlaskClient, store: Store, kiosk_photo: Callable[[str], np.ndarray], face_engine: FaceEngine
) -> None:
    """Registering without ticking the face consent stores no template and records the decision."""
    _to_camera(kiosk)
    out = _post_frames(kiosk, live_sequence(kiosk_photo("rose_leslie/rose1.jpg"), Challenge.TURN_LEFT, face_engine))
    assert out["status"] == "no_match"
    r = go(kiosk, "/kiosk/register", {"name": "Rose", "birth_year": "1987", "sex": "female", "confirm": "1"})
    assert r.status_code == 302
    [ci] = store.check_ins()
    assert not store.has_consent(ci.patient_id, FACE_ID_PURPOSE) and store.consents(ci.patient_id)
    assert SqlTemplateStore(store).count() == 0


def test_still_photo_fails_liveness_then_falls_back(
    kiosk: FlaskClient, obama_enrolled: Patient, kiosk_photo: Callable[[str], np.ndarray]
) -> None:
    """A still picture held to the camera: not live, a retry with a challenge, and after three
    attempts the ID / QR screen; nobody is checked in."""
    _to_camera(kiosk)
    still = [kiosk_photo("obama/obama2.jpg")] * 8
    for attempt in (1, 2):
        out = _post_frames(kiosk, still)
        assert out["status"] == "not_live" and out["retry"] and out["challenge"]["code"] == "turn_left", out
        assert out["attempts"] == attempt
    out = _post_frames(kiosk, still)
    assert out["next"].endswith("/kiosk/fallback") and not out["retry"]


FRAME_OK = "data:image/jpeg;base64,"


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        ({"frames": "x"}, "frames", "expected a list"),
        ({"frames": ["a"] * 3}, "frames", "expected 6 to 40 pictures, got 3"),
        ({"frames": ["not a url"] * 6}, "frames[0]", "not a JPEG/PNG data URL"),
        ({"frames": [FRAME_OK + "!!!"] * 6}, "frames[0]", "not valid base64"),
        ({"frames": [FRAME_OK + "aGVsbG8="] * 6}, "frames[0]", "cannot be decoded"),
    ],
)
def test_face_endpoint_bad_frames(kiosk: FlaskClient, body: dict, field: str, needle: str) -> None:
    """Malformed bursts are refused with 422 naming the frame or field, before any face work."""
    _to_camera(kiosk)
    r = kiosk.post("/kiosk/api/face", json=body)
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["field"] == field and needle in err["message"], err


def test_face_endpoint_bad_sizes_and_timestamps(kiosk: FlaskClient) -> None:
    """Tiny pictures and backwards timestamps are named; a non-JSON body is a 400 on 'body'."""
    _to_camera(kiosk)
    tiny = data_url(np.zeros((40, 40, 3), np.uint8))
    r = kiosk.post("/kiosk/api/face", json={"frames": [tiny] * 6})
    assert r.status_code == 422 and "40×40" in r.get_json()["error"]["message"]
    ok = data_url(np.zeros((240, 320, 3), np.uint8))
    r = kiosk.post("/kiosk/api/face", json={"frames": [ok] * 6, "timestamps_ms": [5, 4, 3, 2, 1, 0]})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "timestamps_ms"
    r = kiosk.post("/kiosk/api/face", data="frames", content_type="text/plain")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"


def test_face_endpoint_outside_the_camera_step(kiosk: FlaskClient) -> None:
    """Frames posted with no visit, or after choosing the ID card, are refused with where to go."""
    r = kiosk.post("/kiosk/api/face", json={"frames": []})
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "visit"
    start_visit(kiosk)
    go(kiosk, "/kiosk/consent", {"consent": "no_face"})
    r = kiosk.post("/kiosk/api/face", json={"frames": []})
    assert r.status_code == 409 and r.get_json()["error"]["next"].endswith("/kiosk/fallback")


def test_without_biometric_key_face_check_in_is_off(tmp_path: Path, store: Store, kiosk_token: str) -> None:
    """No biometric key configured: no default key is used; the camera screen says face check-in
    is not set up and consent to the camera leads to the ID / QR screen."""
    app = create_app(Settings(data_dir=tmp_path, secret_key="k" * 44), store=store, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False
    assert not kctx(app).face_enabled
    client = app.test_client()
    client.post("/kiosk/activate", data={"token": kiosk_token})
    start_visit(client)
    r = go(client, "/kiosk/consent", {"consent": "face"})
    assert r.headers["Location"].endswith("/kiosk/fallback")
    r = go(client, "/kiosk/fallback", {"id_number": "110105199003070017"})
    assert r.status_code == 422 and "id_number: ID-number check-in is not set up" in r.get_data(as_text=True)


def test_template_deleted_by_the_cli_is_not_matched_any_more(
    app: Flask,
    kiosk: FlaskClient,
    store: Store,
    obama_enrolled: Patient,
    kiosk_photo: Callable[[str], np.ndarray],
    face_engine: FaceEngine,
) -> None:
    """`hospital-ops triage identity delete` removes the template from the store (audit-logged);
    a running kiosk that still has it in memory refuses the match and sends the patient to ID / QR."""
    from typer.testing import CliRunner

    from triage_kiosk.cli import app as cli

    kctx(app).identity()  # the kiosk has loaded its index before the deletion
    url = str(store.engine.url)
    r = CliRunner().invoke(cli, ["identity", "delete", "P-OBAMA", "--actor", "dpo-1", "--database-url", url])
    assert r.exit_code == 0 and "deleted" in r.output, r.output
    assert store.audit_log(action="face.deleted", actor="dpo-1", subject="patient:P-OBAMA")
    _to_camera(kiosk)
    out = _post_frames(kiosk, live_sequence(kiosk_photo("obama/obama2.jpg"), Challenge.TURN_LEFT, face_engine))
    assert out["status"] == "no_match" and out["next"].endswith("/kiosk/fallback"), out
    assert not store.check_ins() and not kctx(app).identity().is_enrolled("P-OBAMA")
