"""The /fhir endpoint: idempotent intake, all-or-nothing Bundles, withdrawn orders, Task/Provenance/
Encounter views, searches, appointment check-in and roles."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from hospital_ops.domain import (
    CheckIn,
    CheckInMethod,
    CustodyEvent,
    CustodyKind,
    Priority,
    Reason,
    TaskKind,
    TaskStatus,
    TriageLevel,
    TriageResult,
)
from hospital_ops.store import Store
from hospital_ops.store import orders as so
from ops_dashboard.auth import ALL_ROLES, ROLE_MATRIX
from tests.fhir.conftest import (
    MRN,
    NOW_S,
    ORDER,
    appointment,
    bearer,
    lab_order,
    login,
    med_order,
    patient,
    transaction,
)

TESTS = [("24336-0", 30 * 60), ("5902-2", 4 * 3600), ("2524-7", 30 * 60), ("58410-2", 8 * 3600)]
PRIORITIES = [
    ("stat", Priority.STAT, 15 * 60),
    ("urgent", Priority.URGENT, 45 * 60),
    ("routine", Priority.ROUTINE, 4 * 3600),
]


def _hundred_lab_orders() -> tuple[dict[str, Any], dict[str, tuple[Priority, int, int]]]:
    """A transaction of 100 lab orders over several wards, tests and priorities, and what each must become."""
    from hospital_ops.campus import default_campus

    wards = [w.id for w in default_campus().wards]
    orders = []
    expected: dict[str, tuple[Priority, int, int]] = {}
    for i in range(100):
        code, transit = TESTS[i % len(TESTS)]
        fhir_prio, prio, turnaround = PRIORITIES[i % len(PRIORITIES)]
        minute = i % 60
        collect = f"2026-11-26T{8 + i // 60:02d}:{minute:02d}:00Z"
        orders.append(
            lab_order(f"LAB-{i:03d}", code=code, priority=fhir_prio, ward=wards[i], mrn=f"M-{i}", collect=collect)
        )
        at = NOW_S + (i // 60) * 3600 + minute * 60
        expected[f"LAB-{i:03d}"] = (prio, at, at + min(turnaround, transit))
    return transaction(*orders), expected


def test_bundle_of_100_lab_orders_creates_100_specimen_tasks_once(
    client: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """100 lab orders -> 100 specimen pickups with the right priorities and deadlines; resending creates none."""
    bundle, expected = _hundred_lab_orders()
    r = client.post("/fhir/", json=bundle, headers=his)
    assert r.status_code == 200, r.json
    assert r.content_type.startswith("application/fhir+json")
    assert r.json["type"] == "transaction-response"
    assert [e["response"]["status"] for e in r.json["entry"]] == ["201 Created"] * 100
    tasks = store.list_tasks()
    assert len(tasks) == 100
    for order in so.list_orders(store):
        rec = store.get_task(order.task_id)  # type: ignore[arg-type]
        prio, earliest, deadline = expected[order.identifier[1]]
        assert rec.task.kind is TaskKind.SPECIMEN and rec.task.dropoff == "MT-02-LAB"
        assert (rec.task.priority, rec.task.earliest_s, rec.task.deadline_s) == (prio, earliest, deadline)
        assert rec.status is TaskStatus.REQUESTED

    again = client.post("/fhir/", json=bundle, headers=his)
    assert again.status_code == 200
    assert [e["response"]["status"] for e in again.json["entry"]] == ["200 OK"] * 100
    assert len(store.list_tasks()) == 100


def test_accepted_order_is_in_the_database_before_the_response(
    client: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """A 201 means committed: another connection sees the order and its delivery."""
    r = client.post("/fhir/ServiceRequest", json=lab_order("L-1"), headers=his)
    assert r.status_code == 201, r.json
    task_ref = r.headers["X-Delivery-Task"]
    assert r.json["id"].startswith("sr-") and r.headers["Location"].endswith(f"/fhir/ServiceRequest/{r.json['id']}")
    other = Store.open(str(store.engine.url))
    try:
        assert other.get_task(task_ref.split("/")[1]).task.priority is Priority.STAT
        assert so.find_order(other, ORDER, "L-1") is not None
    finally:
        other.close()


def test_conditional_create_with_if_none_exist(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """If-None-Exist on the order identifier: the first creates, the next ones return the existing order."""
    headers = {**his, "If-None-Exist": f"identifier={ORDER}|M-1"}
    first = client.post("/fhir/MedicationRequest", json=med_order("M-1"), headers=headers)
    assert first.status_code == 201, first.json
    second = client.post("/fhir/MedicationRequest", json=med_order("M-1", priority="stat"), headers=headers)
    assert second.status_code == 200 and second.json["id"] == first.json["id"]
    assert second.json["priority"] == "routine"  # the stored order, not the resent body
    assert len(store.list_tasks()) == 1
    bad = client.post("/fhir/MedicationRequest", json=med_order("M-2"), headers={**his, "If-None-Exist": "patient=x"})
    assert bad.status_code == 400 and bad.json["issue"][0]["expression"] == ["If-None-Exist"]
    # a plain resend without the header is idempotent too
    assert client.post("/fhir/MedicationRequest", json=med_order("M-1"), headers=his).status_code == 200
    assert len(store.list_tasks()) == 1


def test_transaction_is_all_or_nothing(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """One invalid entry refuses the whole transaction, naming it; nothing at all is created."""
    bad = lab_order("L-3", code="0000-0")
    r = client.post("/fhir/", json=transaction(patient(), lab_order("L-1"), lab_order("L-2"), bad), headers=his)
    assert r.status_code == 422
    assert r.json["resourceType"] == "OperationOutcome"
    assert r.json["issue"][0]["expression"] == ["Bundle.entry[3].resource.code.coding"]
    assert store.list_tasks() == [] and so.list_orders(store) == [] and store.find_patient(mrn="M-1001") is None


def test_transaction_failing_in_the_store_leaves_nothing(
    client: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """A conflict found while applying (identifier already used by another order type) rolls back every entry."""
    assert client.post("/fhir/ServiceRequest", json=lab_order("X-1"), headers=his).status_code == 201
    clash = med_order("X-1")  # same identifier as the lab order
    r = client.post("/fhir/", json=transaction(lab_order("L-5"), clash), headers=his)
    assert r.status_code == 422, r.json
    assert "already identifies ServiceRequest" in r.json["issue"][0]["diagnostics"]
    assert len(store.list_tasks()) == 1 and so.find_order(store, ORDER, "L-5") is None


INVALID: list[tuple[str, Any, int, str]] = [
    ("ServiceRequest", {**lab_order("L-1"), "status": "bogus"}, 422, "ServiceRequest.status"),
    ("ServiceRequest", {k: v for k, v in lab_order("L-1").items() if k != "subject"}, 422, "ServiceRequest.subject"),
    ("ServiceRequest", lab_order("L-1", code="0000-0"), 422, "ServiceRequest.code.coding"),
    ("ServiceRequest", lab_order("L-1", ward="T9-99"), 422, "ServiceRequest.locationReference[0]"),
    (
        "ServiceRequest",
        {**lab_order("L-1"), "occurrenceDateTime": "tomorrow"},
        422,
        "ServiceRequest.occurrenceDateTime",
    ),
    ("ServiceRequest", med_order("M-1"), 422, "resourceType"),
    (
        "MedicationRequest",
        {k: v for k, v in med_order("M-1").items() if k != "identifier"},
        422,
        "MedicationRequest.identifier",
    ),
    ("MedicationRequest", med_order("M-1", code="Q01"), 422, "MedicationRequest.medicationCodeableConcept.coding"),
    ("MedicationRequest", {**med_order("M-1"), "contained": []}, 422, "MedicationRequest.encounter"),
    ("Patient", {**patient(), "identifier": [{"system": "x", "value": "1"}]}, 422, "Patient.identifier"),
    ("Appointment", appointment("A-1", service="astrology"), 422, "Appointment.serviceType[0].coding[0].code"),
    ("ServiceRequest", [1, 2], 400, ""),
]


@pytest.mark.parametrize(("rt", "body", "status", "path"), INVALID)
def test_invalid_resource_is_refused_with_an_operation_outcome(
    client: FlaskClient, store: Store, his: dict[str, str], rt: str, body: Any, status: int, path: str
) -> None:
    """Invalid resources get a 4xx OperationOutcome whose issue names the element path; nothing is stored."""
    r = client.post(f"/fhir/{rt}", json=body, headers=his)
    assert r.status_code == status, r.json
    assert r.json["resourceType"] == "OperationOutcome"
    issue = r.json["issue"][0]
    assert issue["severity"] == "error" and issue["diagnostics"]
    if path:
        assert issue["expression"] == [path], issue
    assert store.list_tasks() == [] and so.list_orders(store) == []


def test_not_json_is_refused(client: FlaskClient, his: dict[str, str]) -> None:
    """A body that is not JSON gets a 400 OperationOutcome."""
    r = client.post("/fhir/ServiceRequest", data=b"<xml/>", headers=his)
    assert r.status_code == 400 and r.json["resourceType"] == "OperationOutcome"


def test_revoked_order_cancels_its_delivery(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """status=revoked before pickup cancels the delivery (history says why); resending it changes nothing."""
    created = client.post("/fhir/ServiceRequest", json=lab_order("L-1"), headers=his)
    task_id = created.headers["X-Delivery-Task"].split("/")[1]
    store.transition_task(task_id, TaskStatus.PLANNED, actor="scheduler", robot_id="R-1", eta_s=NOW_S + 600)
    r = client.post("/fhir/ServiceRequest", json=lab_order("L-1", status="revoked"), headers=his)
    assert r.status_code == 200 and r.json["status"] == "revoked"
    assert store.get_task(task_id).status is TaskStatus.CANCELLED
    assert "revoked" in store.task_history(task_id)[-1].reason
    assert client.post("/fhir/ServiceRequest", json=lab_order("L-1", status="revoked"), headers=his).status_code == 200
    assert client.post("/fhir/ServiceRequest", json=lab_order("L-1"), headers=his).status_code == 200  # not revived
    assert store.get_task(task_id).status is TaskStatus.CANCELLED
    assert client.get(f"/fhir/Task/{task_id}", headers=his).json["status"] == "cancelled"
    assert store.list_alerts() == []


def test_order_withdrawn_after_pickup_raises_an_alert(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """A cancelled controlled prescription whose drugs are already on a robot: delivery continues, critical alert raised."""
    created = client.post("/fhir/MedicationRequest", json=med_order("M-1"), headers=his)
    task_id = created.headers["X-Delivery-Task"].split("/")[1]
    store.transition_task(task_id, TaskStatus.PLANNED, actor="scheduler", robot_id="R-1")
    store.record_custody(
        CustodyEvent(task_id, "R-1", CustodyKind.LOADED, "MT-01-PHARMACY", NOW_S + 700, "badge", "pharm-1", 1),
        transition=TaskStatus.PICKED_UP,
    )
    r = client.post("/fhir/MedicationRequest", json=med_order("M-1", status="cancelled"), headers=his)
    assert r.status_code == 200
    assert store.get_task(task_id).status is TaskStatus.PICKED_UP
    alerts = store.list_alerts(subject=f"task:{task_id}")
    assert len(alerts) == 1 and alerts[0].severity.value == "critical" and "controlled" in alerts[0].message


def test_revoked_order_never_seen_before_creates_no_delivery(
    client: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """A revocation that arrives before the order is recorded, and the late order then creates nothing."""
    assert client.post("/fhir/ServiceRequest", json=lab_order("L-1", status="revoked"), headers=his).status_code == 201
    assert client.post("/fhir/ServiceRequest", json=lab_order("L-1"), headers=his).status_code == 200
    assert store.list_tasks() == []


def test_fhir_task_follows_a_delivery_from_request_to_completion(
    client: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """Driving the store's transitions, GET Task shows requested -> accepted -> in-progress -> completed;
    its history has one version per change, and the hand-overs are Provenance of the Task."""
    created = client.post("/fhir/MedicationRequest", json=med_order("M-1"), headers=his)
    task_id = created.headers["X-Delivery-Task"].split("/")[1]

    def status() -> str:
        r = client.get(f"/fhir/Task/{task_id}", headers=his)
        assert r.status_code == 200, r.json
        return str(r.json["status"])

    assert status() == "requested"
    store.transition_task(task_id, TaskStatus.PLANNED, actor="scheduler", robot_id="R-1", eta_s=NOW_S + 1200)
    assert status() == "accepted"
    store.record_custody(
        CustodyEvent(task_id, "R-1", CustodyKind.LOADED, "MT-01-PHARMACY", NOW_S + 700, "badge", "pharm-1", 1),
        transition=TaskStatus.PICKED_UP,
    )
    assert status() == "in-progress"
    store.record_custody(
        CustodyEvent(task_id, "R-1", CustodyKind.DELIVERED, "T1-04-NS", NOW_S + 1100, "badge", "nurse-9", 1),
        transition=TaskStatus.DELIVERED,
    )
    assert status() == "completed"
    task = client.get(f"/fhir/Task/{task_id}", headers=his).json
    assert task["owner"]["reference"] == "Device/R-1"
    assert task["basedOn"][0]["reference"] == f"MedicationRequest/{created.json['id']}"
    assert task["for"]["identifier"] == {"system": MRN, "value": "M-1001"}
    assert task["executionPeriod"]["start"] and task["executionPeriod"]["end"]

    history = client.get(f"/fhir/Task/{task_id}/_history", headers=his).json
    assert [e["resource"]["status"] for e in reversed(history["entry"])] == [
        "requested",
        "accepted",
        "in-progress",
        "completed",
    ]
    assert client.get(f"/fhir/Task/{task_id}/_history/2", headers=his).json["status"] == "accepted"

    prov = client.get(f"/fhir/Provenance?target=Task/{task_id}", headers=his).json
    assert [e["resource"]["activity"]["coding"][0]["code"] for e in prov["entry"]] == ["loaded", "delivered"]
    one = client.get(f"/fhir/Provenance/{task_id}.2", headers=his)
    assert one.status_code == 200 and one.json["location"]["reference"] == "Location/T1-04-NS"
    assert client.get(f"/fhir/Provenance/{task_id}.3", headers=his).status_code == 404


def test_search_tasks_by_patient_identifier_and_status(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """Task search by patient identifier (system|value or value) and by status, alone and combined."""
    client.post(
        "/fhir/",
        json=transaction(lab_order("A-1", mrn="M-A"), lab_order("A-2", mrn="M-A"), lab_order("B-1", mrn="M-B")),
        headers=his,
    )
    a1 = so.find_order(store, ORDER, "A-1")
    assert a1 is not None and a1.task_id is not None
    store.transition_task(a1.task_id, TaskStatus.PLANNED, actor="scheduler", robot_id="R-2")

    def ids(query: str) -> list[str]:
        r = client.get(f"/fhir/Task?{query}", headers=his)
        assert r.status_code == 200, r.json
        assert r.json["type"] == "searchset" and r.json["total"] == len(r.json["entry"])
        return sorted(e["resource"]["basedOn"][0]["identifier"]["value"] for e in r.json["entry"])

    assert ids(f"patient.identifier={MRN}|M-A") == ["A-1", "A-2"]
    assert ids("patient:identifier=M-B") == ["B-1"]
    assert ids(f"patient.identifier={MRN}|M-A&status=accepted") == ["A-1"]
    assert ids("status=requested") == ["A-2", "B-1"]
    assert ids("status=accepted,requested") == ["A-1", "A-2", "B-1"]
    assert ids(f"identifier={ORDER}|B-1") == ["B-1"]
    assert ids("patient.identifier=other|M-A") == []
    bad = client.get("/fhir/Task?status=sleeping", headers=his)
    assert bad.status_code == 400 and bad.json["issue"][0]["expression"] == ["status"]
    assert client.get("/fhir/Task?colour=red", headers=his).status_code == 400
    orders = client.get(f"/fhir/ServiceRequest?patient.identifier={MRN}|M-A", headers=his).json
    assert orders["total"] == 2


def test_check_ins_are_encounters_with_the_triage_level(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """A kiosk check-in is an Encounter (arrived), triaged ones carry the level; searchable by patient and status."""
    assert client.post("/fhir/Patient", json=patient("M-7"), headers=his).status_code == 201
    pid = "P-M-7"
    store.add_check_in(CheckIn("C-1", pid, "ED-01-K1", CheckInMethod.FACE, NOW_S), actor="kiosk")
    store.add_check_in(CheckIn("C-2", pid, "ED-01-K2", CheckInMethod.ID_NUMBER, NOW_S + 60), actor="kiosk")
    result = TriageResult(TriageLevel.EMERGENT, (Reason("chest_pain", "Chest pain", "胸痛", 2),), "ED-01-ACUTE", True)
    store.add_triage_result(result, patient_id=pid, actor="kiosk", check_in_id="C-2")
    enc = client.get("/fhir/Encounter/C-2", headers=his).json
    assert enc["status"] == "triaged" and enc["priority"]["coding"][0]["code"] == "2"
    assert enc["subject"]["identifier"] == {"system": MRN, "value": "M-7"}
    assert client.get("/fhir/Encounter/C-1", headers=his).json["status"] == "arrived"
    found = client.get(f"/fhir/Encounter?patient.identifier={MRN}|M-7&status=triaged", headers=his).json
    assert [e["resource"]["id"] for e in found["entry"]] == ["C-2"]
    assert client.get("/fhir/Encounter?patient.identifier=M-none", headers=his).json["total"] == 0
    assert client.get("/fhir/Encounter/C-9", headers=his).status_code == 404


def test_appointment_check_in_at_the_kiosk(
    client: FlaskClient, store: Store, his: dict[str, str], tokens: dict[str, str]
) -> None:
    """A booked appointment becomes arrived; the kiosk gets the department and the credit-care status."""
    r = client.post(
        "/fhir/", json=transaction(patient("M-8", credit_care=True), appointment("AP-1", mrn="M-8")), headers=his
    )
    assert r.status_code == 200, r.json
    appt_id = r.json["entry"][1]["response"]["location"].split("/")[1]
    kiosk = bearer(tokens["kiosk"])
    out = client.post(f"/fhir/Appointment/{appt_id}/$arrive", json={"patient_id": "P-M-8"}, headers=kiosk)
    assert out.status_code == 200, out.json
    params = {p["name"]: p for p in out.json["parameter"]}
    assert params["department"]["valueString"] == "OP-03-CARD"
    assert params["departmentNameZh"]["valueString"] == "心内科门诊"
    assert params["creditCare"]["valueBoolean"] is True
    assert params["appointment"]["resource"]["status"] == "arrived"
    assert client.get(f"/fhir/Appointment/{appt_id}", headers=his).json["status"] == "arrived"
    again = client.post("/fhir/Appointment/$arrive", json={"patient_id": "P-M-8"}, headers=kiosk)
    assert {p["name"]: p for p in again.json["parameter"]}["alreadyArrived"]["valueBoolean"] is True
    # the store function the kiosk code can call directly
    arrival = so.arrive_appointment(store, actor="kiosk:K1", patient_id="P-M-8", now_s=NOW_S)
    assert arrival.department == "OP-03-CARD" and arrival.credit_care is True


def test_cancelled_or_someone_elses_appointment_is_refused(
    client: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """A cancelled appointment cannot be checked in; nor can another patient's."""
    client.post(
        "/fhir/",
        json=transaction(patient("M-8"), patient("M-9", name="Wang Fang"), appointment("AP-1", mrn="M-8")),
        headers=his,
    )
    cancelled = {**appointment("AP-1", mrn="M-8"), "status": "cancelled"}
    appt_id = client.post("/fhir/Appointment", json=cancelled, headers=his).json["id"]
    r = client.post(f"/fhir/Appointment/{appt_id}/$arrive", json={"patient_id": "P-M-8"}, headers=his)
    assert r.status_code == 422 and "cancelled" in r.json["issue"][0]["diagnostics"]
    client.post("/fhir/Appointment", json=appointment("AP-2", mrn="M-8"), headers=his)
    other = so.list_appointments(store, status="booked")[0]
    r = client.post(f"/fhir/Appointment/{other.id}/$arrive", json={"patient_id": "P-M-9"}, headers=his)
    assert r.status_code == 422 and "not patient P-M-9's" in r.json["issue"][0]["diagnostics"]
    assert client.post("/fhir/Appointment/$arrive", json={"patient_id": "P-M-9"}, headers=his).status_code == 404


