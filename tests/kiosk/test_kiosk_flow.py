"""The kiosk screens end to end in the Flask test client: activation and roles, the ID / QR
check-in, registration, complaint, questions, vitals, result, the red-flag alert."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from hospital_ops.domain import CheckInMethod, Patient
from hospital_ops.store import Store
from ops_dashboard.extensions import socketio
from tests.kiosk.conftest import (
    KIOSK_ID,
    QUESTIONS_OK,
    VITALS_OK,
    check_in_by_id,
    go,
    kctx,
    login,
    start_visit,
)


def test_anonymous_browser_is_sent_to_activation(app: Flask) -> None:
    """Without a kiosk session every screen leads to the activation page."""
    client = app.test_client()
    for path in ("/kiosk/", "/kiosk/consent", "/kiosk/result"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/activate"), path
    page = client.get("/kiosk/activate")
    assert page.status_code == 200 and b'name="token"' in page.data and b"<label" in page.data


def test_activation_refuses_a_wrong_or_non_kiosk_token(app: Flask, store: Store) -> None:
    """A bad token, or a valid token of another device kind, does not open the kiosk; the refusal names the field and is audited."""
    bridge, _ = store.issue_device_token("ros-bridge", "bridge", actor="test")
    client = app.test_client()
    for token in ("nope", bridge, ""):
        r = client.post("/kiosk/activate", data={"token": token})
        assert r.status_code == 401
        assert b"token: not a valid kiosk device token" in r.data
    assert client.get("/kiosk/").status_code == 302
    assert store.audit_log(action="kiosk.activate_failed")


def test_kiosk_token_opens_a_session_for_that_kiosk(kiosk: FlaskClient, store: Store) -> None:
    """A kiosk token turns into a session for that kiosk: the start screen shows, activation is audited."""
    r = kiosk.get("/kiosk/")
    assert r.status_code == 200
    assert b'id="start"' in r.data and b'<html lang="en"' in r.data
    assert store.audit_log(action="kiosk.activate", actor=KIOSK_ID)


def test_staff_roles_other_than_admin_may_not_use_the_kiosk(app: Flask) -> None:
    """The kiosk screens and JSON endpoints are for kiosk devices (and admins), not ward staff."""
    client = app.test_client()
    login(client, "ward_staff")
    assert client.get("/kiosk/").status_code == 403
    r = client.post("/kiosk/api/face", json={"frames": []})
    assert r.status_code == 403 and r.get_json()["error"]["status"] == 403
    admin = app.test_client()
    login(admin, "admin")
    assert admin.get("/kiosk/").status_code == 200


def test_json_endpoints_answer_401_when_anonymous(app: Flask) -> None:
    """The kiosk's JSON endpoints answer JSON 401, never a login page."""
    client = app.test_client()
    for path in ("/kiosk/api/face", "/kiosk/api/vitals"):
        r = client.post(path, json={})
        assert r.status_code == 401 and "error" in r.get_json()


def test_language_switch_renders_chinese(kiosk: FlaskClient) -> None:
    """?lang=zh shows the screens in Chinese with lang="zh-CN", and a link back to English."""
    r = kiosk.get("/kiosk/?lang=zh")
    text = r.get_data(as_text=True)
    assert '<html lang="zh-CN"' in text and "开始" in text and 'lang="en"' in text
    assert "English" in text
    r2 = kiosk.get("/kiosk/")  # the cookie keeps the choice
    assert "开始" in r2.get_data(as_text=True)


def test_screens_follow_the_visit(kiosk: FlaskClient) -> None:
    """A screen ahead of the visit redirects to where the visit is; no visit means the start screen."""
    assert kiosk.get("/kiosk/vitals").headers["Location"].endswith("/kiosk/")
    start_visit(kiosk)
    assert kiosk.get("/kiosk/vitals").headers["Location"].endswith("/kiosk/consent")
    assert kiosk.get("/kiosk/result").headers["Location"].endswith("/kiosk/consent")
    assert kiosk.get("/kiosk/consent").status_code == 200


