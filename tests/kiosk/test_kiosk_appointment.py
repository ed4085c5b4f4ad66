"""A booked outpatient checks in for today's Appointment at the kiosk (issue 9, "Kiosk and twin"):
the Appointment (posted by the HIS through /fhir) becomes ``arrived`` in the store as soon as the
patient is identified, the screen names the department, where it is and the hospital's "pay later"
(credit care) status in English and Chinese; no payment is taken. Feeling worse leads through
triage, a red-flag symptom is triaged and escalated at once; a walk-in's flow is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from hospital_ops.domain import CheckInMethod, Patient
from hospital_ops.store import Store
from hospital_ops.store import orders as so
from tests.fhir.conftest import NOW_S, appointment, patient
from tests.kiosk.conftest import (
    KIOSK_ID,
    QUESTIONS_OK,
    VITALS_OK,
    check_in_by_id,
    data_url,
    go,
    kctx,
    send,
    start_visit,
)

#: The day after the campus clock's day.
TOMORROW = "2026-11-27T08:00:00Z"


@pytest.fixture(autouse=True)
def campus_clock(app: Flask) -> None:
    """Kiosk and FHIR intake on the campus clock of the FHIR tests (2026-11-26 08:00 UTC)."""
    kctx(app).clock = lambda: float(NOW_S)
    app.extensions["hospital_ops"].clock = lambda: float(NOW_S)


def only_appointment(store: Store) -> so.AppointmentRecord:
    [appt] = so.list_appointments(store)
    return appt


def text(client: FlaskClient, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.headers.get("Location"))
    return r.get_data(as_text=True)


def test_booked_patient_by_id_is_checked_in_for_the_appointment(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """ID-number check-in of a patient with a cardiology appointment today: the Appointment is
    arrived in the store (and audited) before the page answers, the check-in refers to it, and
    the screen names the department, where it is and "pay later: approved" in English and Chinese."""
    send(
        app,
        his,
        patient(known_patient.mrn, credit_care=True, name=known_patient.name),
        appointment("AP-1", mrn=known_patient.mrn, service="cardiology"),
    )
    assert only_appointment(store).status == "booked"
    r = check_in_by_id(kiosk, id_number)
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/appointment")
    appt = only_appointment(store)
    assert appt.status == "arrived" and appt.arrived_at is not None and appt.patient_id == known_patient.id
    [ci] = store.check_ins(patient_id=known_patient.id)
    assert ci.method is CheckInMethod.ID_NUMBER and ci.appointment_id == appt.id
    [entry] = store.audit_log(action="fhir.appointment.arrived")
    assert entry.actor == KIOSK_ID and entry.subject == f"Appointment:{appt.id}"

    en = text(kiosk, "/kiosk/appointment?lang=en")
    assert "You are checked in for your appointment" in en
    assert "Cardiology Clinic" in en and 'data-location="OP-03-CARD"' in en
    assert "Outpatient Building, floor 3" in en
    assert "Pay later: approved" in en and 'data-credit-care="yes"' in en
    assert "No payment is taken at this kiosk." in en
    assert "already" not in en.lower()
    zh = text(kiosk, "/kiosk/appointment?lang=zh")
    assert "您已完成预约签到" in zh and "心内科门诊" in zh and "门诊楼3楼" in zh
    assert "先诊疗后付费：已开通" in zh

    # no worse, no red flag: straight to the appointment, no triage questions
    r = go(kiosk, "/kiosk/appointment", {"feeling": "as_booked"})
    assert r.headers["Location"].endswith("/kiosk/appointment")
    page = text(kiosk, "/kiosk/appointment?lang=en")
    assert "You can go to your appointment now." in page and 'id="finish"' in page
    assert 'name="feeling" value="worse"' in page  # still possible to ask to be seen
    assert kiosk.get("/kiosk/complaint").headers["Location"].endswith("/kiosk/appointment")
    assert not store.triage_results(patient_id=known_patient.id)
    assert store.audit_log(action="kiosk.appointment_answer", subject=f"Appointment:{appt.id}")
    assert go(kiosk, "/kiosk/finish").headers["Location"].endswith("/kiosk/")


def test_patient_not_enrolled_in_pay_later_by_qr_code(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """A patient known only from the HIS checks in with the app's QR code: arrived, and the
    screen says pay later is not enrolled, pay at the desk after the visit (en and zh)."""
    send(app, his, patient("M-8", credit_care=False), appointment("AP-8", mrn="M-8", service="cardiology"))
    codec = kctx(app).qr_codec
    assert codec is not None
    start_visit(kiosk)
    go(kiosk, "/kiosk/consent", {"consent": "no_face"})
    r = go(kiosk, "/kiosk/fallback", {"qr_token": codec.sign("P-M-8", now_s=NOW_S)})
    assert r.headers["Location"].endswith("/kiosk/appointment")
    assert only_appointment(store).status == "arrived"
    en = text(kiosk, "/kiosk/appointment?lang=en")
    assert "Pay later: not enrolled — please pay at the desk after your visit" in en
    assert 'data-credit-care="no"' in en
    zh = text(kiosk, "/kiosk/appointment?lang=zh")
    assert "先诊疗后付费：未开通——请在就诊后到收费处缴费" in zh


def test_patient_without_an_appointment_follows_the_usual_flow(
    kiosk: FlaskClient, store: Store, known_patient: Patient, id_number: str
) -> None:
    """No appointment: on to the complaint screen as before, the check-in names no appointment,
    the appointment screen is not reachable, and the result page has no appointment panel."""
    r = check_in_by_id(kiosk, id_number)
    assert r.headers["Location"].endswith("/kiosk/complaint")
    [ci] = store.check_ins(patient_id=known_patient.id)
    assert ci.appointment_id is None
    assert kiosk.get("/kiosk/appointment").headers["Location"].endswith("/kiosk/complaint")
    go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"]})
    go(kiosk, "/kiosk/questions", QUESTIONS_OK)
    assert go(kiosk, "/kiosk/vitals", VITALS_OK).headers["Location"].endswith("/kiosk/result")
    page = text(kiosk, "/kiosk/result")
    assert 'id="level"' in page and 'id="appointment"' not in page
    assert not store.audit_log(action="fhir.appointment.arrived")


def test_appointment_on_another_day_is_not_checked_in(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """An appointment booked for tomorrow stays booked; today the patient is a walk-in."""
    send(app, his, appointment("AP-2", mrn=known_patient.mrn, start=TOMORROW))
    r = check_in_by_id(kiosk, id_number)
    assert r.headers["Location"].endswith("/kiosk/complaint")
    assert only_appointment(store).status == "booked"


def test_second_check_in_says_already_checked_in(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """Checking in again for the same appointment is no error: the screen says it was already
    checked in, the appointment is arrived once (one audit entry)."""
    send(app, his, appointment("AP-3", mrn=known_patient.mrn, service="cardiology"))
    check_in_by_id(kiosk, id_number)
    first = only_appointment(store)
    go(kiosk, "/kiosk/finish")
    r = check_in_by_id(kiosk, id_number)
    assert r.headers["Location"].endswith("/kiosk/appointment")
    page = text(kiosk, "/kiosk/appointment?lang=en")
    assert "You were already checked in for this appointment." in page and "Cardiology Clinic" in page
    assert "您已签到过本次预约" in text(kiosk, "/kiosk/appointment?lang=zh")
    again = only_appointment(store)
    assert again.status == "arrived" and again.arrived_at == first.arrived_at
    assert len(store.audit_log(action="fhir.appointment.arrived")) == 1
    assert [c.appointment_id for c in store.check_ins(patient_id=known_patient.id)] == [first.id, first.id]


def test_feeling_worse_goes_through_triage_and_keeps_the_appointment(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """A booked patient who feels worse answers the triage screens; the result shows the triage
    outcome and, below it, the appointment they are checked in for."""
    send(app, his, appointment("AP-4", mrn=known_patient.mrn, service="cardiology"))
    check_in_by_id(kiosk, id_number)
    r = go(kiosk, "/kiosk/appointment", {"feeling": "worse"})
    assert r.headers["Location"].endswith("/kiosk/complaint")
    go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"]})
    go(kiosk, "/kiosk/questions", QUESTIONS_OK)
    assert go(kiosk, "/kiosk/vitals", VITALS_OK).headers["Location"].endswith("/kiosk/result")
    [tr] = store.triage_results(patient_id=known_patient.id)
    [ci] = store.check_ins(patient_id=known_patient.id)
    assert tr.check_in_id == ci.id and ci.appointment_id == only_appointment(store).id
    page = text(kiosk, "/kiosk/result?lang=en")
    assert 'id="level"' in page and "You are checked in for your appointment" in page
    assert "Cardiology Clinic" in page and "Your appointment is kept" in page


def test_red_flag_on_the_appointment_screen_is_triaged_and_escalated_at_once(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """Chest pain now, ticked on the appointment screen (even with "go to my appointment"): a
    triage result is stored, the red-flag alert is raised and the screen says a nurse is coming."""
    send(app, his, appointment("AP-5", mrn=known_patient.mrn, service="cardiology"))
    check_in_by_id(kiosk, id_number)
    page = text(kiosk, "/kiosk/appointment")
    assert 'value="chest_pain_now"' in page and 'value="anticoagulant"' not in page  # red flags only
    r = go(kiosk, "/kiosk/appointment", {"feeling": "as_booked", "modifiers": ["chest_pain_now"]})
    assert r.headers["Location"].endswith("/kiosk/result")
    [tr] = store.triage_results(patient_id=known_patient.id)
    assert tr.result.escalate and int(tr.result.level) <= 2
    assert "chest_pain_reported" in [reason.code for reason in tr.result.reasons]
    [alert] = store.list_alerts(kind="triage.red_flag")
    assert alert.subject == f"patient:{known_patient.id}"
    assert tr.check_in_id == store.check_ins(patient_id=known_patient.id)[0].id
    page = text(kiosk, "/kiosk/result?lang=en")
    assert "A nurse is coming to you now" in page and "A nurse will see you first" in page
    assert only_appointment(store).status == "arrived"


def test_bad_answers_on_the_appointment_screen_name_the_field(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """No choice, an unknown choice or an unknown question code: 422, a message naming the field
    (en and zh), ticked boxes kept, nothing decided."""
    send(app, his, appointment("AP-6", mrn=known_patient.mrn))
    check_in_by_id(kiosk, id_number)
    r = go(kiosk, "/kiosk/appointment", {})
    assert r.status_code == 422 and "feeling: choose" in r.get_data(as_text=True)
    r = go(kiosk, "/kiosk/appointment?lang=zh", {})
    assert r.status_code == 422 and "感觉：请选择" in r.get_data(as_text=True)
    r = go(kiosk, "/kiosk/appointment?lang=en", {"feeling": "maybe"})
    assert r.status_code == 422 and "feeling: not one of the choices" in r.get_data(as_text=True)
    r = go(kiosk, "/kiosk/appointment", {"feeling": "as_booked", "modifiers": ["anticoagulant"]})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "modifiers: unknown question code" in body
    r = go(kiosk, "/kiosk/appointment", {"modifiers": ["vision_loss"]})
    assert r.status_code == 422 and 'value="vision_loss" checked' in r.get_data(as_text=True)
    assert not store.triage_results(patient_id=known_patient.id) and not store.list_alerts()
    assert kiosk.get("/kiosk/complaint").headers["Location"].endswith("/kiosk/appointment")


def test_booked_patient_checked_in_by_face_goes_to_the_appointment(
    app: Flask,
    kiosk: FlaskClient,
    store: Store,
    his: dict[str, str],
    kiosk_photo: Callable[[str], np.ndarray],
    face_engine: Any,
) -> None:
    """Face check-in (real dlib) of an enrolled patient with an appointment today: arrived, and
    the camera step sends the screen to the appointment, not the complaint."""
    from triage_kiosk.identity import Challenge, Consent
    from triage_kiosk.identity.synthetic import live_sequence

    send(app, his, patient("M-OB", credit_care=True, name="Barack"), appointment("AP-7", mrn="M-OB"))
    consent = Consent("P-M-OB", "face-id-2026-11", datetime.now(UTC), "self", "desk")
    kctx(app).identity().enrol("P-M-OB", [kiosk_photo("obama/obama1.jpg")], consent, actor="nurse-1")
    start_visit(kiosk)
    assert go(kiosk, "/kiosk/consent", {"consent": "face"}).headers["Location"].endswith("/kiosk/camera")
    frames = live_sequence(kiosk_photo("obama/obama2.jpg"), Challenge.TURN_LEFT, face_engine)
    times = [i * 100 for i in range(len(frames))]
    r = kiosk.post("/kiosk/api/face", json={"frames": [data_url(f) for f in frames], "timestamps_ms": times})
    out = r.get_json()
    assert r.status_code == 200 and out["status"] == "matched" and out["next"].endswith("/kiosk/appointment"), out
    assert only_appointment(store).status == "arrived"
    [ci] = store.check_ins(patient_id="P-M-OB")
    assert ci.method is CheckInMethod.FACE and ci.appointment_id == only_appointment(store).id
    assert "Pay later: approved" in text(kiosk, "/kiosk/appointment?lang=en")
