"""The live channel: store changes made by any process reach Socket.IO clients."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from hospital_ops.store import Store
from ops_dashboard import live
from ops_dashboard.extensions import socketio
from tests.dashboard.conftest import bearer, login

WARD = "T3-10"


def _events(client: Any, name: str) -> list[dict[str, Any]]:
    return [e["args"][0] for e in client.get_received("/ops") if e["name"] == name]


def _ops_client(app: Flask, role: str = "operations_manager") -> Any:
    http = app.test_client()
    login(http, role)
    sio = socketio.test_client(app, namespace="/ops", flask_test_client=http)
    assert sio.is_connected("/ops")
    return sio


def test_watcher_pushes_a_change_made_by_another_connection(app: Flask, store: Store, tokens: dict[str, str]) -> None:
    """A task created and then planned through a second database connection (as the scheduler
    node does) reaches a connected dashboard as two ``task`` events, each pushed once."""
    sio = _ops_client(app)
    watcher = live.StoreWatcher(app)
    ctx = app.extensions["hospital_ops"]
    other = Store.open(str(store.engine.url))
    try:
        tid = (
            app.test_client()
            .post(
                "/api/v1/tasks",
                json={"ward": WARD, "priority": "stat", "kind": "specimen"},
                headers=bearer(tokens["system"]),
            )
            .json["id"]
        )
        sio.get_received("/ops")  # drop the REST call's own push: only the watcher counts below
        with app.app_context():
            watcher.tick(ctx)
            assert [e["id"] for e in _events(sio, "task")] == [tid]
            other.transition_task(tid, "planned", actor="scheduler", robot_id="R07", eta_s=2_000_000_000)
            watcher.tick(ctx)
            watcher.tick(ctx)  # nothing new: nothing pushed twice
        pushed = _events(sio, "task")
        assert len(pushed) == 1
        assert (
            pushed[0]["status"] == "planned" and pushed[0]["robot_id"] == "R07" and pushed[0]["eta_s"] == 2_000_000_000
        )
    finally:
        other.close()
        sio.disconnect("/ops")


def test_watcher_thread_pushes_tasks_alerts_and_kpis(app: Flask, store: Store) -> None:
    """The running watcher (its own thread, polling) pushes a new task, a new alert and the KPI
    tiles without anyone calling it; stopping it ends the thread."""
    sio = _ops_client(app)
    watcher = live.StoreWatcher(app)
    thread = socketio.start_background_task(watcher.run)
    other = Store.open(str(store.engine.url))
    try:
        from hospital_ops.domain import DeliveryTask, Priority

        now = int(time.time())
        other.add_task(
            DeliveryTask("W-1", "T3-10-NS", "MT-02-LAB", Priority.STAT, now, now + 900), actor="other", ward=WARD
        )
        other.raise_alert("robot.fault", "R03 stuck", severity="critical", subject="robot:R03", actor="bridge")
        got: dict[str, list[Any]] = {"task": [], "alert": [], "kpis": []}
        deadline = time.monotonic() + 20

        def done() -> bool:
            return bool(got["task"] and got["alert"] and any(k["open_tasks"]["stat"] == 1 for k in got["kpis"]))

        while time.monotonic() < deadline and not done():
            for e in sio.get_received("/ops"):
                got.setdefault(e["name"], []).append(e["args"][0])
            time.sleep(0.1)
        assert [t["id"] for t in got["task"]] == ["W-1"]
        assert got["alert"][0]["kind"] == "robot.fault"
        assert any(k["open_tasks"]["stat"] == 1 for k in got["kpis"])
    finally:
        watcher.stop()
        thread.join(timeout=10)
        other.close()
        sio.disconnect("/ops")
    assert not thread.is_alive()


def test_ward_room_gets_only_its_tasks(app: Flask, tokens: dict[str, str]) -> None:
    """A ward page joined to its ward gets that ward's task updates and not other wards'; the
    laboratory desk joined to its location gets both specimens headed there."""
    http = app.test_client()
    login(http, "ward_staff")
    ward = socketio.test_client(app, namespace="/ward", flask_test_client=http)
    ward.emit("join", {"ward": WARD}, namespace="/ward")
    lab_http = app.test_client()
    login(lab_http, "laboratory")
    lab = socketio.test_client(app, namespace="/ward", flask_test_client=lab_http)
    lab.emit("join", {"locations": ["MT-02-LAB"]}, namespace="/ward")
    client = app.test_client()
    for w in (WARD, "T1-05"):
        r = client.post("/api/v1/tasks", json={"ward": w, "kind": "specimen"}, headers=bearer(tokens["system"]))
        assert r.status_code == 201
    wards = [e["args"][0]["ward"] for e in ward.get_received("/ward") if e["name"] == "task"]
    assert wards == [WARD]
    at_lab = [e["args"][0]["ward"] for e in lab.get_received("/ward") if e["name"] == "task"]
    assert sorted(at_lab) == sorted([WARD, "T1-05"])


def test_ops_channel_refuses_anonymous_and_ward_staff(app: Flask) -> None:
    """The operations channel (KPIs, whole fleet) is for the roles that may read KPIs."""
    anon = socketio.test_client(app, namespace="/ops", flask_test_client=app.test_client())
    assert not anon.is_connected("/ops")
    http = app.test_client()
    login(http, "ward_staff")
    nurse = socketio.test_client(app, namespace="/ops", flask_test_client=http)
    assert not nurse.is_connected("/ops")


def test_fleet_report_reaches_dashboards_and_counts_in_the_tiles(app: Flask, tokens: dict[str, str]) -> None:
    """The bridge's fleet report is pushed at once and its robots (even ones not yet in the store)
    count in the robots tile; a robot in fault shows in the attention list."""
    sio = _ops_client(app)
    client = app.test_client()
    report = {
        "robots": [
            {"id": "R01", "mode": "busy", "location": "T3-10-NS"},
            {"id": "R02", "mode": "fault", "location": "MT-02-LAB", "error": "bumper pressed"},
        ],
        "lifts": [{"id": "T3-L1", "queue": 3}],
    }
    assert client.post("/api/v1/fleet/report", json=report, headers=bearer(tokens["bridge"])).status_code == 202
    fleet = _events(sio, "fleet")
    assert [r["id"] for r in fleet[0]["robots"]] == ["R01", "R02"]
    k = client.get("/api/v1/kpis", headers=bearer(tokens["admin"])).json
    assert k["robots"]["busy"] == 1 and k["robots"]["fault"] == 1 and k["robots"]["total"] == 2
    assert k["lift_queue"] == 3 and k["lift_queues"] == {"T3-L1": 3}
    faults = [a for a in k["attention"] if a["kind"] == "robot.fault"]
    assert faults and faults[0]["subject"] == "robot:R02" and "bumper" in faults[0]["message"]


def test_a_bad_fleet_report_is_refused_whole(app: Flask, tokens: dict[str, str]) -> None:
    """One bad entry (a lift queue that is not a count) refuses the whole report with a 422
    naming the field; nothing of it is applied, so the KPI tiles keep working."""
    client = app.test_client()
    report = {"robots": [{"id": "R09", "mode": "busy"}], "lifts": [{"id": "T1-L1", "queue": "many"}]}
    r = client.post("/api/v1/fleet/report", json=report, headers=bearer(tokens["bridge"]))
    assert r.status_code == 422 and r.json["error"]["field"] == "lifts.queue"
    k = client.get("/api/v1/kpis", headers=bearer(tokens["admin"]))
    assert k.status_code == 200 and k.json["robots"]["total"] == 0 and k.json["lift_queue"] == 0
