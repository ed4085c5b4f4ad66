"""Pages for people: the operations dashboard, ward dispatch, pharmacy/laboratory hand-over."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from hospital_ops.campus import LocationKind
from hospital_ops.domain import TaskStatus
from hospital_ops.store import DuplicateError, IllegalTransitionError, NotFoundError
from ops_dashboard import live
from ops_dashboard.auth import ROLE_MATRIX, current_principal, home_for, roles_required
from ops_dashboard.i18n import TEXT, t
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

bp = Blueprint("pages", __name__)


def ctx() -> OpsContext:
    return current_app.extensions["hospital_ops"]  # type: ignore[no-any-return]


@bp.route("/")
def index() -> Any:
    who = current_principal()
    if who is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(home_for(who.role)))


@bp.route("/dashboard")
@roles_required("kpis.read")
def dashboard() -> Any:
    c = ctx()
    buildings = [
        {"id": b.id, "name": b.name, "name_zh": b.name_zh, "floors": list(b.floors)}
        for b in c.campus.buildings.values()
    ]
    locations = {
        loc.id: {
            "b": loc.building,
            "f": loc.floor,
            "x": loc.x,
            "y": loc.y,
            "k": loc.kind.value,
            "n": loc.name_zh if g.lang == "zh" and loc.name_zh else loc.name,
        }
        for loc in c.campus.locations.values()
    }
    origins = {b.id: list(b.origin) for b in c.campus.buildings.values()}
    robots = [robot_json(r, c.fleet.get(r.id)) for r in c.store.list_robots()]
    known = {r["id"] for r in robots}
    robots += [{"id": rid, **state} for rid, state in sorted(c.fleet.items()) if rid not in known]
    tasks = [task_json(r, c.campus) for r in c.store.open_tasks(limit=300)]
    return render_template(
        "dashboard.html",
        kpis=kpis(c),
        buildings=buildings,
        locations=locations,
        origins=origins,
        robots=robots,
        tasks=tasks,
        alerts=[alert_json(a) for a in c.store.list_alerts(open_only=True, limit=50)],
        texts={k: t(k) for k in TEXT if k.split(".")[0] in ("robot", "prio", "status", "kind", "dash", "replay")},
    )


def _ward_choice(c: OpsContext) -> str:
    ward = request.values.get("ward") or session.get("ward") or request.cookies.get("ward")
    if ward not in {w.id for w in c.campus.wards}:
        ward = c.campus.wards[0].id
    return ward


@bp.route("/dispatch", methods=["GET", "POST"])
@roles_required("tasks.create")
def dispatch() -> Any:
    """A ward's delivery requests: STAT specimen to the lab is two clicks (STAT, Send)."""
    c = ctx()
    who = current_principal()
    assert who is not None
    ward = _ward_choice(c)
    session["ward"] = ward
    errors: dict[str, str] = {}
    form = {"kind": "specimen", "priority": "routine"}
    if request.method == "POST":
        form = {"kind": request.form.get("kind", "specimen"), "priority": request.form.get("priority", "routine")}
        data: dict[str, Any] = {"ward": ward, **form}
        try:
            task, ward_id = build_task(c, data, requester=who.username)
            pin = new_pin()
            rec = c.store.add_task(task, actor=who.username, pin=pin, ward=ward_id)
        except FieldError as exc:
            errors[exc.field] = exc.message
        except (ValueError, DuplicateError) as exc:
            errors["form"] = str(exc)
        else:
            live.publish_task(rec)
            session["shown_pin"] = {"task": rec.id, "pin": pin}
            return redirect(url_for("pages.dispatch", ward=ward, created=rec.id))
    created = request.args.get("created")
    shown = session.pop("shown_pin", None) if created else None
    shown_pin: str | None = shown["pin"] if shown and shown.get("task") == created else None
    history = [task_json(r, c.campus) for r in c.store.list_tasks(ward=ward, limit=500)]
    history.sort(key=lambda t: t["created_at"], reverse=True)
    created_task = next((h for h in history if h["id"] == created), None) if created else None
    wards = [{"id": w.id, "name": w.name, "name_zh": w.name_zh} for w in c.campus.wards]
    resp = current_app.make_response(
        render_template(
            "dispatch.html",
            ward=ward,
            wards=wards,
            form=form,
            errors=errors,
            created=created,
            created_task=created_task,
            pin=shown_pin,
            history=history[:50],
        )
    )
    resp.set_cookie("ward", ward, max_age=180 * 24 * 3600, samesite="Lax", httponly=True)
    if errors:
        resp.status_code = 422
    return resp


@bp.route("/dispatch/<task_id>/cancel", methods=["POST"])
@roles_required("tasks.cancel")
def cancel(task_id: str) -> Any:
    c = ctx()
    who = current_principal()
    assert who is not None
    try:
        rec = c.store.transition_task(
            task_id, TaskStatus.CANCELLED, actor=who.username, reason="cancelled on the ward page"
        )
        live.publish_task(rec)
    except (NotFoundError, IllegalTransitionError):
        pass
    return redirect(url_for("pages.dispatch", ward=request.form.get("ward")))


@bp.route("/handover")
@roles_required("custody.handover")
def handover() -> Any:
    """Deliveries leaving or arriving here, to load or take out with the PIN: the pharmacy, the
    laboratory, or a ward nurse's own nurse station (her ward, as on the dispatch page)."""
    c = ctx()
    who = current_principal()
    assert who is not None
    ward = None
    if who.role == "ward_staff":
        ward = _ward_choice(c)
        session["ward"] = ward
    here = staff_locations(c.campus, who.role, ward)
    if here is None:  # admin: the pharmacy and the laboratory
        here = {loc.id for k in (LocationKind.LAB, LocationKind.PHARMACY) for loc in c.campus.by_kind(k)}
    ready = ready_task_ids(c)
    tasks = [
        task_json(r, c.campus) | {"ready": r.id in ready}
        for r in c.store.open_tasks()
        if r.task.pickup in here or r.task.dropoff in here
    ]
    outgoing = [t for t in tasks if t["pickup"] in here]
    incoming = [t for t in tasks if t["dropoff"] in here and t["pickup"] not in here]
    return render_template(
        "handover.html",
        outgoing=outgoing,
        incoming=incoming,
        here=sorted(here),
        role=who.role,
        can_ready=who.role in ROLE_MATRIX["tasks.ready"],
    )


def ready_task_ids(c: OpsContext, hours: int = 24) -> set[str]:
    """Tasks a pharmacist or the laboratory marked ready (audit ``task.ready``) in the last hours."""
    since = datetime.fromtimestamp(c.now_s() - hours * 3600, UTC)
    return {e.subject.removeprefix("task:") for e in c.store.audit_log(action="task.ready", since=since)}


@bp.route("/handover/<task_id>/ready", methods=["POST"])
@roles_required("tasks.ready")
def mark_ready(task_id: str) -> Any:
    c = ctx()
    who = current_principal()
    assert who is not None
    try:
        rec = c.store.get_task(task_id)
    except NotFoundError:
        return redirect(url_for("pages.handover"))
    if not rec.status.terminal:
        c.store.audit(who.username, "task.ready", f"task:{task_id}", {"status": rec.status.value})
        live.publish_task(rec, ready=True)
    return redirect(url_for("pages.handover", ready=task_id))
