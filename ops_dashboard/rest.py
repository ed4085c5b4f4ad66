"""The versioned REST API (``/api/v1``) with its OpenAPI document generated from these schemas.

Bad input answers 4xx with ``{"error": {"status", "message", "field"}}`` naming the field and
the reason; a created task is in the database before the 201 leaves.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, session
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from hospital_ops.domain import Priority, RobotMode, TaskKind, TaskStatus, station_badge
from hospital_ops.store import DuplicateError, IllegalTransitionError, InvalidInputError, NotFoundError
from ops_dashboard import live
from ops_dashboard.auth import api_error, current_principal, roles_required
from ops_dashboard.services import (
    FieldError,
    OpsContext,
    alert_json,
    build_task,
    kpis,
    new_pin,
    robot_json,
    staff_locations,
    task_json,
)

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="Deliveries, robots, alerts and KPIs")


def ctx() -> OpsContext:
    return current_app.extensions["hospital_ops"]  # type: ignore[no-any-return]


@blp.errorhandler(InvalidInputError)
def _store_refused(exc: InvalidInputError) -> Any:
    """The store's own checks (``"field: reason"``) answer 422 naming the field, never a 500."""
    message = str(exc)
    head = message.split(":", 1)[0].strip()
    field = head.rsplit(" ", 1)[-1] if head and len(head) < 80 else None
    return api_error(422, message, field=field)


@blp.errorhandler(NotFoundError)
def _store_not_found(exc: NotFoundError) -> Any:
    return api_error(404, str(exc))


# ---- schemas (documentation and shape checks) -----------------------------------------------

#: Latest campus time accepted (year 2999): beyond it numbers no longer fit a database integer.
MAX_UNIX_S = 32_503_680_000


class HandlingSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    cold_chain = fields.Boolean(load_default=False)
    controlled = fields.Boolean(load_default=False)
    max_transit_s = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=7 * 24 * 3600))


class TaskCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "client id (idempotency)"})
    ward = fields.String(metadata={"description": "ward id; fills pickup/dropoff from the ward's defaults"})
    pickup = fields.String(metadata={"description": "campus location id"})
    dropoff = fields.String(metadata={"description": "campus location id"})
    priority = fields.String(load_default="routine", validate=validate.OneOf([p.value for p in Priority]))
    kind = fields.String(load_default="medication", validate=validate.OneOf([k.value for k in TaskKind]))
    units = fields.Integer(load_default=1, validate=validate.Range(min=1, max=8))
    items = fields.List(fields.String(), load_default=list)
    handling = fields.Nested(HandlingSchema, load_default=dict)
    earliest_s = fields.Integer(
        validate=validate.Range(min=0, max=MAX_UNIX_S), metadata={"description": "Unix seconds; default now"}
    )
    deadline_s = fields.Integer(
        validate=validate.Range(min=0, max=MAX_UNIX_S), metadata={"description": "Unix seconds; default by priority"}
    )
    pin = fields.String(
        validate=validate.Regexp(r"^\d{4,8}$"), metadata={"description": "receiver PIN; generated if absent"}
    )


class TaskSchema(Schema):
    id = fields.String()
    pickup = fields.String()
    dropoff = fields.String()
    priority = fields.String()
    kind = fields.String()
    units = fields.Integer()
    items = fields.List(fields.String())
    handling = fields.Nested(HandlingSchema)
    earliest_s = fields.Integer()
    deadline_s = fields.Integer()
    requester = fields.String()
    ward = fields.String(allow_none=True)
    status = fields.String()
    robot_id = fields.String(allow_none=True)
    eta_s = fields.Integer(allow_none=True)
    late = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()


class TaskCreatedSchema(TaskSchema):
    pin = fields.String(metadata={"description": "shown once; give it only to the receiver"})


class TaskQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf([s.value for s in TaskStatus]))
    priority = fields.String(validate=validate.OneOf([p.value for p in Priority]))
    ward = fields.String(validate=validate.Length(min=1, max=64))
    robot_id = fields.String(validate=validate.Length(min=1, max=64))
    open = fields.Boolean()
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9))


class CancelSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    reason = fields.String(load_default="cancelled by requester", validate=validate.Length(max=500))


class HandoverSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    end = fields.String(required=True, validate=validate.OneOf(["pickup", "dropoff"]))
    method = fields.String(
        required=True,
        validate=validate.OneOf(["pin", "badge", "station"]),
        metadata={
            "description": "pin or badge: the secret opens it; station: a delivery without a PIN (an order "
            "from the HIS), opened by the signed-in staff of that stop (session only, no secret)"
        },
    )
    secret = fields.String(
        load_default="", validate=validate.Length(max=128), metadata={"description": "PIN or badge id"}
    )


class RobotSchema(Schema):
    id = fields.String()
    location = fields.String()
    mode = fields.String()
    battery_pct = fields.Float()
    capacity_units = fields.Integer()
    capabilities = fields.List(fields.String())
    on_board = fields.List(fields.String())
    last_heartbeat_at = fields.String(allow_none=True)
    phase = fields.String(
        metadata={"description": "live, from the fleet: e.g. travelling, riding_lift, awaiting_handover, idle"}
    )
    current_task_id = fields.String(allow_none=True, metadata={"description": "live: the task at the current stop"})


class AlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    severity = fields.String()
    subject = fields.String()
    message = fields.String()
    raised_at = fields.String()
    acknowledged_at = fields.String(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)


class AlertCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, validate=validate.Length(min=1, max=64))
    message = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    severity = fields.String(load_default="warning", validate=validate.OneOf(["info", "warning", "critical"]))
    subject = fields.String(load_default="", validate=validate.Length(max=200))


class AlertQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    open = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class FleetReportSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    robots = fields.List(fields.Dict(), load_default=list)
    lifts = fields.List(fields.Dict(), load_default=list)


class KpiSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    at_s = fields.Integer()
    open_tasks = fields.Dict()
    late_tasks = fields.Integer()
    stat_on_time_today = fields.Dict()
    robots = fields.Dict()
    lift_queue = fields.Integer()
    lift_queues = fields.Dict(metadata={"description": "lift id -> robots queueing"})
    ed_queue_by_level = fields.Dict()
    kiosk = fields.Dict(metadata={"description": "waiting (checked in, not triaged), mean_s, max_s, checked_in"})
    alerts_open = fields.Integer()
    today = fields.Dict(metadata={"description": "hourly series of the day: requested by priority, delivered, on_time"})
    attention = fields.List(
        fields.Dict(), metadata={"description": "late tasks, robot faults, red-flag patients; oldest first"}
    )


# ---- tasks --------------------------------------------------------------------------------


