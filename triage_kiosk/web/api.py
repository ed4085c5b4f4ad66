"""REST endpoints for check-ins and triage results (``/api/v1/checkins``, ``/api/v1/triage``).

Devices (kiosk tokens) and scripts create; operations managers and admins read. Bad input answers
422 with ``{"error": {"status", "message", "field"}}`` naming the field; a created check-in or
triage result is in the database before the 201 leaves, and a red flag has raised its alert.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from hospital_ops.domain import CheckIn, CheckInMethod, Mental, Sex
from hospital_ops.store import DuplicateError, InvalidInputError, NotFoundError, Store
from ops_dashboard.auth import api_error, current_principal, roles_required
from triage_kiosk.triage.model import ArrivalMode, TriageInput
from triage_kiosk.web import service
from triage_kiosk.web.forms import Submitted, parse_vitals
from triage_kiosk.web.service import KioskContext

bp = Blueprint("kiosk_api", __name__, url_prefix="/api/v1")

MAX_LIMIT = 1000


def _store() -> Store:
    return current_app.extensions["hospital_ops"].store  # type: ignore[no-any-return]


def _ctx() -> KioskContext:
    return current_app.extensions["triage_kiosk"]  # type: ignore[no-any-return]


def _body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _limit() -> int | Any:
    raw = request.args.get("limit", "100")
    try:
        n = int(raw)
    except ValueError:
        return api_error(422, f"limit: expected a whole number 1..{MAX_LIMIT}, got {raw!r}", field="limit")
    if not 1 <= n <= MAX_LIMIT:
        return api_error(422, f"limit: expected 1..{MAX_LIMIT}, got {n}", field="limit")
    return n


def check_in_json(c: CheckIn) -> dict[str, Any]:
    return {
        "id": c.id,
        "patient_id": c.patient_id,
        "kiosk_id": c.kiosk_id,
        "method": c.method.value,
        "at_s": c.at_s,
        "appointment_id": c.appointment_id,
    }


def _text(body: dict[str, Any], name: str, *, required: bool = False, max_len: int = 64) -> str | Any | None:
    value = body.get(name)
    if value is None:
        if required:
            return api_error(422, f"{name}: required", field=name)
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        return api_error(422, f"{name}: expected text of 1..{max_len} characters", field=name)
    return value.strip()


@bp.route("/checkins", methods=["GET"])
@roles_required("checkins.read")
def list_check_ins() -> Any:
    """Check-ins, newest first (filters: patient_id, kiosk_id, limit)."""
    limit = _limit()
    if not isinstance(limit, int):
        return limit
    rows = _store().check_ins(
        patient_id=request.args.get("patient_id") or None, kiosk_id=request.args.get("kiosk_id") or None, limit=limit
    )
    return jsonify([check_in_json(c) for c in rows])


@bp.route("/checkins", methods=["POST"])
@roles_required("checkins.create")
def create_check_in() -> Any:
    """Check a known patient in (e.g. a kiosk after its own identification, or staff at a desk)."""
    who = current_principal()
    assert who is not None
    body = _body()
    if body is None:
        return api_error(400, "body: expected a JSON object", field="body")
    fields: dict[str, Any] = {}
    for name, required in (("patient_id", True), ("kiosk_id", False), ("appointment_id", False), ("id", False)):
        value = _text(body, name, required=required)
        if value is not None and not isinstance(value, str):
            return value
        fields[name] = value
    method = body.get("method")
    if not isinstance(method, str) or method not in {m.value for m in CheckInMethod}:
        allowed = ", ".join(m.value for m in CheckInMethod)
        return api_error(422, f"method: expected one of {allowed}, got {method!r}", field="method")
    fields["method"] = CheckInMethod(method)
    at_s = body.get("at_s", int(_ctx().clock()))
    if isinstance(at_s, bool) or not isinstance(at_s, int) or at_s < 0:
        return api_error(422, f"at_s: expected Unix seconds (a whole number >= 0), got {at_s!r}", field="at_s")
    rec = CheckIn(
        id=fields["id"] or f"C-{secrets.token_hex(6).upper()}",
        patient_id=fields["patient_id"],
        kiosk_id=fields["kiosk_id"] or who.username,
        method=fields["method"],
        at_s=at_s,
        appointment_id=fields["appointment_id"],
    )
    try:
        saved = _store().add_check_in(rec, actor=who.username)
    except NotFoundError:
        return api_error(422, f"patient_id: no patient {rec.patient_id}", field="patient_id")
    except DuplicateError:
        return api_error(409, f"id: check-in {rec.id} already exists", field="id")
    except InvalidInputError as exc:
        return api_error(422, str(exc))
    return jsonify(check_in_json(saved)), 201


def triage_record_json(rec: Any) -> dict[str, Any]:
    data = service.result_json(_ctx().engine, rec.result)
    data.update(
        {
            "id": rec.id,
            "patient_id": rec.patient_id,
            "check_in_id": rec.check_in_id,
            "at": rec.at.isoformat(),
            "actor": rec.actor,
            "vitals": None
            if rec.vitals is None
            else {
                k: getattr(rec.vitals, k)
                for k in ("heart_rate", "resp_rate", "systolic_bp", "diastolic_bp", "temperature_c", "spo2")
            },
        }
    )
    return data


@bp.route("/triage", methods=["GET"])
@roles_required("triage.read")
def list_triage() -> Any:
    """Triage results, newest first (filters: patient_id, check_in_id, limit)."""
    limit = _limit()
    if not isinstance(limit, int):
        return limit
    rows = _store().triage_results(
        patient_id=request.args.get("patient_id") or None,
        check_in_id=request.args.get("check_in_id") or None,
        limit=limit,
    )
    return jsonify([triage_record_json(r) for r in rows])


def _enum(body: dict[str, Any], name: str, cls: Any) -> tuple[Any, Any]:
    value = body.get(name)
    if value is None:
        return None, None
    try:
        return cls(value), None
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        return None, api_error(422, f"{name}: expected one of {allowed}, got {value!r}", field=name)


def _codes(body: dict[str, Any], name: str) -> tuple[tuple[str, ...], Any]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return (), api_error(422, f"{name}: expected a list of codes", field=name)
    return tuple(value), None


@bp.route("/triage", methods=["POST"])
@roles_required("triage.create")
def create_triage() -> Any:
    """Assess a patient with the kiosk's rules, store the result; a red flag raises a live alert."""
    from ops_dashboard import live

    who = current_principal()
    assert who is not None
    body = _body()
    if body is None:
        return api_error(400, "body: expected a JSON object", field="body")
    store, ctx = _store(), _ctx()
    pid = body.get("patient_id")
    if not isinstance(pid, str) or not pid:
        return api_error(422, "patient_id: required", field="patient_id")
    try:
        patient = store.get_patient(pid)
    except NotFoundError:
        return api_error(422, f"patient_id: no patient {pid}", field="patient_id")
    check_in_id = body.get("check_in_id")
    if check_in_id is not None and (not isinstance(check_in_id, str) or not check_in_id):
        return api_error(422, "check_in_id: expected a check-in id", field="check_in_id")
    age = body.get("age")
    if age is None and patient.birth_year is not None:
        age = max(0, ctx.today().year - patient.birth_year)
    if age is None:
        return api_error(422, "age: required (the patient has no year of birth on record)", field="age")
    sex, err = _enum(body, "sex", Sex)
    if err:
        return err
    mental, err = _enum(body, "mental", Mental)
    if err:
        return err
    arrival, err = _enum(body, "arrival", ArrivalMode)
    if err:
        return err
    complaints, err = _codes(body, "complaints")
    if err:
        return err
    modifiers, err = _codes(body, "modifiers")
    if err:
        return err
    unknown = [c for c in complaints if c not in ctx.engine.ruleset.catalog.complaints]
    if unknown:
        return api_error(422, f"complaints: unknown complaint code {unknown[0]!r}", field="complaints")
    vitals_in = body.get("vitals", {})
    if not isinstance(vitals_in, dict):
        return api_error(422, "vitals: expected an object of vital signs", field="vitals")
    vitals, problems = parse_vitals(Submitted(vitals_in))
    if problems or vitals is None:
        name = next(iter(problems))
        return api_error(422, f"vitals.{problems[name][0]}", field=f"vitals.{name}")
    try:
        inp = TriageInput(
            age=age,
            sex=sex or patient.sex,
            complaints=complaints,
            complaint_text=body.get("complaint_text", ""),
            onset_hours=body.get("onset_hours"),
            pain=body.get("pain"),
            mental=mental,
            vitals=vitals,
            arrival=arrival,
            injury=body.get("injury"),
            pregnant=body.get("pregnant"),
            modifiers=frozenset(modifiers),
        )
        out = service.run_triage(
            store,
            ctx,
            inp=inp,
            patient_id=pid,
            check_in_id=check_in_id,
            actor=who.username,
            kiosk_id=who.username,
            publish=live.publish_alert,
        )
    except NotFoundError as exc:
        return api_error(422, f"check_in_id: {exc}", field="check_in_id")
    except InvalidInputError as exc:
        return api_error(422, str(exc), field="check_in_id" if "check_in" in str(exc) else None)
    except ValueError as exc:  # TriageInput and the engine name the field first
        message = str(exc)
        return api_error(422, message, field=message.split(":", 1)[0])
    data = triage_record_json(out.record)
    data["queue"] = out.queue
    data["alert_id"] = out.alert.id if out.alert else None
    return jsonify(data), 201