# ---- roles -----------------------------------------------------------------------------------

ENDPOINTS = [
    ("fhir.write", "POST", "/fhir/ServiceRequest", lab_order("R-1")),
    ("fhir.write", "POST", "/fhir/", transaction(lab_order("R-2"))),
    ("fhir.read", "GET", "/fhir/Task", None),
    ("fhir.read", "GET", "/fhir/Encounter", None),
]


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize(("group", "method", "path", "body"), ENDPOINTS, ids=[f"{e[0]}:{e[2]}" for e in ENDPOINTS])
def test_role_matrix_on_fhir(
    client: FlaskClient, tokens: dict[str, str], role: str, group: str, method: str, path: str, body: Any
) -> None:
    """Device tokens get exactly what ROLE_MATRIX grants on /fhir: allowed -> 2xx, else 403 OperationOutcome."""
    r = client.open(path, method=method, json=body, headers=bearer(tokens[role]))
    if role in ROLE_MATRIX[group]:
        assert 200 <= r.status_code < 300, (role, group, r.status_code, r.json)
    else:
        assert r.status_code == 403, (role, group, r.status_code)
        assert r.json["resourceType"] == "OperationOutcome"


def test_ward_nurse_cannot_post_orders(client: FlaskClient, store: Store, tokens: dict[str, str]) -> None:
    """A ward nurse (token or signed-in session) cannot post to /fhir; anonymous gets 401; nothing is stored."""
    assert (
        client.post("/fhir/ServiceRequest", json=lab_order("N-1"), headers=bearer(tokens["ward_staff"])).status_code
        == 403
    )
    assert client.post("/fhir/ServiceRequest", json=lab_order("N-1")).status_code == 401
    login(client, "ward_staff")
    r = client.post("/fhir/ServiceRequest", json=lab_order("N-1"))
    assert r.status_code == 403 and r.json["resourceType"] == "OperationOutcome"
    assert store.list_tasks() == []