@blp.route("/tasks")
class Tasks(MethodView):
    @roles_required("tasks.read")
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, q: dict[str, Any]) -> Any:
        """List delivery tasks, filtered by status, priority, ward or robot."""
        recs = ctx().store.list_tasks(
            status=q.get("status"),
            priority=q.get("priority"),
            ward=q.get("ward"),
            robot_id=q.get("robot_id"),
            open_only=bool(q.get("open")),
            limit=q["limit"],
            offset=q["offset"],
        )
        return [task_json(r) for r in recs]

    @roles_required("tasks.create")
    @blp.arguments(TaskCreateSchema)
    @blp.response(201, TaskCreatedSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Request a delivery. The task is stored before the 201; the receiver's PIN is returned once."""
        who = current_principal()
        assert who is not None
        c = ctx()
        try:
            task, ward = build_task(c, body, requester=who.username)
        except FieldError as exc:
            return api_error(422, exc.message, field=exc.field)
        except ValueError as exc:
            return api_error(422, str(exc))
        pin = body.get("pin") or new_pin()
        try:
            rec = c.store.add_task(task, actor=who.username, pin=pin, ward=ward)
        except DuplicateError as exc:
            return api_error(409, str(exc), field="id")
        except InvalidInputError as exc:
            return api_error(422, str(exc))
        out = task_json(rec, c.campus) | {"pin": pin}
        live.publish_task(rec)
        return out


@blp.route("/tasks/<task_id>")
class TaskItem(MethodView):
    @roles_required("tasks.read")
    @blp.response(200, TaskSchema)
    def get(self, task_id: str) -> Any:
        """One task with its status, robot and promised ETA."""
        try:
            rec = ctx().store.get_task(task_id)
        except NotFoundError as exc:
            return api_error(404, str(exc))
        return task_json(rec, ctx().campus) | {
            "history": [
                {"from": h.from_status, "to": h.to_status, "at": h.at.isoformat(), "actor": h.actor, "reason": h.reason}
                for h in ctx().store.task_history(task_id)
            ]
        }


@blp.route("/tasks/<task_id>/cancel")
class TaskCancel(MethodView):
    @roles_required("tasks.cancel")
    @blp.arguments(CancelSchema)
    @blp.response(200, TaskSchema)
    def post(self, body: dict[str, Any], task_id: str) -> Any:
        """Cancel a task that has not been picked up yet."""
        who = current_principal()
        assert who is not None
        try:
            rec = ctx().store.transition_task(task_id, TaskStatus.CANCELLED, actor=who.username, reason=body["reason"])
        except NotFoundError as exc:
            return api_error(404, str(exc))
        except IllegalTransitionError as exc:
            return api_error(409, str(exc), field="status")
        live.publish_task(rec)
        return task_json(rec)


@blp.route("/tasks/<task_id>/ready")
class TaskReady(MethodView):
    @roles_required("tasks.ready")
    @blp.response(200, TaskSchema)
    def post(self, task_id: str) -> Any:
        """Pharmacy or laboratory: the items are packed and waiting for the robot (audited, pushed live)."""
        who = current_principal()
        assert who is not None
        c = ctx()
        try:
            rec = c.store.get_task(task_id)
        except NotFoundError as exc:
            return api_error(404, str(exc))
        if rec.status.terminal:
            return api_error(409, f"task {task_id}: is {rec.status.value}, nothing to get ready", field="status")
        c.store.audit(who.username, "task.ready", f"task:{task_id}", {"status": rec.status.value})
        live.publish_task(rec, ready=True)
        return task_json(rec)


@blp.route("/tasks/<task_id>/handover")
class TaskHandover(MethodView):
    @roles_required("custody.handover")
    @blp.arguments(HandoverSchema)
    @blp.response(200)
    def post(self, body: dict[str, Any], task_id: str) -> Any:
        """Open the robot's drawer for this task with a PIN or badge: a custody event at that end."""
        who = current_principal()
        assert who is not None
        c = ctx()
        try:
            rec = c.store.get_task(task_id)
        except NotFoundError as exc:
            return api_error(404, str(exc))
        if rec.robot_id is None:
            return api_error(409, f"task {task_id}: no robot is assigned yet", field="task")
        expected = TaskStatus.PLANNED if body["end"] == "pickup" else TaskStatus.PICKED_UP
        if rec.status is not expected:
            return api_error(409, f"task {task_id}: is {rec.status.value}, not ready for {body['end']}", field="end")
        method, secret = body["method"], body["secret"]
        if method == "station":
            stop = rec.task.pickup if body["end"] == "pickup" else rec.task.dropoff
            if rec.has_pin:
                return api_error(409, f"task {task_id}: opens with its PIN, not by station", field="method")
            if who.device:
                return api_error(403, "method station: only signed-in staff at the stop, not a device", field="method")
            allowed = staff_locations(c.campus, who.role, session.get("ward"))
            if allowed is not None and stop not in allowed:
                return api_error(403, f"method station: {who.username} does not work at {stop}", field="method")
            method, secret = "badge", station_badge(stop)
        elif not secret:
            return api_error(422, f"secret: required with method {method}", field="secret")
        result = live.bridge_call(
            "open_drawer",
            {
                "robot_id": rec.robot_id,
                "task_id": task_id,
                "end": body["end"],
                "method": method,
                "secret": secret,
                "actor": who.username,
            },
        )
        if result is None:
            return api_error(503, "the robot fleet is not connected; try again or call the robot desk")
        if not result.get("ok"):
            return api_error(403, result.get("reason", "drawer refused"), field="secret")
        return result


# ---- robots, fleet reports from the bridge ----------------------------------------------------


@blp.route("/robots")
class Robots(MethodView):
    @roles_required("robots.read")
    @blp.response(200, RobotSchema(many=True))
    def get(self) -> Any:
        """Every robot with its last known state."""
        c = ctx()
        return [robot_json(r, c.fleet.get(r.id)) for r in c.store.list_robots()]


@blp.route("/fleet/report")
class FleetReport(MethodView):
    @roles_required("robots.report")
    @blp.arguments(FleetReportSchema)
    @blp.response(202)
    def post(self, body: dict[str, Any]) -> Any:
        """The ROS bridge's batch of robot and lift states (pushed to dashboards at once).

        Robot fields read by the dashboards: ``id``, ``mode``, ``location`` (campus location id)
        or ``building``/``floor``/``x``/``y``, ``battery_pct``, ``error``, ``since_s``; lifts:
        ``id``, ``queue``. A batch with one bad entry is refused whole (422 naming the field)."""
        c = ctx()
        problem = _fleet_problem(body)
        if problem is not None:
            return api_error(422, problem[1], field=problem[0])
        for r in body["robots"]:
            c.fleet[r["id"]] = r
        for lift in body["lifts"]:
            c.lifts[lift["id"]] = lift
        live.publish_fleet(body["robots"], body["lifts"])
        return {"accepted": len(body["robots"]) + len(body["lifts"])}


def _fleet_problem(body: dict[str, Any]) -> tuple[str, str] | None:
    """(field, reason) of the first bad entry of a fleet report, or None."""
    modes = {m.value for m in RobotMode}
    for r in body["robots"]:
        rid = r.get("id")
        if not isinstance(rid, str) or not rid:
            return "robots.id", "each robot needs an id"
        if "mode" in r and r["mode"] not in modes:
            return "robots.mode", f"unknown mode {r['mode']!r} (one of {', '.join(sorted(modes))})"
        for key in ("location", "building", "error"):
            if r.get(key) is not None and not isinstance(r[key], str):
                return f"robots.{key}", "must be a string"
        if r.get("floor") is not None and (isinstance(r["floor"], bool) or not isinstance(r["floor"], str | int)):
            return "robots.floor", "must be a floor name such as '10' or 'B1'"
        for key in ("x", "y", "battery_pct", "since_s"):
            v = r.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or abs(v) > 1e12):
                return f"robots.{key}", "must be a number"
    for lift in body["lifts"]:
        lid = lift.get("id")
        if not isinstance(lid, str) or not lid:
            return "lifts.id", "each lift needs an id"
        queue = lift.get("queue", 0)
        if isinstance(queue, bool) or not isinstance(queue, int) or not 0 <= queue <= 1000:
            return "lifts.queue", "must be a whole number of robots, 0 to 1000"
    return None


