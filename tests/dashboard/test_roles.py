"""The role matrix over every endpoint of the app: declared on each one, and enforced."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from hospital_ops.store import Store
from ops_dashboard.auth import ALL_ROLES, ROLE_MATRIX, STAFF_ROLES
from tests.dashboard.conftest import bearer, login

#: Endpoints anyone may call: sign-in, sign-out, the start page (redirects), static files, the
#: OpenAPI document.
PUBLIC = {"static", "auth.login", "auth.logout", "pages.index", "api-docs.openapi_json"}

#: Blueprints with their own sign-in model, checked by their owners' tests: the kiosk screens
#: run in a kiosk session opened with the kiosk's device token (``kiosk_required`` in
#: triage_kiosk/web/views.py allows ROLE_MATRIX["checkins.create"]).
OWN_AUTH = {"kiosk": "checkins.create"}

#: (method, URL rule) -> role group, for every endpoint of the dashboard app.
DECLARED: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/tasks"): "tasks.read",
    ("POST", "/api/v1/tasks"): "tasks.create",
    ("GET", "/api/v1/tasks/<task_id>"): "tasks.read",
    ("POST", "/api/v1/tasks/<task_id>/cancel"): "tasks.cancel",
    ("POST", "/api/v1/tasks/<task_id>/ready"): "tasks.ready",
    ("POST", "/api/v1/tasks/<task_id>/handover"): "custody.handover",
    ("GET", "/api/v1/robots"): "robots.read",
    ("POST", "/api/v1/fleet/report"): "robots.report",
    ("GET", "/api/v1/alerts"): "alerts.read",
    ("POST", "/api/v1/alerts"): "alerts.raise",
    ("POST", "/api/v1/alerts/<int:alert_id>/ack"): "alerts.ack",
    ("GET", "/api/v1/kpis"): "kpis.read",
    ("GET", "/api/v1/campus"): "campus.read",
    ("GET", "/dashboard"): "kpis.read",
    ("GET", "/dispatch"): "tasks.create",
    ("POST", "/dispatch"): "tasks.create",
    ("POST", "/dispatch/<task_id>/cancel"): "tasks.cancel",
    ("GET", "/handover"): "custody.handover",
    ("POST", "/handover/<task_id>/ready"): "tasks.ready",
}


def _declared_groups(app: Flask) -> dict[tuple[str, str], str | None]:
    """What each (method, rule) of the running app declares with ``roles_required``."""
    out: dict[tuple[str, str], str | None] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint.split(".")[0] in OWN_AUTH:
            continue
        view = app.view_functions[rule.endpoint]
        cls = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            fn = getattr(cls, method.lower(), None) if cls is not None else view
            out[(method, rule.rule)] = getattr(fn, "role_group", None)
    return out


def test_every_endpoint_declares_its_roles(app: Flask) -> None:
    """No endpoint outside the public ones is left without a role rule, and each one's rule is
    the group this test expects (so a new endpoint fails here until its row is added)."""
    declared = _declared_groups(app)
    missing = [k for k, g in declared.items() if g is None]
    assert not missing, f"endpoints without roles_required: {missing}"
    ours = {k: g for k, g in declared.items() if k in DECLARED}
    assert ours == DECLARED
    unknown = sorted(set(declared) - set(DECLARED))
    assert all(declared[k] in ROLE_MATRIX for k in unknown), unknown


def test_every_declared_endpoint_of_every_blueprint_enforces_its_group(app: Flask, tokens: dict[str, str]) -> None:
    """Generic sweep over the whole app (this room's endpoints and the kiosk API and FHIR ones
    registered by others): with each role's bearer token, a role outside the endpoint's group
    gets 403 and a role inside it gets past the role check (anything but 401/403), whatever the
    placeholder path values and empty body then lead to (404, 422 …)."""
    client = app.test_client()
    failures = []
    checked = 0
    for (method, rule), group in sorted(_declared_groups(app).items()):
        assert group is not None
        path = re.sub(r"<int:[^>]+>", "1", rule)
        path = re.sub(r"<(?:[a-z]+:)?[^>]+>", "NO-SUCH-ID", path)
        for role in ALL_ROLES:
            r = client.open(path, method=method, json={} if method != "GET" else None, headers=bearer(tokens[role]))
            checked += 1
            if role in ROLE_MATRIX[group]:
                if r.status_code in (401, 403):
                    failures.append((method, rule, role, "refused", r.status_code))
            elif r.status_code != 403:
                failures.append((method, rule, role, "allowed", r.status_code))
    assert checked >= len(DECLARED) * len(ALL_ROLES)
    assert not failures, failures


def test_every_role_group_names_known_roles() -> None:
    """The matrix only names roles that exist, and every role can do something."""
    for group, roles in ROLE_MATRIX.items():
        assert set(roles) <= set(ALL_ROLES), group
    used = {r for roles in ROLE_MATRIX.values() for r in roles}
    assert used == set(ALL_ROLES)


def _setup(app: Flask, store: Store, tokens: dict[str, str]) -> dict[str, Any]:
    """A requested task, a planned one and an alert, so item endpoints find something."""
    client = app.test_client()
    body = {"ward": "T3-10", "priority": "stat", "kind": "specimen"}
    t1 = client.post("/api/v1/tasks", json=body, headers=bearer(tokens["system"])).json["id"]
    t2 = client.post("/api/v1/tasks", json=body, headers=bearer(tokens["system"])).json["id"]
    store.transition_task(t2, "planned", actor="scheduler", robot_id="R01", eta_s=2_000_000_000)
    alert = store.raise_alert("robot.fault", "stuck", subject="robot:R01", actor="bridge")
    return {"task_id": t1, "planned": t2, "alert_id": alert.id}


def _calls(ids: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    tid, planned, aid = ids["task_id"], ids["planned"], ids["alert_id"]
    return [
        ("tasks.read", "GET", "/api/v1/tasks", None),
        ("tasks.create", "POST", "/api/v1/tasks", {"ward": "T3-10"}),
        ("tasks.read", "GET", f"/api/v1/tasks/{tid}", None),
        ("tasks.cancel", "POST", f"/api/v1/tasks/{tid}/cancel", {}),
        ("tasks.ready", "POST", f"/api/v1/tasks/{planned}/ready", None),
        (
            "custody.handover",
            "POST",
            f"/api/v1/tasks/{planned}/handover",
            {"end": "pickup", "method": "badge", "secret": "B-1"},
        ),
        ("robots.read", "GET", "/api/v1/robots", None),
        ("robots.report", "POST", "/api/v1/fleet/report", {"robots": [], "lifts": []}),
        ("alerts.read", "GET", "/api/v1/alerts", None),
        ("alerts.raise", "POST", "/api/v1/alerts", {"kind": "test", "message": "m"}),
        ("alerts.ack", "POST", f"/api/v1/alerts/{aid}/ack", None),
        ("kpis.read", "GET", "/api/v1/kpis", None),
        ("campus.read", "GET", "/api/v1/campus", None),
    ]


def test_api_role_matrix_every_endpoint_every_role(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """Every API endpoint × every role (bearer tokens): allowed roles get past the role check
    (2xx, or 503 for a hand-over with no fleet connected), others get 403; anonymous gets 401.
    The calls cover every API row of DECLARED."""
    ids = _setup(app, store, tokens)
    calls = _calls(ids)
    rules = {(m, p) for (m, p) in DECLARED if p.startswith("/api/")}
    covered = {
        (
            m,
            p.replace(ids["task_id"], "<task_id>")
            .replace(ids["planned"], "<task_id>")
            .replace(f"/{ids['alert_id']}/", "/<int:alert_id>/"),
        )
        for _, m, p, _ in calls
    }
    assert covered == rules
    client = app.test_client()
    failures = []
    for group, method, path, body in calls:
        r = client.open(path, method=method, json=body)
        if r.status_code != 401:
            failures.append(("anonymous", group, r.status_code))
        for role in ALL_ROLES:
            if group == "tasks.cancel":  # each allowed role cancels its own fresh task
                fresh = client.post("/api/v1/tasks", json={"ward": "T3-10"}, headers=bearer(tokens["system"])).json[
                    "id"
                ]
                path = f"/api/v1/tasks/{fresh}/cancel"
            r = client.open(path, method=method, json=body, headers=bearer(tokens[role]))
            ok = 200 <= r.status_code < 300 or (group == "custody.handover" and r.status_code == 503)
            if role in ROLE_MATRIX[group] and not ok:
                failures.append((role, group, r.status_code, r.get_json()))
            if role not in ROLE_MATRIX[group] and r.status_code != 403:
                failures.append((role, group, r.status_code))
    assert not failures, failures


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_page_role_matrix(app: Flask, store: Store, tokens: dict[str, str], role: str) -> None:
    """Every page × every staff role (session login): allowed → 200 or a redirect, others → 403;
    anonymous → redirect to the sign-in page."""
    ids = _setup(app, store, tokens)
    pages = [
        ("kpis.read", "GET", "/dashboard", None),
        ("tasks.create", "GET", "/dispatch", None),
        ("tasks.create", "POST", "/dispatch", {"kind": "specimen", "priority": "stat"}),
        ("tasks.cancel", "POST", f"/dispatch/{ids['task_id']}/cancel", {}),
        ("custody.handover", "GET", "/handover", None),
        ("tasks.ready", "POST", f"/handover/{ids['planned']}/ready", {}),
    ]
    anon = app.test_client()
    client = app.test_client()
    login(client, role)
    for group, method, path, form in pages:
        r = anon.open(path, method=method, data=form)
        assert r.status_code == 302 and "/login" in r.headers["Location"], (path, r.status_code)
        r = client.open(path, method=method, data=form)
        if role in ROLE_MATRIX[group]:
            assert r.status_code in (200, 302), (role, path, r.status_code)
        else:
            assert r.status_code == 403, (role, path, r.status_code)