def test_known_patient_by_id_number_gets_a_persisted_result(
    kiosk: FlaskClient, store: Store, known_patient: Patient, id_number: str
) -> None:
    """ID-number check-in, complaint, questions, vitals: the check-in and the result are in the
    store when the result screen shows level, reasons, destination and queue number."""
    r = check_in_by_id(kiosk, id_number)
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/complaint")
    [ci] = store.check_ins(patient_id=known_patient.id)
    assert ci.method is CheckInMethod.ID_NUMBER and ci.kiosk_id == KIOSK_ID
    page = kiosk.get("/kiosk/complaint").get_data(as_text=True)
    assert 'value="sore_throat"' in page or "complaints" in page
    r = go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"], "complaint_text": ""})
    assert r.headers["Location"].endswith("/kiosk/questions")
    r = go(kiosk, "/kiosk/questions", QUESTIONS_OK)
    assert r.headers["Location"].endswith("/kiosk/vitals"), r.get_data(as_text=True)[:2000]
    r = go(kiosk, "/kiosk/vitals", VITALS_OK)
    assert r.headers["Location"].endswith("/kiosk/result"), r.get_data(as_text=True)[:3000]
    [tr] = store.triage_results(patient_id=known_patient.id)
    assert tr.check_in_id == ci.id and tr.vitals is not None and tr.vitals.spo2 == 98
    page = kiosk.get("/kiosk/result").get_data(as_text=True)
    assert f'id="level">{int(tr.result.level)}<' in page
    assert 'id="queue"' in page and 'id="reasons"' in page
    assert "nurse-coming" not in page
    assert not store.list_alerts(kind="triage.red_flag")
    # finishing forgets the visit
    assert go(kiosk, "/kiosk/finish").headers["Location"].endswith("/kiosk/")
    assert kiosk.get("/kiosk/result").headers["Location"].endswith("/kiosk/")


def test_red_flag_shows_nurse_coming_and_alerts_staff_live(
    app: Flask, kiosk: FlaskClient, store: Store, known_patient: Patient, id_number: str
) -> None:
    """Chest pain with low SpO2: the screen says a nurse is coming, a critical alert is in the
    store and pushed on the /ops live channel to a signed-in staff client."""
    staff = app.test_client()
    login(staff, "operations_manager")
    live = socketio.test_client(app, namespace="/ops", flask_test_client=staff)
    assert live.is_connected("/ops")
    check_in_by_id(kiosk, id_number)
    go(kiosk, "/kiosk/complaint", {"complaints": ["chest_pain"]})
    go(kiosk, "/kiosk/questions", {**QUESTIONS_OK, "pain": "8", "onset": "0.5"})
    r = go(kiosk, "/kiosk/vitals", {**VITALS_OK, "spo2": "86", "heart_rate": "128"})
    assert r.headers["Location"].endswith("/kiosk/result")
    page = kiosk.get("/kiosk/result").get_data(as_text=True)
    assert "A nurse is coming to you now" in page and "护士马上就来" in page and 'role="alert"' in page
    [alert] = store.list_alerts(kind="triage.red_flag")
    assert alert.subject == f"patient:{known_patient.id}" and alert.severity.value == "critical"
    events = [e for e in live.get_received("/ops") if e["name"] == "alert"]
    assert events and events[-1]["args"][0]["id"] == alert.id
    [tr] = store.triage_results(patient_id=known_patient.id)
    assert tr.result.escalate and int(tr.result.level) <= 2


