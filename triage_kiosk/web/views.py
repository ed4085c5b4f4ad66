"""The kiosk screens (``/kiosk/...``): consent → check-in (camera or ID / QR) → registration if
unknown → complaint → questions → vitals → result.

A patient with a booked appointment for today is checked in for it when identified and goes to
the appointment screen instead (department, directions, "pay later" status): from there to the
appointment, or, when they feel worse, through the triage screens; a red-flag symptom ticked there
is triaged at once (alert and "a nurse is coming" like any red flag).

Pages authenticate as a kiosk device: staff activate a kiosk once with its device token, which
turns into a session for that kiosk (``session["user"]`` = device id, role ``kiosk``). Every form
answers bad input with the same screen, the values kept, and a message per field; the JSON
endpoints answer ``{"error": {"status", "message", "field"}}``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import cv2
import numpy as np
from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for

from hospital_ops.store import Store
from ops_dashboard.auth import ROLE_MATRIX, current_principal
from ops_dashboard.extensions import limiter
from triage_kiosk.identity.errors import IdentityError, InvalidFrameError
from triage_kiosk.triage.model import VITAL_FIELDS
from triage_kiosk.web import service
from triage_kiosk.web.forms import (
    ONSET_CHOICES,
    Answers,
    Problems,
    Submitted,
    ask_pregnancy,
    parse_appointment,
    parse_complaint,
    parse_consent,
    parse_fallback,
    parse_questions,
    parse_registration,
    parse_vitals,
)
from triage_kiosk.web.service import KioskContext, Visit
from triage_kiosk.web.text import GROUPS, both, kt, lang, pick

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint(
    "kiosk",
    __name__,
    url_prefix="/kiosk",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

KIOSK_ROLES = ROLE_MATRIX["checkins.create"]
VISIT_KEY = "kiosk_visit"
MIN_FRAMES, MAX_FRAMES = 6, 40
MAX_FRAME_BYTES = 600_000
_DATA_URL = re.compile(r"^data:image/(jpeg|png|webp);base64,(.+)$", re.S)


def kctx() -> KioskContext:
    return current_app.extensions["triage_kiosk"]  # type: ignore[no-any-return]


def store() -> Store:
    return current_app.extensions["hospital_ops"].store  # type: ignore[no-any-return]


def json_error(status: int, message: str, field: str | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"status": status, "message": message}
    if field:
        body["field"] = field
    body.update(extra)
    return jsonify({"error": body}), status


def problems_json(problems: Problems, status: int = 422) -> Any:
    name = next(iter(problems))
    en, zh = problems[name]
    return json_error(
        status,
        zh if lang() == "zh" else en,
        name,
        message_en=en,
        message_zh=zh,
        fields={k: v[0] for k, v in problems.items()},
    )


def kiosk_required(*, json: bool = False) -> Callable[[F], F]:
    """Only a kiosk session (or an admin trying the screens); anonymous browsers go to activation."""

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = current_principal()
            if who is None:
                if json:
                    return json_error(401, "activate this kiosk with its device token first")
                return redirect(url_for("kiosk.activate"))
            if who.role not in KIOSK_ROLES:
                if json:
                    return json_error(403, f"role {who.role} may not use the kiosk screens")
                return render_page("kiosk/forbidden.html", status=403, role=who.role)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def kiosk_id() -> str:
    who = current_principal()
    assert who is not None
    return who.username


def current_visit() -> Visit | None:
    """The visit of this kiosk session (marked used); saved again after the request (:func:`_save_visit`)."""
    visit = kctx().visits.get(session.get(VISIT_KEY), kiosk_id())
    g.kiosk_visit = visit
    return visit


@bp.after_request
def _save_visit(response: Any) -> Any:
    """Write back the visit this request loaded and changed (any worker may serve the next one)."""
    visit: Visit | None = g.pop("kiosk_visit", None)
    if visit is not None:
        kctx().visits.save(visit)
    return response


PAGE_OF_STEP = {
    "consent": "kiosk.consent",
    "camera": "kiosk.camera",
    "fallback": "kiosk.fallback",
    "register": "kiosk.register",
    "appointment": "kiosk.appointment",
    "complaint": "kiosk.complaint",
    "questions": "kiosk.questions",
    "vitals": "kiosk.vitals",
    "result": "kiosk.result",
}
PROGRESS = ("consent", "identify", "complaint", "questions", "vitals", "result")
#: The progress bar of a booked patient going straight to the appointment.
APPOINTMENT_PROGRESS = ("consent", "identify", "appointment")


def with_visit(*allowed: str) -> Callable[[F], F]:
    """The page needs a visit at one of ``allowed`` steps; otherwise go where the visit is."""

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            visit = current_visit()
            if visit is None:
                if request.method == "POST":
                    return render_page("kiosk/start.html", status=409, notice=both("session.expired"))
                return redirect(url_for("kiosk.index"))
            step = visit.step()
            if step not in allowed:
                return redirect(url_for(PAGE_OF_STEP[step]))
            return fn(visit, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def render_page(template: str, *, status: int = 200, **context: Any) -> Any:
    ctx = kctx()
    context.setdefault("problems", {})
    context.setdefault("form", {})
    context.setdefault("progress", PROGRESS)
    return (
        render_template(
            template,
            kt=kt,
            both=both,
            pick=pick,
            lang=lang(),
            engine=ctx.engine,
            face_enabled=ctx.face_enabled,
            **context,
        ),
        status,
    )


def form_page(template: str, visit: Visit, name: str, problems: Problems, **context: Any) -> Any:
    """Re-show a form after bad input: 422, every value kept, a message per field."""
    return render_page(template, status=422, visit=visit, problems=problems, form=visit.forms.get(name, {}), **context)


# -- activation and start ------------------------------------------------------------------------


@bp.route("/activate", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def activate() -> Any:
    if request.method == "GET":
        return render_page("kiosk/activate.html")
    token = (request.form.get("token") or "").strip()
    device = store().verify_device_token(token) if token else None
    if device is None or device.kind != "kiosk":
        store().audit("?", "kiosk.activate_failed", "device:?", {"ip": request.remote_addr or ""})
        return render_page("kiosk/activate.html", status=401, problems={"token": both("activate.bad")})
    session.clear()
    session["user"] = device.device_id
    session["role"] = "kiosk"
    session.permanent = True
    store().audit(device.device_id, "kiosk.activate", f"device:{device.device_id}", {"ip": request.remote_addr or ""})
    return redirect(url_for("kiosk.index"))


@bp.route("/")
@kiosk_required()
def index() -> Any:
    return render_page("kiosk/start.html")


@bp.route("/start", methods=["POST"])
@kiosk_required()
def start() -> Any:
    ctx = kctx()
    ctx.visits.end(session.get(VISIT_KEY))
    visit = ctx.visits.new(kiosk_id())
    session[VISIT_KEY] = visit.id
    return redirect(url_for("kiosk.consent"))


@bp.route("/finish", methods=["POST"])
@kiosk_required()
def finish() -> Any:
    kctx().visits.end(session.pop(VISIT_KEY, None))
    return redirect(url_for("kiosk.index"))


# -- consent and check-in ------------------------------------------------------------------------


@bp.route("/consent", methods=["GET", "POST"])
@kiosk_required()
@with_visit("consent", "camera", "fallback")
def consent(visit: Visit) -> Any:
    if request.method == "GET":
        return render_page("kiosk/consent.html", visit=visit)
    sub = Submitted(request.form)
    visit.forms["consent"] = sub.raw()
    choice, problems = parse_consent(sub)
    if problems:
        return form_page("kiosk/consent.html", visit, "consent", problems)
    visit.face_consent = choice
    if choice and kctx().face_enabled:
        visit.challenge = kctx().new_challenge()
        visit.face_attempts = 0
        return redirect(url_for("kiosk.camera"))
    return redirect(url_for("kiosk.fallback"))


@bp.route("/camera")
@kiosk_required()
@with_visit("camera")
def camera(visit: Visit) -> Any:
    ctx = kctx()
    if not ctx.face_enabled:
        return render_page("kiosk/camera.html", visit=visit, challenge=None)
    if visit.challenge is None:
        visit.challenge = ctx.new_challenge()
    return render_page(
        "kiosk/camera.html",
        visit=visit,
        challenge=visit.challenge,
        capture_frames=ctx.capture_frames,
        capture_interval_ms=ctx.capture_interval_ms,
    )


def _decode_frames(body: Any) -> tuple[list[np.ndarray], list[float] | None, Problems]:
    frames_in = body.get("frames") if isinstance(body, dict) else None
    if not isinstance(frames_in, list):
        return [], None, {"frames": ("frames: expected a list of image data URLs", "frames：应为图像列表")}
    if not MIN_FRAMES <= len(frames_in) <= MAX_FRAMES:
        return (
            [],
            None,
            {
                "frames": (
                    f"frames: expected {MIN_FRAMES} to {MAX_FRAMES} pictures, got {len(frames_in)}",
                    f"frames：需要{MIN_FRAMES}到{MAX_FRAMES}张图像，收到{len(frames_in)}张",
                )
            },
        )
    frames: list[np.ndarray] = []
    for i, item in enumerate(frames_in):
        m = _DATA_URL.match(item) if isinstance(item, str) else None
        if m is None:
            return [], None, {f"frames[{i}]": (f"frames[{i}]: not a JPEG/PNG data URL", f"frames[{i}]：不是图像数据")}
        try:
            raw = base64.b64decode(m.group(2), validate=True)
        except (binascii.Error, ValueError):
            return [], None, {f"frames[{i}]": (f"frames[{i}]: not valid base64", f"frames[{i}]：base64 无效")}
        if len(raw) > MAX_FRAME_BYTES:
            return (
                [],
                None,
                {f"frames[{i}]": (f"frames[{i}]: larger than {MAX_FRAME_BYTES} bytes", f"frames[{i}]：图像过大")},
            )
        bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            return [], None, {f"frames[{i}]": (f"frames[{i}]: cannot be decoded as an image", f"frames[{i}]：无法解码")}
        h, w = bgr.shape[:2]
        if not (160 <= w <= 1920 and 120 <= h <= 1440):
            return (
                [],
                None,
                {
                    f"frames[{i}]": (
                        f"frames[{i}]: {w}×{h} pixels; expected between 160×120 and 1920×1440",
                        f"frames[{i}]：尺寸{w}×{h}不在允许范围内",
                    )
                },
            )
        frames.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    ts_in = body.get("timestamps_ms")
    if ts_in is None:
        return frames, None, {}
    if (
        not isinstance(ts_in, list)
        or len(ts_in) != len(frames)
        or not all(isinstance(t, int | float) and not isinstance(t, bool) for t in ts_in)
        or any(b < a for a, b in itertools.pairwise(ts_in))
    ):
        return (
            [],
            None,
            {
                "timestamps_ms": (
                    "timestamps_ms: one non-decreasing number (milliseconds) per frame",
                    "timestamps_ms：每帧一个非递减的毫秒数",
                )
            },
        )
    t0 = float(ts_in[0])
    return frames, [(float(t) - t0) / 1000.0 for t in ts_in], {}


@bp.route("/api/face", methods=["POST"])
@kiosk_required(json=True)
def face() -> Any:
    visit = current_visit()
    if visit is None:
        return json_error(409, "no visit in progress: press Start", "visit", next=url_for("kiosk.index"))
    if visit.step() != "camera":
        return json_error(
            409,
            f"visit: the camera step is over (now at {visit.step()})",
            "visit",
            next=url_for(PAGE_OF_STEP[visit.step()]),
        )
    ctx = kctx()
    if not ctx.face_enabled:
        return json_error(503, "face check-in is not configured on this kiosk", next=url_for("kiosk.fallback"))
    if (request.content_length or 0) > MAX_FRAMES * MAX_FRAME_BYTES * 4 // 3 + 65_536:
        return json_error(413, f"body: too large (at most {MAX_FRAMES} pictures of {MAX_FRAME_BYTES} bytes)", "body")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "body: expected a JSON object with frames", "body")
    frames, times, problems = _decode_frames(body)
    if problems:
        return problems_json(problems)
    try:
        out = service.face_attempt(store(), ctx, visit, frames, times)
    except InvalidFrameError as exc:
        return json_error(422, str(exc), "frames")
    except IdentityError as exc:
        current_app.logger.warning("face check-in failed at %s: %s", visit.kiosk_id, exc)
        visit.face_consent = False
        return json_error(
            503, "face check-in is not available; use the ID card or QR code", next=url_for("kiosk.fallback")
        )
    data: dict[str, Any] = {
        "status": out.status,
        "message": pick(out.message),
        "message_en": out.message[0],
        "message_zh": out.message[1],
        "retry": out.retry,
        "next": url_for(PAGE_OF_STEP[out.next_step]) if out.next_step else None,
        "attempts": visit.face_attempts,
    }
    if out.challenge is not None:
        data["challenge"] = {
            "code": out.challenge.value,
            "prompt": pick((out.challenge.prompt_en, out.challenge.prompt_zh)),
        }
    return jsonify(data)


@bp.route("/fallback", methods=["GET", "POST"])
@kiosk_required()
@with_visit("consent", "camera", "fallback")
def fallback(visit: Visit) -> Any:
    if request.method == "GET":
        return render_page("kiosk/fallback.html", visit=visit)
    sub = Submitted(request.form)
    # never keep a typed ID number in the re-shown form values (it is re-typed on error)
    visit.forms["fallback"] = {"qr_token": sub.text("qr_token")}
    visit.face_consent = False
    answer, problems = parse_fallback(sub)
    if not problems:
        problems = service.fallback_check_in(store(), kctx(), visit, answer.id_number, answer.qr_token)
    if problems:
        return form_page("kiosk/fallback.html", visit, "fallback", problems)
    return redirect(url_for(PAGE_OF_STEP[visit.step()]))


@bp.route("/register", methods=["GET", "POST"])
@kiosk_required()
@with_visit("register")
def register(visit: Visit) -> Any:
    ctx = kctx()
    prefill: dict[str, Any] = {}
    if visit.id_number:
        from triage_kiosk.identity.fallback import validate_resident_id

        rid = validate_resident_id(visit.id_number, today=ctx.today())
        prefill = {"birth_year": str(rid.birth_date.year), "sex": "male" if rid.male else "female"}
    if request.method == "GET":
        return render_page("kiosk/register.html", visit=visit, form=visit.forms.get("register") or prefill)
    sub = Submitted(request.form)
    raw = sub.raw()
    raw.pop("id_number", None)
    visit.forms["register"] = raw
    reg, problems = parse_registration(sub, today=ctx.today(), can_enrol=bool(visit.enrol_frames))
    if reg is not None:
        _, problems = service.register(store(), ctx, visit, reg)
    if problems:
        return form_page("kiosk/register.html", visit, "register", problems)
    return redirect(url_for(PAGE_OF_STEP[visit.step()]))


# -- appointment (a booked outpatient) -------------------------------------------------------------


def _appointment_context(visit: Visit, progress: tuple[str, ...] = APPOINTMENT_PROGRESS) -> dict[str, Any]:
    return {"arrival": visit.arrival, "red_flags": kctx().red_flags(), "progress": progress}


@bp.route("/appointment", methods=["GET", "POST"])
@kiosk_required()
@with_visit("appointment")
def appointment(visit: Visit) -> Any:
    """Checked in for today's appointment: where to go, "pay later" status; feeling worse or a red
    flag leads to triage (a red flag at once), otherwise the patient goes to the appointment."""
    extra = _appointment_context(visit)
    if request.method == "GET":
        return render_page("kiosk/appointment.html", visit=visit, form=visit.forms.get("appointment", {}), **extra)
    sub = Submitted(request.form)
    visit.forms["appointment"] = {"feeling": sub.text("feeling"), "modifiers": sub.many("modifiers")}
    choice, flags, problems = parse_appointment(sub, [m.code for m in kctx().red_flags()])
    if problems:
        return form_page("kiosk/appointment.html", visit, "appointment", problems, **extra)
    assert visit.arrival is not None and visit.patient is not None
    to_triage = bool(flags) or choice != "as_booked"
    detail = {"visit": visit.id, "patient": visit.patient.id, "next": "triage" if to_triage else "appointment"}
    store().audit(visit.kiosk_id, "kiosk.appointment_answer", f"Appointment:{visit.arrival.appointment_id}", detail)
    if not to_triage:
        visit.appointment_choice = "as_booked"
        return redirect(url_for("kiosk.appointment"))
    visit.appointment_choice = "triage"
    if not flags:
        return redirect(url_for("kiosk.complaint"))
    # a red flag: assess now (the ruleset escalates it) rather than after three more screens
    visit.forms["questions"] = {"modifiers": sorted(flags)}
    visit.answers = Answers(modifiers=flags)
    visit.complaint_done = True
    problems = _finish_triage(visit)
    if problems:  # pragma: no cover - modifiers alone always make a valid triage input
        visit.answers, visit.complaint_done = None, False
        return redirect(url_for("kiosk.complaint"))
    return redirect(url_for("kiosk.result"))


# -- complaint, questions, vitals, result ----------------------------------------------------------


def complaint_groups() -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {}
    catalog = kctx().engine.ruleset.catalog
    for c in catalog.complaints.values():
        if c is catalog.fallback:
            continue
        groups.setdefault(c.group, []).append(c)
    return [(g, items) for g, items in groups.items()]


@bp.route("/complaint", methods=["GET", "POST"])
@kiosk_required()
@with_visit("complaint", "questions", "vitals")
def complaint(visit: Visit) -> Any:
    groups = complaint_groups()
    if request.method == "GET":
        form = visit.forms.get("complaint") or {
            "complaints": list(visit.complaints),
            "complaint_text": visit.complaint_text,
        }
        return render_page("kiosk/complaint.html", visit=visit, groups=groups, group_names=GROUPS, form=form)
    sub = Submitted(request.form)
    visit.forms["complaint"] = {"complaints": sub.many("complaints"), "complaint_text": sub.text("complaint_text")}
    (codes, text), problems = parse_complaint(sub, kctx().engine.ruleset)
    if problems:
        return form_page("kiosk/complaint.html", visit, "complaint", problems, groups=groups, group_names=GROUPS)
    visit.complaints, visit.complaint_text, visit.complaint_done = codes, text, True
    return redirect(url_for("kiosk.questions"))


def _questions_context(visit: Visit) -> dict[str, Any]:
    ctx = kctx()
    age = visit.age(ctx.today())
    sex = visit.patient.sex if visit.patient else None
    from hospital_ops.domain import Sex

    return {
        "ask_age": age is None,
        "ask_pregnant": ask_pregnancy(ctx.engine.ruleset, sex or Sex.UNKNOWN, age),
        "onset_choices": list(ONSET_CHOICES),
        "modifiers": list(ctx.engine.ruleset.modifiers.values()),
    }


@bp.route("/questions", methods=["GET", "POST"])
@kiosk_required()
@with_visit("questions", "vitals")
def questions(visit: Visit) -> Any:
    extra = _questions_context(visit)
    if request.method == "GET":
        return render_page("kiosk/questions.html", visit=visit, form=visit.forms.get("questions", {}), **extra)
    sub = Submitted(request.form)
    raw = sub.raw()
    raw["modifiers"] = sub.many("modifiers")
    visit.forms["questions"] = raw
    from hospital_ops.domain import Sex

    answers, problems = parse_questions(
        sub,
        kctx().engine.ruleset,
        sex=visit.patient.sex if visit.patient else Sex.UNKNOWN,
        known_age=visit.age(kctx().today()),
    )
    if problems:
        return form_page("kiosk/questions.html", visit, "questions", problems, **extra)
    visit.answers = answers
    return redirect(url_for("kiosk.vitals"))


@bp.route("/vitals", methods=["GET", "POST"])
@kiosk_required()
@with_visit("vitals")
def vitals(visit: Visit) -> Any:
    if request.method == "GET":
        form = visit.forms.get("vitals") or {k: f"{v:g}" for k, v in visit.device_vitals.items()}
        return render_page("kiosk/vitals.html", visit=visit, fields=VITAL_FIELDS, form=form)
    sub = Submitted(request.form)
    visit.forms["vitals"] = sub.raw()
    parsed, problems = parse_vitals(sub)
    source = sub.text("source") or "staff"
    if source not in ("staff", "device"):
        problems = {**problems, "source": ("source: choose staff or device", "录入方式：请选择工作人员或测量设备")}
    if problems or parsed is None:
        return form_page("kiosk/vitals.html", visit, "vitals", problems, fields=VITAL_FIELDS)
    visit.vitals, visit.vitals_source = parsed, source
    problems = _finish_triage(visit)
    if problems:
        return form_page("kiosk/vitals.html", visit, "vitals", problems, fields=VITAL_FIELDS)
    return redirect(url_for("kiosk.result"))


def _finish_triage(visit: Visit) -> Problems:
    """Assess and persist; a contradiction the single forms could not see is put on a field."""
    from ops_dashboard import live

    ctx = kctx()
    try:
        inp = service.triage_input(visit, ctx)
    except ValueError as exc:
        name = str(exc).split(":", 1)[0].removeprefix("vitals.")
        return {name: (str(exc), str(exc))}
    assert visit.patient is not None
    out = service.run_triage(
        store(),
        ctx,
        inp=inp,
        patient_id=visit.patient.id,
        check_in_id=visit.check_in_id,
        actor=visit.kiosk_id,
        kiosk_id=visit.kiosk_id,
        publish=live.publish_alert,
    )
    visit.result, visit.triage_id, visit.queue = out.result, out.record.id, out.queue
    visit.alert_id = out.alert.id if out.alert else None
    return {}


@bp.route("/api/vitals", methods=["POST"])
@kiosk_required(json=True)
def device_vitals() -> Any:
    """A measuring device attached to the kiosk sends vital signs for the visit in progress."""
    visit = current_visit()
    if visit is None:
        return json_error(409, "no visit in progress", "visit")
    if visit.step() == "result":
        return json_error(409, "visit: the result is already given; vitals can no longer change it", "visit")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "body: expected a JSON object of vital signs", "body")
    unknown = sorted(set(body) - set(VITAL_FIELDS))
    if unknown:
        return json_error(
            422, f"{unknown[0]}: not a vital sign (expected one of {', '.join(VITAL_FIELDS)})", unknown[0]
        )
    parsed, problems = parse_vitals(Submitted(body))
    if problems or parsed is None:
        return problems_json(problems)
    for name in VITAL_FIELDS:
        value = getattr(parsed, name)
        if value is not None:
            visit.device_vitals[name] = value
    return jsonify({"accepted": dict(visit.device_vitals)})


@bp.route("/result")
@kiosk_required()
@with_visit("result")
def result(visit: Visit) -> Any:
    assert visit.result is not None
    data = service.result_json(kctx().engine, visit.result)
    return render_page(
        "kiosk/result.html", visit=visit, result=visit.result, data=data, **_appointment_context(visit, PROGRESS)
    )
