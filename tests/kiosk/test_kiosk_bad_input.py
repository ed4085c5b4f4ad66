"""Bad input on every kiosk form: the same screen again (422), a message naming the field, the
values kept, and nothing already accepted lost."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hospital_ops.domain import Patient
from hospital_ops.store import Store
from tests.kiosk.conftest import QUESTIONS_OK, VITALS_OK, check_in_by_id, go, kctx, start_visit


def _error(r: object, needle: str, *, field_shown: bool = True) -> str:
    """The screen again with the message; the field marked invalid when the screen shows it (a
    crafted post can name a field the screen does not offer: then only the summary names it)."""
    text = r.get_data(as_text=True)  # type: ignore[attr-defined]
    assert r.status_code == 422, text[:1500]  # type: ignore[attr-defined]
    assert needle in text, text[:3000]
    assert 'role="alert"' in text
    assert 'aria-invalid="true"' in text or not field_shown
    return text


def test_consent_must_be_chosen(kiosk: FlaskClient) -> None:
    """No check-in method chosen: the consent screen names the field."""
    start_visit(kiosk)
    _error(go(kiosk, "/kiosk/consent", {}), "consent: choose how you want to check in")
    _error(go(kiosk, "/kiosk/consent", {"consent": "maybe"}), "consent: choose how you want to check in")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({}, "id_number: enter your ID number or scan a QR code"),
        ({"id_number": "123", "qr_token": "HO1.x.y"}, "id_number: enter either an ID number or a QR code"),
        ({"id_number": "12345"}, "id_number: must be 18 characters, got 5"),
        ({"id_number": "110105199003070018"}, "id_number: check character does not match"),
        ({"id_number": "110105199013070017"}, "id_number: birth date"),
        ({"qr_token": "not-a-code"}, "qr_token: not a hospital check-in code"),
        ({"qr_token": "HO1.eyJ4IjoxfQ.AAAA"}, "qr_token: signature is not valid"),
    ],
)
def test_fallback_fields(kiosk: FlaskClient, data: dict[str, str], needle: str) -> None:
    """ID-number and QR problems name their field and the reason; the ID number is not echoed back."""
    start_visit(kiosk)
    go(kiosk, "/kiosk/consent", {"consent": "no_face"})
    text = _error(go(kiosk, "/kiosk/fallback", data), needle)
    if data.get("id_number") and len(data["id_number"]) == 18:
        assert data["id_number"] not in text


def test_expired_qr_code(kiosk: FlaskClient, app: Flask, known_patient: Patient) -> None:
    """An expired QR token is refused with its reason."""
    codec = kctx(app).qr_codec
    assert codec is not None
    token = codec.sign(known_patient.id, now_s=int(kctx(app).clock()) - 3600)
    start_visit(kiosk)
    go(kiosk, "/kiosk/consent", {"consent": "no_face"})
    _error(go(kiosk, "/kiosk/fallback", {"qr_token": token}), "qr_token: code has expired")


def test_qr_code_of_an_unknown_patient(kiosk: FlaskClient, app: Flask) -> None:
    """A well-signed token for a patient id the store does not know is refused, naming the field."""
    codec = kctx(app).qr_codec
    assert codec is not None
    token = codec.sign("P-NOBODY", now_s=int(kctx(app).clock()))
    start_visit(kiosk)
    go(kiosk, "/kiosk/consent", {"consent": "no_face"})
    _error(go(kiosk, "/kiosk/fallback", {"qr_token": token}), "qr_token: this code belongs to no registered patient")


REG_OK = {"name": "Li Lei", "birth_year": "1985", "sex": "female", "confirm": "1"}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"name": ""}, "name: please enter your full name"),
        ({"name": "<script>"}, "name: 1 to 100 characters"),
        ({"birth_year": "abc"}, "birth_year: enter a four-digit year"),
        ({"birth_year": "1800"}, "birth_year: 1800 is not between 1900"),
        ({"sex": "x"}, "sex: choose female, male, other or prefer not to say"),
        ({"phone": "call me"}, "phone: 6 to 20 digits"),
        ({"confirm": ""}, "confirm: please confirm the details are yours"),
        ({"enrol_face": "1"}, "enrol_face: no live camera pictures"),
    ],
)
def test_registration_fields(
    kiosk: FlaskClient, store: Store, other_id_number: str, change: dict[str, str], needle: str
) -> None:
    """Each registration field is checked; the other typed values are shown again; no patient is created."""
    check_in_by_id(kiosk, other_id_number)
    text = _error(
        go(kiosk, "/kiosk/register", {**REG_OK, "phone": "13800138000", **change}),
        needle,
        field_shown="enrol_face" not in change,
    )
    if "name" not in change:
        assert 'value="Li Lei"' in text
    assert not store.check_ins()
    r = go(kiosk, "/kiosk/register", REG_OK)
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/complaint")


def test_registration_with_an_id_number_already_registered(
    kiosk: FlaskClient, store: Store, known_patient: Patient, id_number: str, other_id_number: str
) -> None:
    """An ID number that belongs to a registered patient is refused on that field; no second patient is made."""
    check_in_by_id(kiosk, other_id_number)
    r = go(kiosk, "/kiosk/register", {**REG_OK, "id_number": id_number})
    _error(r, "id_number: this ID number is already registered", field_shown=False)
    assert [p.id for p in [known_patient]] == ["P-KNOWN"] and not store.check_ins()
    assert go(kiosk, "/kiosk/register", REG_OK).status_code == 302


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({}, "complaints: choose at least one complaint or describe it in words"),
        ({"complaints": ["not_a_complaint"]}, "complaints: unknown complaint code"),
        ({"complaint_text": "x" * 501}, "complaint_text: at most 500 characters"),
    ],
)
def test_complaint_fields(
    kiosk: FlaskClient, known_patient: Patient, id_number: str, data: dict[str, object], needle: str
) -> None:
    """A complaint is required, codes must be in the catalogue, free text is bounded."""
    check_in_by_id(kiosk, id_number)
    _error(go(kiosk, "/kiosk/complaint", data), needle)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"onset": ""}, "onset: please answer this question"),
        ({"onset": "99"}, "onset: not one of the choices"),
        ({"pain": ""}, "pain: please answer this question"),
        ({"pain": "11"}, "pain: choose a whole number from 0 to 10"),
        ({"pain": "2.5"}, "pain: choose a whole number from 0 to 10"),
        ({"injury": ""}, "injury: please answer this question"),
        ({"injury": "perhaps"}, "injury: not one of the choices"),
        ({"arrival": ""}, "arrival: please answer this question"),
        ({"arrival": "helicopter"}, "arrival: not one of the choices"),
        ({"mental": ""}, "mental: please answer this question"),
        ({"mental": "asleep"}, "mental: not one of the choices"),
        ({"modifiers": ["nope"]}, "modifiers: unknown question code"),
    ],
)
def test_question_fields(
    kiosk: FlaskClient, known_patient: Patient, id_number: str, change: dict[str, object], needle: str
) -> None:
    """Each question names itself when unanswered or answered with something not offered; the
    complaint already given is kept."""
    check_in_by_id(kiosk, id_number)
    go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"]})
    _error(go(kiosk, "/kiosk/questions", {**QUESTIONS_OK, **change}), needle)  # type: ignore[arg-type]
    assert 'value="sore_throat" checked' in kiosk.get("/kiosk/complaint").get_data(as_text=True)


def test_age_and_pregnancy_are_asked_when_needed(kiosk: FlaskClient, other_id_number: str, store: Store) -> None:
    """A patient of child-bearing age is asked about pregnancy (required); a male answering yes is refused."""
    check_in_by_id(kiosk, other_id_number)
    go(kiosk, "/kiosk/register", {**REG_OK, "sex": "female"})
    go(kiosk, "/kiosk/complaint", {"complaints": ["abdominal_pain"]})
    page = kiosk.get("/kiosk/questions").get_data(as_text=True)
    assert 'name="pregnant"' in page
    _error(go(kiosk, "/kiosk/questions", QUESTIONS_OK), "pregnant: please answer this question")
    r = go(kiosk, "/kiosk/questions", {**QUESTIONS_OK, "pregnant": "yes"})
    assert r.status_code == 302


def test_male_cannot_be_pregnant(kiosk: FlaskClient, other_id_number: str) -> None:
    """Pregnancy 'yes' for a male patient names the field."""
    check_in_by_id(kiosk, other_id_number)
    go(kiosk, "/kiosk/register", {**REG_OK, "sex": "male"})
    go(kiosk, "/kiosk/complaint", {"complaints": ["abdominal_pain"]})
    r = go(kiosk, "/kiosk/questions", {**QUESTIONS_OK, "pregnant": "yes"})
    _error(r, "pregnant: cannot be yes for a male patient", field_shown=False)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"heart_rate": "fast"}, "heart_rate: must be a number"),
        ({"resp_rate": "90"}, "resp_rate: 90 is outside the possible range 0–80"),
        ({"systolic_bp": "-5"}, "systolic_bp: -5 is outside the possible range"),
        ({"diastolic_bp": "140"}, "diastolic_bp: must be lower than the systolic pressure"),
        ({"temperature_c": "50"}, "temperature_c: 50 is outside the possible range 20–45"),
        ({"spo2": "nan"}, "spo2: must be a number"),
        ({"source": "guess"}, "source: choose staff or device"),
    ],
)
def test_vital_fields(
    kiosk: FlaskClient, known_patient: Patient, id_number: str, store: Store, change: dict[str, str], needle: str
) -> None:
    """Each vital sign is range-checked by name; nothing is stored until all are acceptable."""
    check_in_by_id(kiosk, id_number)
    go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"]})
    go(kiosk, "/kiosk/questions", QUESTIONS_OK)
    _error(go(kiosk, "/kiosk/vitals", {**VITALS_OK, **change}), needle)
    assert not store.triage_results()


def test_empty_vitals_are_flagged_not_assumed_normal(
    kiosk: FlaskClient, known_patient: Patient, id_number: str, store: Store
) -> None:
    """No vital signs typed: the result lists them as still to be measured."""
    check_in_by_id(kiosk, id_number)
    go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"]})
    go(kiosk, "/kiosk/questions", QUESTIONS_OK)
    r = go(kiosk, "/kiosk/vitals", {"source": "staff"})
    assert r.status_code == 302
    [tr] = store.triage_results()
    assert "spo2" in tr.result.missing
    assert "Staff will still measure or ask" in kiosk.get("/kiosk/result").get_data(as_text=True)


def test_device_vitals_json_errors(kiosk: FlaskClient, known_patient: Patient, id_number: str) -> None:
    """The device endpoint names the bad field (unknown name, out of range, not JSON, no visit)."""
    assert kiosk.post("/kiosk/api/vitals", json={"spo2": 95}).status_code == 409
    check_in_by_id(kiosk, id_number)
    r = kiosk.post("/kiosk/api/vitals", json={"pulse": 80})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "pulse"
    r = kiosk.post("/kiosk/api/vitals", json={"spo2": 130})
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["field"] == "spo2" and "outside the possible range" in err["message"]
    r = kiosk.post("/kiosk/api/vitals", data="x", content_type="text/plain")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"


def test_post_without_a_visit_says_start_again(kiosk: FlaskClient) -> None:
    """A form posted after the visit expired or finished asks to start again instead of failing."""
    r = go(kiosk, "/kiosk/vitals", VITALS_OK)
    assert r.status_code == 409 and "Please start again" in r.get_data(as_text=True)


def test_messages_in_chinese_name_the_field(kiosk: FlaskClient, known_patient: Patient, id_number: str) -> None:
    """On the Chinese screens a message names the field in Chinese, with its code."""
    check_in_by_id(kiosk, id_number)
    go(kiosk, "/kiosk/complaint", {"complaints": ["sore_throat"]})
    r = kiosk.post("/kiosk/questions?lang=zh", data={**QUESTIONS_OK, "onset": ""})
    assert r.status_code == 422 and "发病时间（onset）：请回答此问题" in r.get_data(as_text=True)
