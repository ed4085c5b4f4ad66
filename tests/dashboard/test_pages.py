"""The pages: dashboard tiles and data, ward dispatch with ETA and PIN, cancel, pharmacy/lab
ready and hand-over, and the KPIs behind the tiles (kiosk waits, ED levels, attention list)."""

from __future__ import annotations

import json
import re
import time

from flask import Flask

from hospital_ops.domain import CheckIn, CheckInMethod, Patient, Reason, TriageLevel, TriageResult
from hospital_ops.store import Store
from tests.dashboard.conftest import bearer, login


def _dash_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="dash-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_dashboard_page_has_every_tile_map_alerts_charts_and_replay(app: Flask, tokens: dict[str, str]) -> None:
    """The manager's page carries the six tiles, the floor-map controls, the attention list,
    the deliveries table, the day chart with a table alternative, and the replay loader; its
    embedded data has the campus locations, the open tasks and the KPIs."""
    client = app.test_client()
    client.post("/api/v1/tasks", json={"ward": "T3-10", "priority": "stat"}, headers=bearer(tokens["system"]))
    login(client, "operations_manager")
    r = client.get("/dashboard")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for tile in ("tile-open", "tile-stat", "tile-robots", "tile-lifts", "tile-kiosk", "tile-ed"):
        assert f'id="{tile}"' in html, tile
    for part in (
        'id="map-building"',
        'id="map-floor"',
        'id="attention"',
        'id="tasks"',
        'id="chart-table"',
        'id="replay-file"',
    ):
        assert part in html, part
    data = _dash_data(html)
    assert "T3-10-NS" in data["locs"] and data["locs"]["T3-10-NS"]["f"] == "10"
    assert len(data["tasks"]) == 1 and data["tasks"][0]["priority"] == "stat"
    assert data["kpis"]["open_tasks"]["stat"] == 1
    assert data["text"]["prio.stat"] == "STAT"


def test_dashboard_in_chinese(app: Flask) -> None:
    """?lang=zh gives the Chinese page (lang attribute, headings, the script's texts)."""
    client = app.test_client()
    login(client, "operations_manager")
    html = client.get("/dashboard?lang=zh").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "运营看板" in html and "数字孪生回放" in html
    assert _dash_data(html)["text"]["prio.stat"] == "急"


def test_ward_request_shows_promised_time_and_pin_once(app: Flask, store: Store) -> None:
    """Posting the dispatch form (STAT, specimen defaults) stores the task for the ward, and
    the page after the redirect shows the promised arrival and the 6-digit PIN, which verifies
    against the store; reloading the page does not show the PIN again."""
    client = app.test_client()
    login(client, "ward_staff")
    r = client.post("/dispatch?ward=T3-10", data={"kind": "specimen", "priority": "stat"})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    task_id = re.search(r'id="created" data-task="([^"]+)"', page).group(1)
    pin = re.search(r'id="created-pin">(\d{6})<', page).group(1)
    promised = int(re.search(r'id="created-promised" data-s="(\d+)"', page).group(1))
    rec = store.get_task(task_id)
    assert rec.ward == "T3-10" and rec.task.pickup == "T3-10-NS" and rec.task.dropoff == "MT-02-LAB"
    assert promised == rec.task.deadline_s and promised - rec.task.earliest_s == 15 * 60
    assert store.verify_pin(task_id, pin)
    again = client.get(r.headers["Location"]).get_data(as_text=True)
    assert pin not in again


def test_ward_cancel_and_history(app: Flask, store: Store) -> None:
    """A requested delivery can be cancelled from the ward's history; the history lists it as
    cancelled without a cancel button."""
    client = app.test_client()
    login(client, "ward_staff")
    client.post("/dispatch?ward=T3-10", data={"kind": "medication", "priority": "urgent"})
    (rec,) = store.list_tasks(ward="T3-10")
    assert client.post(f"/dispatch/{rec.id}/cancel", data={"ward": "T3-10"}).status_code == 302
    assert store.get_task(rec.id).status.value == "cancelled"
    page = client.get("/dispatch?ward=T3-10").get_data(as_text=True)
    row = re.search(rf'<tr id="task-{rec.id}".*?</tr>', page, re.S).group(0)
    assert "cancelled" in row and "/cancel" not in row