def test_admin_session_can_read_but_must_write_with_a_token(client: FlaskClient, store: Store) -> None:
    """Writes need a bearer token (no session-cookie writes, so no CSRF exposure); sessions may read."""
    login(client, "admin")
    assert client.post("/fhir/ServiceRequest", json=lab_order("S-1")).status_code == 403
    assert client.get("/fhir/Task").status_code == 200
    assert store.list_tasks() == []


def test_metadata_and_unknown_paths_answer_in_fhir(
    client: FlaskClient, his: dict[str, str], tokens: dict[str, str]
) -> None:
    """GET /fhir/metadata answers any authenticated caller (401 OperationOutcome otherwise);
    unsupported paths answer with an OperationOutcome."""
    r = client.get("/fhir/metadata", headers=bearer(tokens["kiosk"]))
    assert r.status_code == 200 and r.json["resourceType"] == "CapabilityStatement"
    assert client.get("/fhir/metadata").json["resourceType"] == "OperationOutcome"
    r = client.get("/fhir/Observation/1", headers=his)
    assert r.status_code == 404 and r.json["resourceType"] == "OperationOutcome"


def test_batch_bundle_applies_entries_one_by_one(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """In a batch Bundle a conflicting entry fails alone (its own status), the others are applied."""
    assert client.post("/fhir/ServiceRequest", json=lab_order("X-1"), headers=his).status_code == 201
    batch = {**transaction(lab_order("L-1"), med_order("X-1")), "type": "batch"}
    r = client.post("/fhir/", json=batch, headers=his)
    assert r.status_code == 200, r.json
    assert r.json["type"] == "batch-response"
    assert [e["response"]["status"] for e in r.json["entry"]] == ["201 Created", "422 Unprocessable Entity"]
    assert so.find_order(store, ORDER, "L-1") is not None and len(store.list_tasks()) == 2


def test_put_updates_an_order_by_its_id(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """PUT MedicationRequest/<id> with status cancelled withdraws it; a PUT to another order's id is a 409."""
    created = client.post("/fhir/MedicationRequest", json=med_order("M-1"), headers=his)
    order_id, task_id = created.json["id"], created.headers["X-Delivery-Task"].split("/")[1]
    wrong = client.put("/fhir/MedicationRequest/mr-0000", json=med_order("M-1", status="cancelled"), headers=his)
    assert wrong.status_code == 409 and wrong.json["issue"][0]["expression"] == ["MedicationRequest.identifier"]
    assert store.get_task(task_id).status is TaskStatus.REQUESTED
    r = client.put(f"/fhir/MedicationRequest/{order_id}", json=med_order("M-1", status="cancelled"), headers=his)
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert store.get_task(task_id).status is TaskStatus.CANCELLED


def test_patient_resend_updates_credit_care(client: FlaskClient, store: Store, his: dict[str, str]) -> None:
    """The HIS is the source of the 'pay later' status: resending the Patient with a new value updates it."""
    assert client.post("/fhir/Patient", json=patient("M-3"), headers=his).status_code == 201
    assert client.post("/fhir/Patient", json=patient("M-3"), headers=his).status_code == 200
    assert store.get_patient("P-M-3").credit_care is False
    r = client.post("/fhir/Patient", json=patient("M-3", credit_care=True), headers=his)
    assert r.status_code == 200 and store.get_patient("P-M-3").credit_care is True
    assert any(e.action == "patient.update" for e in store.audit_log(subject="patient:P-M-3"))
