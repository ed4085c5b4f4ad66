"""The REST API: tasks are persisted before the 201, bad input names the field, roles are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hospital_ops.store import Store
from ops_dashboard.auth import ALL_ROLES, ROLE_MATRIX
from tests.dashboard.conftest import bearer, login

WARD = "T3-10"


def _create(client: Any, token: str, **body: Any) -> Any:
    return client.post(
        "/api/v1/tasks", json={"ward": WARD, "priority": "stat", "kind": "specimen", **body}, headers=bearer(token)
    )


def test_created_task_is_in_the_database_before_the_201(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """A 201 means the task is committed: a second connection to the database sees it."""
    r = _create(app.test_client(), tokens["ward_staff"])
    assert r.status_code == 201, r.json
    body = r.json
    assert body["status"] == "requested" and body["pickup"] == "T3-10-NS" and body["dropoff"] == "MT-02-LAB"
    assert len(body["pin"]) == 6
    other = Store.open(str(store.engine.url))
    try:
        rec = other.get_task(body["id"])
        assert rec.task.priority.value == "stat" and rec.has_pin
        assert other.verify_pin(body["id"], body["pin"])
    finally:
        other.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pickup": "NOWHERE", "dropoff": "MT-02-LAB", "ward": None}, "pickup"),
        ({"priority": "whenever"}, "priority"),
        ({"units": 0}, "units"),
        ({"ward": "T99-99"}, "ward"),
        ({"earliest_s": 2_000_000_000, "deadline_s": 1_000_000_000}, "deadline_s"),
        ({"handling": {"max_transit_s": -5}}, "handling.max_transit_s"),
        ({"pin": "12"}, "pin"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    app: Flask, tokens: dict[str, str], body: dict[str, Any], field: str
) -> None:
    """Each bad field gets a 4xx JSON error naming that field and the reason, and nothing is stored."""
    client = app.test_client()
    body = {k: v for k, v in body.items()}
    if body.get("ward", "") is None:
        body.pop("ward")
        r = client.post("/api/v1/tasks", json={"priority": "stat", **body}, headers=bearer(tokens["ward_staff"]))
    else:
        r = _create(client, tokens["ward_staff"], **body)
    assert 400 <= r.status_code < 500, r.json
    err = r.json["error"]
    assert err["field"] == field, err
    assert err["message"]
    listed = client.get("/api/v1/tasks", headers=bearer(tokens["admin"])).json
    assert listed == []


def test_duplicate_client_id_is_a_conflict_and_keeps_the_first(app: Flask, tokens: dict[str, str]) -> None:
    """Resending the same id (a retry) does not create a second delivery or change the first."""
    client = app.test_client()
    first = _create(client, tokens["ward_staff"], id="WARD-REQ-1")
    assert first.status_code == 201
    again = _create(client, tokens["ward_staff"], id="WARD-REQ-1", priority="routine")
    assert again.status_code == 409 and again.json["error"]["field"] == "id"
    got = client.get("/api/v1/tasks/WARD-REQ-1", headers=bearer(tokens["admin"])).json
    assert got["priority"] == "stat"


def test_cancel_then_cancel_again_is_refused(app: Flask, tokens: dict[str, str]) -> None:
    """A cancelled task is final; cancelling twice is a 409 naming the status."""
    client = app.test_client()
    tid = _create(client, tokens["ward_staff"]).json["id"]
    assert client.post(f"/api/v1/tasks/{tid}/cancel", json={}, headers=bearer(tokens["ward_staff"])).status_code == 200
    r = client.post(f"/api/v1/tasks/{tid}/cancel", json={}, headers=bearer(tokens["ward_staff"]))
    assert r.status_code == 409 and r.json["error"]["field"] == "status"


def test_handover_without_the_fleet_is_a_clear_503(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """With no ROS bridge connected the hand-over says so instead of pretending."""
    client = app.test_client()
    tid = _create(client, tokens["ward_staff"]).json["id"]
    store.transition_task(tid, "planned", actor="scheduler", robot_id="R01", eta_s=10**9)
    r = client.post(
        f"/api/v1/tasks/{tid}/handover",
        json={"end": "pickup", "method": "badge", "secret": "B-1"},
        headers=bearer(tokens["laboratory"]),
    )
    assert r.status_code == 503 and "not connected" in r.json["error"]["message"]


def test_openapi_document_lists_the_endpoints(app: Flask) -> None:
    """The OpenAPI document is generated from the code and served without login."""
    doc = app.test_client().get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/robots", "/api/v1/alerts", "/api/v1/kpis"):
        assert path in doc["paths"], path


# ---- the role matrix, endpoint by endpoint ----------------------------------------------------

ENDPOINTS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("tasks.create", "POST", "/api/v1/tasks", {"ward": WARD}),
    ("tasks.read", "GET", "/api/v1/tasks", None),
    ("robots.read", "GET", "/api/v1/robots", None),
    ("robots.report", "POST", "/api/v1/fleet/report", {"robots": [], "lifts": []}),
    ("alerts.read", "GET", "/api/v1/alerts", None),
    ("alerts.raise", "POST", "/api/v1/alerts", {"kind": "test", "message": "m"}),
    ("kpis.read", "GET", "/api/v1/kpis", None),
    ("campus.read", "GET", "/api/v1/campus", None),
]


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize(("group", "method", "path", "body"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_role_matrix(
    app: Flask, tokens: dict[str, str], role: str, group: str, method: str, path: str, body: Any
) -> None:
    """Every role gets exactly what ROLE_MATRIX grants: allowed → 2xx, otherwise 403."""
    client = app.test_client()
    r = client.open(path, method=method, json=body, headers=bearer(tokens[role]))
    if role in ROLE_MATRIX[group]:
        assert 200 <= r.status_code < 300, (role, group, r.status_code, r.json)
    else:
        assert r.status_code == 403, (role, group, r.status_code)


@pytest.mark.parametrize(("group", "method", "path", "body"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_anonymous_gets_401(app: Flask, group: str, method: str, path: str, body: Any) -> None:
    """Without a session or token every API endpoint answers 401 (never data)."""
    r = app.test_client().open(path, method=method, json=body)
    assert r.status_code == 401


def test_revoked_or_forged_token_is_refused(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """A token stops working when its device is revoked; a made-up one never works."""
    client = app.test_client()
    assert client.get("/api/v1/kpis", headers=bearer("not-a-token")).status_code == 401
    store.revoke_device_tokens("dev-admin", actor="test")
    assert client.get("/api/v1/kpis", headers=bearer(tokens["admin"])).status_code == 401


def test_an_order_without_pin_is_handed_over_by_the_signed_in_staff_of_that_stop(
    app: Flask, store: Store, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery from the HIS has no PIN: the lab's signed-in staff open it at the lab (the web app
    sends the robot the lab's station credential); a nurse of another ward, a device token, or
    'station' on a PIN task are refused, naming the field."""
    from hospital_ops.domain import DeliveryTask, Priority, station_badge
    from ops_dashboard import rest

    calls: list[dict[str, object]] = []

    def bridge(event: str, data: dict[str, object]) -> dict[str, object]:
        calls.append(data)
        return {"ok": True}

    monkeypatch.setattr(rest.live, "bridge_call", bridge)
    t = DeliveryTask("T-HIS", "T3-10-NS", "MT-02-LAB", Priority.STAT, 1, 10**9)
    store.add_task(t, actor="his")
    store.transition_task("T-HIS", "planned", actor="scheduler", robot_id="R01", eta_s=10**8)
    store.transition_task("T-HIS", "picked_up", actor="scheduler")
    body = {"end": "dropoff", "method": "station"}

    lab = app.test_client()
    login(lab, "laboratory")
    r = lab.post("/api/v1/tasks/T-HIS/handover", json=body, headers={"X-CSRFToken": _csrf(lab)})
    assert r.status_code == 200, r.json
    assert calls[-1]["method"] == "badge" and calls[-1]["secret"] == station_badge("MT-02-LAB")
    assert calls[-1]["actor"] == "laboratory1"

    nurse = app.test_client()
    login(nurse, "ward_staff")
    r = nurse.post("/api/v1/tasks/T-HIS/handover", json=body, headers={"X-CSRFToken": _csrf(nurse)})
    assert r.status_code == 403 and r.json["error"]["field"] == "method"

    r = app.test_client().post("/api/v1/tasks/T-HIS/handover", json=body, headers=bearer(tokens["laboratory"]))
    assert r.status_code == 403 and "device" in r.json["error"]["message"]

    with_pin = _create(app.test_client(), tokens["ward_staff"]).json["id"]
    store.transition_task(with_pin, "planned", actor="scheduler", robot_id="R01", eta_s=10**8)
    r = lab.post(
        f"/api/v1/tasks/{with_pin}/handover",
        json={"end": "pickup", "method": "station"},
        headers={"X-CSRFToken": _csrf(lab)},
    )
    assert r.status_code == 409 and "PIN" in r.json["error"]["message"]
    r = lab.post(
        f"/api/v1/tasks/{with_pin}/handover",
        json={"end": "pickup", "method": "pin"},
        headers={"X-CSRFToken": _csrf(lab)},
    )
    assert r.status_code == 422 and r.json["error"]["field"] == "secret"


def _csrf(client: Any) -> str:
    page = client.get("/handover").get_data(as_text=True)
    import re

    m = re.search(r'name="csrf_token" value="([^"]+)"|const CSRF = "([^"]+)"', page)
    assert m, page[:500]
    return m.group(1) or m.group(2)