def test_unknown_id_number_is_offered_registration(
    kiosk: FlaskClient, store: Store, app: Flask, other_id_number: str
) -> None:
    """An ID number nobody has: registration (birth year and sex prefilled from the number), then
    a new patient with the hashed number is checked in."""
    r = check_in_by_id(kiosk, other_id_number)
    assert r.headers["Location"].endswith("/kiosk/register")
    page = kiosk.get("/kiosk/register").get_data(as_text=True)
    assert 'value="1985"' in page and "enrol_face" not in page  # no camera frames: no face enrolment offered
    r = go(kiosk, "/kiosk/register", {"name": "Li Lei", "birth_year": "1985", "sex": "female", "confirm": "1"})
    assert r.headers["Location"].endswith("/kiosk/complaint"), r.get_data(as_text=True)[:2000]
    hasher = kctx(app).id_hasher
    assert hasher is not None
    patient = store.find_patient(id_number_hash=hasher.hash(other_id_number))
    assert patient is not None and patient.name == "Li Lei" and patient.birth_year == 1985
    [ci] = store.check_ins(patient_id=patient.id)
    assert ci.method is CheckInMethod.ID_NUMBER


def test_qr_code_checks_in_once(kiosk: FlaskClient, store: Store, app: Flask, known_patient: Patient) -> None:
    """A signed QR token from the hospital app checks the patient in; the same token again is refused."""
    codec = kctx(app).qr_codec
    assert codec is not None
    token = codec.sign(known_patient.id, now_s=int(kctx(app).clock()))
    start_visit(kiosk)
    go(kiosk, "/kiosk/consent", {"consent": "no_face"})
    r = go(kiosk, "/kiosk/fallback", {"qr_token": token})
    assert r.headers["Location"].endswith("/kiosk/complaint")
    [ci] = store.check_ins(patient_id=known_patient.id)
    assert ci.method is CheckInMethod.QR
    start_visit(kiosk)
    go(kiosk, "/kiosk/consent", {"consent": "no_face"})
    r = go(kiosk, "/kiosk/fallback", {"qr_token": token})
    assert r.status_code == 422 and "qr_token: this code was already used" in r.get_data(as_text=True)


def test_device_pushes_vitals_into_the_visit(kiosk: FlaskClient, known_patient: Patient, id_number: str) -> None:
    """A measuring device posts vitals as JSON; the vitals screen shows them for staff to confirm."""
    check_in_by_id(kiosk, id_number)
    go(kiosk, "/kiosk/complaint", {"complaint_text": "cough"})
    go(kiosk, "/kiosk/questions", QUESTIONS_OK)
    r = kiosk.post("/kiosk/api/vitals", json={"spo2": 97, "heart_rate": 81})
    assert r.status_code == 200 and r.get_json()["accepted"] == {"spo2": 97.0, "heart_rate": 81.0}
    page = kiosk.get("/kiosk/vitals").get_data(as_text=True)
    assert 'value="97"' in page and 'value="81"' in page


def test_rejected_step_keeps_what_was_accepted(
    kiosk: FlaskClient, known_patient: Patient, id_number: str, store: Store
) -> None:
    """Bad vitals after good answers: the vitals screen names the field and keeps the typed values;
    going back shows the complaint and answers as given; the check-in stays one check-in."""
    check_in_by_id(kiosk, id_number)
    go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"], "complaint_text": "since Monday"})
    go(kiosk, "/kiosk/questions", QUESTIONS_OK)
    r = go(kiosk, "/kiosk/vitals", {**VITALS_OK, "spo2": "180", "heart_rate": "77"})
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "spo2: 180 is outside the possible range 0–100" in text and 'value="77"' in text and 'value="180"' in text
    page = kiosk.get("/kiosk/complaint").get_data(as_text=True)
    assert "since Monday" in page and 'value="sore_throat" checked' in page
    page = kiosk.get("/kiosk/questions").get_data(as_text=True)
    assert 'value="walk_in" checked' in page
    assert len(store.check_ins(patient_id=known_patient.id)) == 1
    assert not store.triage_results(patient_id=known_patient.id)
    r = go(kiosk, "/kiosk/vitals", VITALS_OK)
    assert r.headers["Location"].endswith("/kiosk/result")