def test_laboratory_marks_ready_and_sees_incoming(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """The laboratory page lists specimens arriving at the lab; "mark ready" is audited and
    shown; the REST variant answers the task, and refuses a finished task with 409."""
    api = app.test_client()
    t1 = api.post("/api/v1/tasks", json={"ward": "T3-10", "kind": "specimen"}, headers=bearer(tokens["system"])).json
    t2 = api.post(
        "/api/v1/tasks", json={"pickup": "MT-02-LAB", "dropoff": "T3-10-NS"}, headers=bearer(tokens["system"])
    ).json
    client = app.test_client()
    login(client, "laboratory")
    page = client.get("/handover").get_data(as_text=True)
    assert t1["id"] in page and t2["id"] in page
    assert client.post(f"/handover/{t2['id']}/ready").status_code == 302
    page = client.get("/handover").get_data(as_text=True)
    row = re.search(rf'<tr id="task-{t2["id"]}".*?</tr>', page, re.S).group(0)
    assert "Ready for pickup" in row
    assert [e.subject for e in store.audit_log(action="task.ready")] == [f"task:{t2['id']}"]
    incoming = re.search(rf'<tr id="task-{t1["id"]}".*?</tr>', page, re.S).group(0)
    assert 'data-end="dropoff"' in incoming and "/ready" not in incoming  # the lab receives it with the PIN
    assert 'data-end="pickup"' in row
    r = api.post(f"/api/v1/tasks/{t1['id']}/ready", headers=bearer(tokens["laboratory"]))
    assert r.status_code == 200 and r.json["id"] == t1["id"]
    api.post(f"/api/v1/tasks/{t1['id']}/cancel", json={}, headers=bearer(tokens["system"]))
    r = api.post(f"/api/v1/tasks/{t1['id']}/ready", headers=bearer(tokens["laboratory"]))
    assert r.status_code == 409 and r.json["error"]["field"] == "status"


def test_kpis_kiosk_waits_ed_levels_and_red_flags(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """Two patients check in at a kiosk, one is triaged level 2 (a red flag): the kiosk tile
    counts one waiting, the ED tile counts one at level 2, and the attention list names the
    red-flag patient."""
    now = int(time.time())
    for pid in ("P1", "P2"):
        store.add_patient(Patient(pid, f"MRN-{pid}", f"Patient {pid}"), actor="test")
        store.add_check_in(CheckIn(f"C-{pid}", pid, "K1", CheckInMethod.FACE, now - 600), actor="kiosk")
    result = TriageResult(
        TriageLevel.EMERGENT, (Reason("chest_pain", "chest pain", "胸痛", 2),), destination="ED", escalate=True
    )
    store.add_triage_result(result, patient_id="P1", check_in_id="C-P1", actor="kiosk")
    k = app.test_client().get("/api/v1/kpis", headers=bearer(tokens["admin"])).json
    assert k["kiosk"]["waiting"] == 1 and k["kiosk"]["checked_in"] == 2 and k["kiosk"]["max_s"] >= 600
    assert k["ed_queue_by_level"]["2"] == 1
    flags = [a for a in k["attention"] if a["kind"] == "patient.red_flag"]
    assert flags and flags[0]["subject"] == "patient:P1" and "chest pain" in flags[0]["message"]


def test_late_task_is_in_the_attention_list_and_the_day_chart(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """A STAT task whose promised ETA is after its deadline is listed as late (critical), and
    today's chart counts the request in its hour."""
    api = app.test_client()
    t = api.post("/api/v1/tasks", json={"ward": "T3-10", "priority": "stat"}, headers=bearer(tokens["system"])).json
    store.transition_task(t["id"], "planned", actor="scheduler", robot_id="R01", eta_s=t["deadline_s"] + 600)
    k = api.get("/api/v1/kpis", headers=bearer(tokens["admin"])).json
    late = [a for a in k["attention"] if a["kind"] == "task.late"]
    assert late and late[0]["subject"] == f"task:{t['id']}" and late[0]["severity"] == "critical"
    assert k["late_tasks"] == 1
    assert sum(k["today"]["requested"]["stat"]) == 1


def test_ward_nurse_loads_and_receives_at_her_own_station(app: Flask, tokens: dict[str, str]) -> None:
    """A ward nurse's hand-over page lists what leaves from and arrives at her ward's nurse
    station (the ward of her dispatch page), each with a PIN form, and offers no "mark ready"."""
    api = app.test_client()
    out = api.post("/api/v1/tasks", json={"ward": "T3-10", "kind": "specimen"}, headers=bearer(tokens["system"])).json
    inc = api.post(
        "/api/v1/tasks", json={"pickup": "MT-01-PHARMACY", "dropoff": "T3-10-NS"}, headers=bearer(tokens["system"])
    ).json
    other = api.post("/api/v1/tasks", json={"ward": "T5-12", "kind": "specimen"}, headers=bearer(tokens["system"])).json
    client = app.test_client()
    login(client, "ward_staff")
    page = client.get("/handover?ward=T3-10").get_data(as_text=True)
    assert out["id"] in page and inc["id"] in page and other["id"] not in page
    row = re.search(rf'<tr id="task-{out["id"]}".*?</tr>', page, re.S).group(0)
    assert 'data-end="pickup"' in row and "/ready" not in row
    assert 'data-end="dropoff"' in re.search(rf'<tr id="task-{inc["id"]}".*?</tr>', page, re.S).group(0)