def document(spec: Any, app: Any) -> None:
    """Describe these endpoints in the app's OpenAPI document (/api/openapi.json), next to the
    flask-smorest ones, so clients and the API fuzz test see check-ins and triage results too."""
    error = {"description": "error naming the field", "content": {"application/json": {"schema": {"type": "object"}}}}
    listed = {"description": "newest first", "content": {"application/json": {"schema": {"type": "array"}}}}
    made = {"description": "stored before this answer", "content": {"application/json": {"schema": {"type": "object"}}}}
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}}

    def query(name: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": {"type": "string"}}

    def body(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
        schema = {"type": "object", "properties": props, "required": required}
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    text = {"type": "string", "minLength": 1, "maxLength": 64}
    codes = {"type": "array", "items": {"type": "string"}}
    vitals = {
        "type": "object",
        "properties": {
            k: {"type": "number"}
            for k in ("heart_rate", "resp_rate", "systolic_bp", "diastolic_bp", "temperature_c", "spo2")
        },
    }
    responses = {"400": error, "401": error, "403": error, "409": error, "422": error}
    rules = {r.rule: r for r in app.url_map.iter_rules()}
    spec.path(
        rule=rules["/api/v1/checkins"],
        operations={
            "get": {
                "tags": ["kiosk"],
                "summary": "Check-ins, newest first (operations manager, admin)",
                "parameters": [query("patient_id"), query("kiosk_id"), limit],
                "responses": {"200": listed, **responses},
            },
            "post": {
                "tags": ["kiosk"],
                "summary": "Check a known patient in (kiosk device, admin)",
                "requestBody": body(
                    {
                        "patient_id": text,
                        "method": {"type": "string", "enum": [m.value for m in CheckInMethod]},
                        "kiosk_id": text,
                        "appointment_id": text,
                        "id": text,
                        "at_s": {"type": "integer", "minimum": 0},
                    },
                    ["patient_id", "method"],
                ),
                "responses": {"201": made, **responses},
            },
        },
    )
    spec.path(
        rule=rules["/api/v1/triage"],
        operations={
            "get": {
                "tags": ["kiosk"],
                "summary": "Triage results, newest first (operations manager, admin)",
                "parameters": [query("patient_id"), limit],
                "responses": {"200": listed, **responses},
            },
            "post": {
                "tags": ["kiosk"],
                "summary": "Assess a patient with the rules, store the explained result; a red flag raises an alert",
                "requestBody": body(
                    {
                        "patient_id": text,
                        "check_in_id": text,
                        "age": {"type": "number", "minimum": 0, "maximum": 130},
                        "sex": {"type": "string", "enum": [s.value for s in Sex]},
                        "mental": {"type": "string", "enum": [m.value for m in Mental]},
                        "arrival": {"type": "string", "enum": [a.value for a in ArrivalMode]},
                        "complaints": codes,
                        "modifiers": codes,
                        "complaint_text": {"type": "string", "maxLength": 500},
                        "onset_hours": {"type": "number", "minimum": 0},
                        "pain": {"type": "integer", "minimum": 0, "maximum": 10},
                        "injury": {"type": "boolean"},
                        "pregnant": {"type": "boolean"},
                        "vitals": vitals,
                    },
                    ["patient_id"],
                ),
                "responses": {"201": made, **responses},
            },
        },
    )
