"""The live channel: Socket.IO namespaces for dashboards, ward pages and the ROS bridge.

- ``/ops`` — operations dashboards (signed-in roles of ``kpis.read``): ``task``, ``fleet``,
  ``alert``, ``kpis`` (every second).
- ``/ward`` — ward pages join the room of their ward (``{"ward": id}``), pharmacy and laboratory
  pages the rooms of their locations (``{"locations": [id, ...]}``); both get those tasks' updates.
- ``/bridge`` — the ROS 2 bridge process (bearer token of kind ``bridge``): the app asks it to
  open a drawer (``open_drawer``, answered with an ack) and it pushes fleet states over REST.

Other processes (the scheduler node, the fleet manager) change tasks and raise alerts in the
database; a background watcher polls the store every ``WATCH_PERIOD_S`` and pushes what changed,
so dashboards stay fresh within a second whoever made the change. With several web workers the
Socket.IO Redis message queue carries every emit to every worker's clients.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, request, session
from flask_socketio import join_room

from hospital_ops.store.records import Alert, TaskRecord
from ops_dashboard.extensions import socketio
from ops_dashboard.services import OpsContext, alert_json, kpis, task_json

log = logging.getLogger(__name__)

WATCH_PERIOD_S = 0.25
KPI_PERIOD_S = 1.0
BRIDGE_TIMEOUT_S = 5.0
LOOKBACK = timedelta(seconds=5)

_bridge_sids: set[str] = set()
_bridge_lock = threading.Lock()


def publish_task(rec: TaskRecord, **extra: Any) -> None:
    data = task_json(rec) | extra
    socketio.emit("task", data, namespace="/ops")
    rooms = [f"loc:{rec.task.pickup}", f"loc:{rec.task.dropoff}"]
    if rec.ward:
        rooms.append(f"ward:{rec.ward}")
    socketio.emit("task", data, namespace="/ward", to=rooms)


def publish_alert(alert: Alert) -> None:
    socketio.emit("alert", alert_json(alert), namespace="/ops")


def publish_fleet(robots: Iterable[Mapping[str, Any]], lifts: Iterable[Mapping[str, Any]]) -> None:
    socketio.emit("fleet", {"robots": list(robots), "lifts": list(lifts)}, namespace="/ops")


def bridge_call(event: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Ask the connected ROS bridge to act and wait for its answer; None if no bridge answers."""
    with _bridge_lock:
        sids = list(_bridge_sids)
    for sid in sids:
        try:
            answer = socketio.call(event, data, to=sid, namespace="/bridge", timeout=BRIDGE_TIMEOUT_S)
        except Exception as exc:  # a bridge that went away or timed out: try the next one
            log.warning("bridge %s did not answer %s: %s", sid, event, exc)
            continue
        if isinstance(answer, dict):
            return answer
    return None


@socketio.on("connect", namespace="/ops")
def _ops_connect(auth: Any = None) -> bool:
    """Operations dashboards only: the KPIs and the whole fleet are for the roles that may read KPIs."""
    from ops_dashboard.auth import ROLE_MATRIX

    return bool(session.get("user")) and session.get("role") in ROLE_MATRIX["kpis.read"]


@socketio.on("connect", namespace="/ward")
def _ward_connect(auth: Any = None) -> bool:
    return bool(session.get("user"))


@socketio.on("join", namespace="/ward")
def _ward_join(data: Any) -> None:
    """Join a ward's room (``{"ward": id}``) and/or the rooms of locations such as the pharmacy
    or the laboratory (``{"locations": [id, ...]}``): task updates arrive for those only."""
    if not isinstance(data, dict):
        return
    ward = data.get("ward")
    if isinstance(ward, str) and ward:
        join_room(f"ward:{ward}")
    locations = data.get("locations")
    if isinstance(locations, list):
        for loc in locations[:20]:
            if isinstance(loc, str) and loc:
                join_room(f"loc:{loc}")


@socketio.on("connect", namespace="/bridge")
def _bridge_connect(auth: Any = None) -> bool:
    token = auth.get("token") if isinstance(auth, dict) else None
    ctx: OpsContext = current_app.extensions["hospital_ops"]
    device = ctx.store.verify_device_token(token) if isinstance(token, str) else None
    if device is None or device.kind != "bridge":
        return False
    with _bridge_lock:
        _bridge_sids.add(request.sid)  # type: ignore[attr-defined]
    log.info("ROS bridge %s connected", device.device_id)
    return True


@socketio.on("disconnect", namespace="/bridge")
def _bridge_disconnect(*_: Any) -> None:
    with _bridge_lock:
        _bridge_sids.discard(request.sid)  # type: ignore[attr-defined]


class StoreWatcher:
    """Polls the store for tasks and alerts changed by any process and pushes them live."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._stop = threading.Event()
        self._since = datetime.now(UTC)
        #: task id -> updated_at last pushed (another process may commit a change stamped a
        #: moment earlier than one already seen, so the watcher looks back a little and dedupes)
        self._pushed: dict[str, datetime] = {}
        self._last_alert_id = 0
        self._acked: set[int] = set()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        with self.app.app_context():
            ctx: OpsContext = self.app.extensions["hospital_ops"]
            alerts = ctx.store.list_alerts(limit=1)
            self._last_alert_id = alerts[0].id if alerts else 0
            next_kpi = 0.0
            while not self._stop.is_set():
                try:
                    self.tick(ctx)
                    now = ctx.clock()
                    if now >= next_kpi:
                        socketio.emit("kpis", kpis(ctx), namespace="/ops")
                        next_kpi = now + KPI_PERIOD_S
                except Exception:  # keep watching: a transient database error must not kill the channel
                    log.exception("store watcher tick failed")
                socketio.sleep(WATCH_PERIOD_S)

    def tick(self, ctx: OpsContext) -> None:
        changed = ctx.store.tasks_changed_since(self._since - LOOKBACK)
        for rec in changed:
            if self._pushed.get(rec.id) == rec.updated_at:
                continue
            self._pushed[rec.id] = rec.updated_at
            publish_task(rec)
            self._since = max(self._since, rec.updated_at)
        if len(self._pushed) > 50_000:
            horizon = self._since - LOOKBACK
            self._pushed = {k: v for k, v in self._pushed.items() if v >= horizon}
        for a in ctx.store.list_alerts(limit=50):
            if a.id > self._last_alert_id or (a.acknowledged_at and a.id not in self._acked):
                publish_alert(a)
                self._last_alert_id = max(self._last_alert_id, a.id)
                if a.acknowledged_at:
                    self._acked.add(a.id)
