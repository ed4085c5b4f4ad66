"""REST endpoints for check-ins and triage results: roles, happy paths, bad input by field."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hospital_ops.domain import Patient
from hospital_ops.store import Store
from tests.kiosk.conftest import bearer


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    return {
        role: store.issue_device_token(f"dev-{role}", role, actor="test")[0]
        for role in ("kiosk", "bridge", "system", "operations_manager", "admin", "ward_staff")
    }


def test_check_in_roles(app: Flask, tokens: dict[str, str], known_patient: Patient) -> None:
    """Kiosks and admins create check-ins; operations managers and admins read them; others get 403; anonymous 401."""
    c = app.test_client()
    body = {"patient_id": known_patient.id, "method": "staff"}
    assert c.post("/api/v1/checkins", json=body).status_code == 401
    for role, code in (("bridge", 403), ("ward_staff", 403), ("kiosk", 201), ("admin", 201)):
        assert c.post("/api/v1/checkins", json=body, headers=bearer(tokens[role])).status_code == code, role
    for role, code in (("kiosk", 403), ("operations_manager", 200), ("admin", 200)):
        assert c.get("/api/v1/checkins", headers=bearer(tokens[role])).status_code == code, role


def test_check_in_created_and_listed(app: Flask, store: Store, tokens: dict[str, str], known_patient: Patient) -> None:
    """A created check-in is in the store before the 201 and is listed newest first, filtered by patient."""
    c = app.test_client()
    r = c.post(
        "/api/v1/checkins",
        json={"patient_id": known_patient.id, "method": "qr", "appointment_id": "A-1"},
        headers=bearer(tokens["kiosk"]),
    )
    assert r.status_code == 201
    data = r.get_json()
    assert data["kiosk_id"] == "dev-kiosk" and data["method"] == "qr"
    assert store.get_check_in(data["id"]).appointment_id == "A-1"
    listed = c.get(f"/api/v1/checkins?patient_id={known_patient.id}", headers=bearer(tokens["operations_manager"]))
    assert [x["id"] for x in listed.get_json()] == [data["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "qr"}, "patient_id"),
        ({"patient_id": "P-NOBODY", "method": "qr"}, "patient_id"),
        ({"patient_id": 7, "method": "qr"}, "patient_id"),
        ({"patient_id": "P-KNOWN", "method": "telepathy"}, "method"),
        ({"patient_id": "P-KNOWN", "method": "qr", "at_s": -1}, "at_s"),
        ({"patient_id": "P-KNOWN", "method": "qr", "at_s": "now"}, "at_s"),
        ({"patient_id": "P-KNOWN", "method": "qr", "kiosk_id": ""}, "kiosk_id"),
    ],
)
def test_check_in_bad_fields(
    app: Flask, tokens: dict[str, str], known_patient: Patient, body: dict[str, Any], field: str
) -> None:
    """Each bad field answers 422 naming it."""
    r = app.test_client().post("/api/v1/checkins", json=body, headers=bearer(tokens["kiosk"]))
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["field"] == field and err["message"].startswith(field), err


def test_check_in_duplicate_id_and_bad_body(app: Flask, tokens: dict[str, str], known_patient: Patient) -> None:
    """A repeated client id is a 409 on 'id'; a non-JSON body is a 400 on 'body'; a bad limit is named."""
    c = app.test_client()
    body = {"id": "C-1", "patient_id": known_patient.id, "method": "staff"}
    assert c.post("/api/v1/checkins", json=body, headers=bearer(tokens["kiosk"])).status_code == 201
    r = c.post("/api/v1/checkins", json=body, headers=bearer(tokens["kiosk"]))
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "id"
    r = c.post("/api/v1/checkins", data="x", content_type="text/plain", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"
    r = c.get("/api/v1/checkins?limit=0", headers=bearer(tokens["admin"]))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "limit"


def test_triage_created_with_alert_and_listed(
    app: Flask, store: Store, tokens: dict[str, str], known_patient: Patient
) -> None:
    """A triage request is assessed, stored with its vitals, and a red flag raises a critical
    alert before the 201; operations managers list it."""
    c = app.test_client()
    ci = c.post(
        "/api/v1/checkins", json={"patient_id": known_patient.id, "method": "staff"}, headers=bearer(tokens["kiosk"])
    )
    body = {
        "patient_id": known_patient.id,
        "check_in_id": ci.get_json()["id"],
        "complaints": ["chest_pain"],
        "pain": 7,
        "mental": "alert",
        "arrival": "walk_in",
        "injury": False,
        "onset_hours": 1,
        "vitals": {"spo2": 89, "heart_rate": 120, "systolic_bp": 100, "diastolic_bp": 60},
    }
    r = c.post("/api/v1/triage", json=body, headers=bearer(tokens["kiosk"]))
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    assert data["escalate"] and data["level"] <= 2 and data["alert_id"] is not None and data["queue"]
    assert any("SpO2" in x["en"] for x in data["reasons"])
    [alert] = store.list_alerts(kind="triage.red_flag")
    assert alert.id == data["alert_id"]
    [rec] = store.triage_results(patient_id=known_patient.id)
    assert rec.vitals is not None and rec.vitals.spo2 == 89
    listed = c.get("/api/v1/triage", headers=bearer(tokens["operations_manager"])).get_json()
    assert listed[0]["id"] == rec.id and listed[0]["vitals"]["spo2"] == 89
    assert c.get("/api/v1/triage", headers=bearer(tokens["kiosk"])).status_code == 403
    assert c.post("/api/v1/triage", json=body, headers=bearer(tokens["bridge"])).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient_id": None}, "patient_id"),
        ({"patient_id": "P-NOBODY"}, "patient_id"),
        ({"mental": "sleepy"}, "mental"),
        ({"arrival": "boat"}, "arrival"),
        ({"sex": "robot"}, "sex"),
        ({"complaints": ["nope"]}, "complaints"),
        ({"complaints": "chest_pain"}, "complaints"),
        ({"modifiers": ["nope"]}, "modifiers"),
        ({"pain": 11}, "pain"),
        ({"onset_hours": -2}, "onset_hours"),
        ({"injury": "yes"}, "injury"),
        ({"age": 200}, "age"),
        ({"vitals": {"spo2": 140}}, "vitals.spo2"),
        ({"vitals": {"heart_rate": "fast"}}, "vitals.heart_rate"),
        ({"vitals": []}, "vitals"),
        ({"check_in_id": "C-NONE"}, "check_in_id"),
        ({"sex": "male", "pregnant": True}, "pregnant"),
    ],
)
def test_triage_bad_fields(
    app: Flask, tokens: dict[str, str], known_patient: Patient, store: Store, change: dict[str, Any], field: str
) -> None:
    """Each bad field answers 422 naming it, and nothing is stored."""
    body = {"patient_id": known_patient.id, "complaints": ["sore_throat"], **change}
    r = app.test_client().post("/api/v1/triage", json=body, headers=bearer(tokens["kiosk"]))
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["field"] == field, err
    assert not store.triage_results()
