"""A fresh app over a fresh SQLite store per test, a token per role, and FHIR resource builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from hospital_ops.config import Settings
from hospital_ops.fhir.tables import MappingTables, default_tables
from hospital_ops.store import Store
from ops_dashboard import create_app
from ops_dashboard.auth import ALL_ROLES, STAFF_ROLES

PASSWORD = "correct horse battery"
MRN = "https://hospital.example/fhir/sid/mrn"
ORDER = "https://hospital.example/fhir/sid/order"
APPT = "https://hospital.example/fhir/sid/appointment"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"
#: Campus clock of the tests (2026-11-26 08:00:00 UTC).
NOW_S = 1_795_680_000
NOW = "2026-11-26T08:00:00Z"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(
        f"sqlite:///{tmp_path / 'fhir.sqlite3'}", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    yield s
    s.close()


@pytest.fixture
def app(store: Store, tmp_path: Path) -> Flask:
    settings = Settings(data_dir=tmp_path, secret_key="k" * 44)
    app = create_app(settings, store=store, testing=True, clock=lambda: float(NOW_S))
    app.config["WTF_CSRF_ENABLED"] = False
    for role in STAFF_ROLES:
        store.add_user(f"{role}1", role, PASSWORD, actor="test")
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    return {role: store.issue_device_token(f"dev-{role}", role, actor="test")[0] for role in ALL_ROLES}


@pytest.fixture
def his(tokens: dict[str, str]) -> dict[str, str]:
    """Headers of the hospital information system."""
    return {"Authorization": f"Bearer {tokens['his']}", "Content-Type": "application/fhir+json"}


@pytest.fixture(scope="session")
def tables() -> MappingTables:
    return default_tables()


def lab_order(
    number: str,
    *,
    code: str = "24336-0",
    priority: str | None = "stat",
    ward: str = "T3-10",
    mrn: str = "M-1001",
    status: str = "active",
    collect: str = NOW,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": ORDER, "value": number}],
        "status": status,
        "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"identifier": {"system": MRN, "value": mrn}},
        "occurrenceDateTime": collect,
        "authoredOn": NOW,
        "locationReference": [{"reference": f"Location/{ward}"}],
    }
    if priority is not None:
        res["priority"] = priority
    return res


def med_order(
    number: str,
    *,
    code: str = "N02AA01",
    priority: str = "routine",
    ward: str = "T1-04",
    mrn: str = "M-1001",
    status: str = "active",
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": ORDER, "value": number}],
        "status": status,
        "intent": "order",
        "priority": priority,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "code": "inpatient",
                    }
                ]
            }
        ],
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": code}]},
        "subject": {"identifier": {"system": MRN, "value": mrn}},
        "encounter": {"reference": "#stay"},
        "contained": [
            {
                "resourceType": "Encounter",
                "id": "stay",
                "status": "in-progress",
                "class": {"code": "IMP"},
                "location": [{"location": {"reference": f"Location/{ward}"}}],
            }
        ],
        "authoredOn": NOW,
    }


def patient(mrn: str = "M-1001", *, credit_care: bool = False, name: str = "Li Wei") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN, "value": mrn}],
        "name": [{"text": name}],
        "gender": "female",
        "birthDate": "1968-04-12",
        "telecom": [{"system": "phone", "value": "+86 10 5555 0101"}],
        "extension": [
            {"url": "https://hospital-ops.example/fhir/StructureDefinition/credit-care", "valueBoolean": credit_care}
        ],
    }


def appointment(number: str, *, mrn: str = "M-1001", service: str = "cardiology", start: str = NOW) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "identifier": [{"system": APPT, "value": number}],
        "status": "booked",
        "serviceType": [{"coding": [{"system": "https://hospital.example/fhir/CodeSystem/dept", "code": service}]}],
        "start": start,
        "end": start.replace("08:00", "08:20"),
        "participant": [
            {"actor": {"type": "Patient", "identifier": {"system": MRN, "value": mrn}}, "status": "accepted"}
        ],
    }


def transaction(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for i, r in enumerate(resources)
        ],
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, role: str) -> None:
    r = client.post("/login", data={"username": f"{role}1", "password": PASSWORD})
    assert r.status_code == 302, r.data