# ---- alerts and KPIs --------------------------------------------------------------------------


@blp.route("/alerts")
class Alerts(MethodView):
    @roles_required("alerts.read")
    @blp.arguments(AlertQuerySchema, location="query")
    @blp.response(200, AlertSchema(many=True))
    def get(self, q: dict[str, Any]) -> Any:
        """Alerts, newest first."""
        return [alert_json(a) for a in ctx().store.list_alerts(open_only=q["open"], limit=q["limit"])]

    @roles_required("alerts.raise")
    @blp.arguments(AlertCreateSchema)
    @blp.response(201, AlertSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Raise an alert for staff (robots, kiosks, the hospital system)."""
        who = current_principal()
        assert who is not None
        a = ctx().store.raise_alert(
            body["kind"], body["message"], severity=body["severity"], subject=body["subject"], actor=who.username
        )
        live.publish_alert(a)
        return alert_json(a)


@blp.route("/alerts/<int:alert_id>/ack")
class AlertAck(MethodView):
    @roles_required("alerts.ack")
    @blp.response(200, AlertSchema)
    def post(self, alert_id: int) -> Any:
        """Acknowledge an alert (the first acknowledgement counts)."""
        who = current_principal()
        assert who is not None
        if not 0 < alert_id < 2**63:
            return api_error(404, f"alert {alert_id}: no such alert")
        try:
            a = ctx().store.ack_alert(alert_id, by=who.username)
        except NotFoundError as exc:
            return api_error(404, str(exc))
        live.publish_alert(a)
        return alert_json(a)


@blp.route("/kpis")
class Kpis(MethodView):
    @roles_required("kpis.read")
    @blp.response(200, KpiSchema)
    def get(self) -> Any:
        """The dashboard's KPI tiles."""
        return kpis(ctx())


@blp.route("/campus")
class CampusView(MethodView):
    @roles_required("campus.read")
    @blp.response(200)
    def get(self) -> Any:
        """Buildings, floors, wards and delivery points (for clients that draw maps or forms)."""
        c = ctx().campus
        return {
            "name": c.name,
            "beds": c.total_beds,
            "buildings": [
                {
                    "id": b.id,
                    "name": b.name,
                    "name_zh": b.name_zh,
                    "floors": list(b.floors),
                    "lifts": [lf.id for lf in b.lifts],
                }
                for b in c.buildings.values()
            ],
            "wards": [
                {
                    "id": w.id,
                    "name": w.name,
                    "name_zh": w.name_zh,
                    "building": w.building,
                    "floor": w.floor,
                    "beds": w.beds,
                    "station": w.station,
                }
                for w in c.wards
            ],
            "delivery_points": c.delivery_points(),
        }
