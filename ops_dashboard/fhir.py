"""The HL7 FHIR R4 endpoint (``/fhir/``) for the hospital information system (HIS).

Orders in (MedicationRequest, ServiceRequest, Patient, Appointment, transaction/batch Bundles),
deliveries and check-ins out (Task with its versions, Provenance, Encounter). JSON only
(``application/fhir+json``). The mapping is ``hospital_ops.fhir``; the persistence
``hospital_ops.store.orders``. Every accepted order is committed before the response leaves; a
transaction Bundle is all-or-nothing; bad input answers 4xx with an ``OperationOutcome`` naming
the element path and the reason, and changes nothing.

Who: writes need a bearer token of kind ``his`` (or ``admin``); reads also take staff sessions
(``fhir.read``); kiosks may call ``Appointment/$arrive``. See docs/fhir.md.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from hospital_ops import __version__
from hospital_ops.fhir import mapping as fm
from hospital_ops.fhir.mapping import FhirInputError, Issue
from hospital_ops.fhir.tables import MappingTables, load_tables
from hospital_ops.store import DuplicateError, IllegalTransitionError, InvalidInputError, NotFoundError, StoreError
from hospital_ops.store import orders as so
from hospital_ops.store.records import TaskRecord
from ops_dashboard import live
from ops_dashboard.auth import ROLE_MATRIX, current_principal
from ops_dashboard.services import OpsContext

F = TypeVar("F", bound=Callable[..., Any])
FHIR_JSON = "application/fhir+json"
#: Environment variable naming a folder with the four mapping tables (default: the shipped ones).
TABLES_ENV = "HOSPITAL_OPS_FHIR_TABLES"
ORDER_TYPES = ("MedicationRequest", "ServiceRequest")
MAX_COUNT = 1000

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


@bp.record_once
def _load_tables(state: BlueprintSetupState) -> None:
    """Load and check the mapping tables when the app is built: a broken table stops the start
    with a message naming the file, the entry and the reason."""
    ctx: OpsContext = state.app.extensions["hospital_ops"]
    state.app.extensions["hospital_ops_fhir"] = load_tables(os.environ.get(TABLES_ENV) or None, campus=ctx.campus)


class _AnyPath(PathConverter):
    """``path`` that also takes line breaks (``%0A``), which ``path`` does not: the catch-all must
    answer every path under /fhir with an OperationOutcome, not the app's HTML 404/405 page."""

    regex = r"[^/][\s\S]*?"


@bp.record_once
def _converters(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["fhir_path"] = _AnyPath


def ctx() -> OpsContext:
    return current_app.extensions["hospital_ops"]  # type: ignore[no-any-return]


def tables() -> MappingTables:
    return current_app.extensions["hospital_ops_fhir"]  # type: ignore[no-any-return]


def base_url() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix  # type: ignore[operator]


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def outcome(status: int, *issues: Issue) -> Response:
    return fhir_response(fm.operation_outcome(issues), status)


def fail(status: int, reason: str, path: str = "", code: str = "invalid") -> Response:
    return outcome(status, Issue(path, reason, code))


def fhir_roles(group: str, *, token_for_writes: bool = True) -> Callable[[F], F]:
    """Allow the roles of ``ROLE_MATRIX[group]`` (OperationOutcome 401/403 otherwise). Writes need
    a bearer token (no session cookie: no CSRF exposure)."""
    allowed = ROLE_MATRIX[group]

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = current_principal()
            if who is None:
                return fail(401, "send Authorization: Bearer <token> (a device token of kind 'his')", code="login")
            if who.role not in allowed:
                return fail(403, f"role {who.role} may not do this ({group})", code="forbidden")
            if token_for_writes and request.method != "GET" and not who.device:
                return fail(403, "writes to /fhir need a bearer token, not a browser session", code="forbidden")
            return fn(*args, **kwargs)

        wrapper.roles = allowed  # type: ignore[attr-defined]
        wrapper.role_group = group  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


@bp.errorhandler(FhirInputError)
def _fhir_input(exc: FhirInputError) -> Response:
    return outcome(exc.status, *exc.issues)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return fail(exc.code or 500, exc.description or exc.name, code="processing")


@bp.errorhandler(StoreError)
def _store(exc: StoreError) -> Response:
    if isinstance(exc, NotFoundError):
        return fail(404, str(exc), code="not-found")
    if isinstance(exc, DuplicateError):
        return fail(409, str(exc), code="duplicate")
    if isinstance(exc, IllegalTransitionError):
        return fail(409, str(exc), code="conflict")
    if isinstance(exc, InvalidInputError):
        return fail(422, str(exc), code="invalid")
    current_app.logger.exception("store error on %s", request.path)
    return fail(500, "the store refused the request; it has been logged", code="exception")


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s", request.path)
    return fail(500, "internal error; it has been logged", code="exception")


def _json() -> Any:
    """The request body as JSON (None if it is not JSON), whatever its Content-Type."""
    try:
        return request.get_json(force=True, silent=True)
    except RecursionError:  # nested too deeply for the JSON decoder: not a ValueError, not silenced
        raise FhirInputError(
            Issue("", f"the JSON is nested too deeply (at most {fm.MAX_DEPTH} levels)", "structure"), 400
        ) from None


def _body() -> Any:
    data = _json()
    if data is None:
        raise FhirInputError(Issue("", "the body must be a FHIR resource in JSON", "structure"), 400)
    return data


def _count() -> int:
    raw = request.args.get("_count", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
        raise FhirInputError(Issue("_count", f"must be a whole number 1-{MAX_COUNT}", "value"), 400)
    return int(raw)


def _check_params(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed - {"_count", "_format"})
    if unknown:
        raise FhirInputError(
            Issue(
                unknown[0],
                f"search parameter not supported here (supported: {', '.join(sorted(allowed))})",
                "not-supported",
            ),
            400,
        )


def _patient_token() -> tuple[str | None, str] | None:
    """(system, value) of the patient search (``patient.identifier``, ``patient:identifier``,
    ``subject:identifier``, or ``patient=Patient/<id>`` of a registered patient)."""
    for name in ("patient.identifier", "patient:identifier", "subject:identifier", "subject.identifier"):
        if name in request.args:
            return fm.split_token(request.args[name])
    for name in ("patient", "subject"):
        if name in request.args:
            value = request.args[name]
            pid = value.split("/", 1)[1] if value.startswith("Patient/") else value
            try:
                patient = ctx().store.get_patient(pid)
            except NotFoundError:
                return (None, "\x00no-such-patient")
            return tables().mrn_system, patient.mrn
    return None


PATIENT_PARAMS = {
    "patient",
    "subject",
    "patient.identifier",
    "patient:identifier",
    "subject:identifier",
    "subject.identifier",
}


def _known_patient(patient_id: str) -> str | None:
    try:
        return ctx().store.get_patient(patient_id).mrn
    except NotFoundError:
        return None


def _actor() -> str:
    who = current_principal()
    assert who is not None
    return f"his:{who.username}" if who.role == "his" else who.username


# ---- metadata --------------------------------------------------------------------------------


@bp.get("/metadata")
@fhir_roles("fhir.metadata")
def metadata() -> Response:
    """The CapabilityStatement (any authenticated caller)."""
    return fhir_response(fm.capability_statement(base_url(), __version__))


# ---- intake ----------------------------------------------------------------------------------


def _existing(rt: str, system: str | None, value: str) -> dict[str, Any] | None:
    """The stored resource with that business identifier, if any (for If-None-Exist)."""
    store = ctx().store
    if rt in ORDER_TYPES:
        found = (
            [so.find_order(store, system, value)]
            if system is not None
            else so.list_orders(store, identifier_value=value, resource_type=rt)
        )
        found = [o for o in found if o is not None and o.resource_type == rt]
        if len(found) > 1:
            raise FhirInputError(
                Issue("If-None-Exist", "matches more than one order; give system|value", "multiple-matches"), 412
            )
        return fm.order_resource(found[0]) if found else None
    if rt == "Patient":
        if system is not None and system != tables().mrn_system:
            return None
        patient = store.find_patient(mrn=value)
        return fm.patient_resource(patient, tables()) if patient is not None else None
    if rt == "Appointment":
        appt = so.find_appointment(store, system, value)
        return fm.appointment_resource(appt) if appt is not None else None
    return None


def _if_none_exist(header: str, rt: str) -> dict[str, Any] | None:
    name, sep, token = header.strip().lstrip("?").partition("=")
    if not sep or name != "identifier" or not token:
        raise FhirInputError(
            Issue("If-None-Exist", f"{header!r}: only 'identifier=system|value' is supported", "not-supported"), 400
        )
    system, value = fm.split_token(token)
    return _existing(rt, system, value)


def _stored(rt: str, result: so.IntakeResult) -> dict[str, Any]:
    store = ctx().store
    if rt in ORDER_TYPES:
        return fm.order_resource(so.get_order(store, result.id))
    if rt == "Appointment":
        return fm.appointment_resource(so.get_appointment(store, result.id))
    return fm.patient_resource(store.get_patient(result.id), tables())


def _publish(results: list[so.IntakeResult]) -> None:
    """Tell the live dashboards (after the commit)."""
    store = ctx().store
    for r in results:
        if r.task_id is not None and r.outcome in ("created", "cancelled"):
            live.publish_task(store.get_task(r.task_id))
        if r.alert_id is not None:
            for a in store.list_alerts(subject=f"task:{r.task_id}", limit=5):
                if a.id == r.alert_id:
                    live.publish_alert(a)


def _headers(rt: str, result: so.IntakeResult) -> dict[str, str]:
    headers = {"Location": f"{base_url()}/{rt}/{result.id}"}
    if result.task_id is not None:
        headers["X-Delivery-Task"] = f"Task/{result.task_id}"
    return headers


def _create(rt: str, put_id: str | None = None) -> Response:
    data = _body()
    model = fm.parse_resource(data, allowed=(rt,))
    header = request.headers.get("If-None-Exist")
    if header and put_id is None:
        existing = _if_none_exist(header, rt)
        if existing is not None:
            return fhir_response(existing, 200, {"Location": f"{base_url()}/{rt}/{existing['id']}"})
    c = ctx()
    item = fm.intake_of(model, tables(), now_s=c.now_s(), requester=_actor(), bundle=None, known_patient=_known_patient)
    if put_id is not None:
        own_id = item.patient.id if isinstance(item, so.PatientIntake) else getattr(item, "order_id", None)
        own_id = own_id or getattr(item, "appointment_id", None)
        if own_id != put_id:
            raise FhirInputError(
                Issue(f"{rt}.identifier", f"this identifier belongs to {rt}/{own_id}, not {rt}/{put_id}", "conflict"),
                409,
            )
    results = so.apply_intake_retrying(c.store, [item], actor=_actor())
    _publish(results)
    result = results[0]
    if request.headers.get("Prefer", "").replace(" ", "") == "return=OperationOutcome":
        body = fm.operation_outcome(
            [Issue("", f"{result.outcome}: {result.message}".strip(": "), "informational", "information")]
        )
    else:
        body = _stored(rt, result)
    return fhir_response(body, 201 if result.created else 200, _headers(rt, result))


def _register_create(rt: str) -> None:
    @fhir_roles("fhir.write")
    def create() -> Response:
        return _create(rt)

    @fhir_roles("fhir.write")
    def update(resource_id: str) -> Response:
        """PUT of a resource we hold (e.g. a status change): the same intake as POST; the id in the
        URL must be the one its identifier was given."""
        return _create(rt, resource_id)

    create.__name__ = f"create_{rt}"
    update.__name__ = f"update_{rt}"
    bp.add_url_rule(f"/{rt}", endpoint=f"create_{rt}", view_func=create, methods=["POST"])
    bp.add_url_rule(f"/{rt}/<resource_id>", endpoint=f"update_{rt}", view_func=update, methods=["PUT"])


for _rt in fm.INTAKE_TYPES:
    _register_create(_rt)


_STATUS_TEXT = {"created": "201 Created", "updated": "200 OK"}


@bp.post("/")
@fhir_roles("fhir.write")
def transaction() -> Response:
    """A transaction Bundle (all-or-nothing, in one database transaction) or a batch Bundle
    (entries applied one by one; any invalid entry refuses the whole Bundle before anything is applied)."""
    c = ctx()
    btype, entries = fm.bundle_intake(
        _body(), tables(), now_s=c.now_s(), requester=_actor(), known_patient=_known_patient
    )
    responses: dict[int, dict[str, Any]] = {}
    to_apply: list[fm.BundleEntry] = []
    for e in entries:
        if e.intake is None:
            responses[e.index] = {
                "status": "200 OK",
                "outcome": fm.operation_outcome(
                    [Issue("", "context only: not stored", "informational", "information")]
                ),
            }
            continue
        if e.if_none_exist:
            try:
                existing = _if_none_exist(e.if_none_exist, e.resource_type)
            except FhirInputError as exc:
                raise FhirInputError(
                    [Issue(f"Bundle.entry[{e.index}].request.ifNoneExist", i.reason, i.code) for i in exc.issues],
                    exc.status,
                ) from None
            if existing is not None:
                responses[e.index] = {"status": "200 OK", "location": f"{e.resource_type}/{existing['id']}"}
                continue
        to_apply.append(e)
    results: list[so.IntakeResult] = []
    if btype == "transaction":
        results = so.apply_intake_retrying(
            c.store, [e.intake for e in to_apply if e.intake is not None], actor=_actor()
        )
        pairs = list(zip(to_apply, results, strict=True))
    else:
        pairs = []
        for e in to_apply:
            assert e.intake is not None
            try:
                r = so.apply_intake_retrying(c.store, [e.intake], actor=_actor())[0]
            except StoreError as exc:
                responses[e.index] = {
                    "status": "409 Conflict" if isinstance(exc, DuplicateError) else "422 Unprocessable Entity",
                    "outcome": fm.operation_outcome([Issue(f"Bundle.entry[{e.index}].resource", str(exc))]),
                }
                continue
            results.append(r)
            pairs.append((e, r))
    _publish(results)
    for e, r in pairs:
        entry: dict[str, Any] = {
            "status": "201 Created" if r.created else _STATUS_TEXT.get(r.outcome, "200 OK"),
            "location": f"{e.resource_type}/{r.id}",
        }
        if r.message or r.task_id:
            text = f"{r.outcome}: {r.message}".strip(": ")
            if r.task_id:
                text += f" (Task/{r.task_id})"
            entry["outcome"] = fm.operation_outcome([Issue("", text, "informational", "information")])
        responses[e.index] = entry
    size = max([e.index for e in entries], default=-1) + 1
    bundle = {
        "resourceType": "Bundle",
        "type": f"{btype}-response",
        "entry": [{"response": responses.get(i, {"status": "200 OK"})} for i in range(size)],
    }
    return fhir_response(bundle, 200)


# ---- reads: orders, patients, appointments ---------------------------------------------------


def _register_order_reads(rt: str) -> None:
    @fhir_roles("fhir.read")
    def read(order_id: str) -> Response:
        order = so.get_order(ctx().store, order_id)
        if order.resource_type != rt:
            raise NotFoundError(f"{rt} {order_id}: no such {rt}")
        return fhir_response(fm.order_resource(order))

    @fhir_roles("fhir.read")
    def search() -> Response:
        _check_params({"identifier", "status"} | PATIENT_PARAMS)
        filters: dict[str, Any] = {"resource_type": rt, "limit": _count()}
        if "identifier" in request.args:
            _, filters["identifier_value"] = fm.split_token(request.args["identifier"])
        if "status" in request.args:
            filters["status"] = request.args["status"].split(",")
        patient = _patient_token()
        if patient is not None:
            filters["patient_value"] = patient[1]
        found = so.list_orders(ctx().store, **filters)
        if "identifier" in request.args:
            system, _ = fm.split_token(request.args["identifier"])
            found = [o for o in found if system is None or o.identifier[0] == system]
        if patient is not None and patient[0] is not None:
            found = [o for o in found if (o.patient_identifier or "").startswith(f"{patient[0]}|")]
        return fhir_response(fm.searchset([fm.order_resource(o) for o in found], base_url()))

    bp.add_url_rule(f"/{rt}/<order_id>", endpoint=f"read_{rt}", view_func=read, methods=["GET"])
    bp.add_url_rule(f"/{rt}", endpoint=f"search_{rt}", view_func=search, methods=["GET"])


for _rt in ORDER_TYPES:
    _register_order_reads(_rt)


@bp.get("/Patient/<patient_id>")
@fhir_roles("fhir.read")
def read_patient(patient_id: str) -> Response:
    return fhir_response(fm.patient_resource(ctx().store.get_patient(patient_id), tables()))


@bp.get("/Appointment/<appointment_id>")
@fhir_roles("fhir.read")
def read_appointment(appointment_id: str) -> Response:
    return fhir_response(fm.appointment_resource(so.get_appointment(ctx().store, appointment_id)))


@bp.get("/Appointment")
@fhir_roles("fhir.read")
def search_appointments() -> Response:
    _check_params({"status", "identifier"} | PATIENT_PARAMS)
    found = so.list_appointments(
        ctx().store, status=request.args["status"].split(",") if "status" in request.args else None
    )
    patient = _patient_token()
    if patient is not None:
        system, value = patient
        found = [
            a
            for a in found
            if a.patient_identifier is not None
            and a.patient_identifier.endswith(f"|{value}")
            and (system is None or a.patient_identifier.startswith(f"{system}|"))
        ]
    if "identifier" in request.args:
        system, value = fm.split_token(request.args["identifier"])
        found = [a for a in found if a.identifier[1] == value and (system is None or a.identifier[0] == system)]
    return fhir_response(fm.searchset([fm.appointment_resource(a) for a in found[: _count()]], base_url()))


# ---- Task (deliveries) -----------------------------------------------------------------------


def _task_json(rec: TaskRecord) -> dict[str, Any]:
    store = ctx().store
    return fm.task_resource(rec, store.task_history(rec.id), so.order_of_task(store, rec.id))


@bp.get("/Task/<task_id>")
@fhir_roles("fhir.read")
def read_task(task_id: str) -> Response:
    rec = ctx().store.get_task(task_id)
    body = _task_json(rec)
    return fhir_response(body, headers={"ETag": f'W/"{body["meta"]["versionId"]}"'})


@bp.get("/Task/<task_id>/_history")
@fhir_roles("fhir.read")
def task_history(task_id: str) -> Response:
    """Every version of the Task (one per status change), newest first."""
    store = ctx().store
    rec = store.get_task(task_id)
    versions = fm.task_versions(rec, store.task_history(task_id), so.order_of_task(store, task_id))
    entries = [
        {"fullUrl": f"{base_url()}/Task/{task_id}/_history/{v['meta']['versionId']}", "resource": v}
        for v in reversed(versions)
    ]
    return fhir_response({"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries})


@bp.get("/Task/<task_id>/_history/<int:version>")
@fhir_roles("fhir.read")
def task_version(task_id: str, version: int) -> Response:
    store = ctx().store
    rec = store.get_task(task_id)
    history = store.task_history(task_id)
    if not 1 <= version <= len(history):
        return fail(404, f"Task {task_id} has versions 1-{len(history)}", code="not-found")
    return fhir_response(fm.task_resource(rec, history, so.order_of_task(store, task_id), version=version))


def _task_statuses() -> list[str] | None:
    if "status" not in request.args:
        return None
    out = []
    for s in request.args["status"].split(","):
        domain = fm.FHIR_TASK_STATUS_TO_DOMAIN.get(s.strip())
        if domain is None:
            raise FhirInputError(
                Issue("status", f"{s!r} is not one of {', '.join(fm.FHIR_TASK_STATUS_TO_DOMAIN)}", "value"), 400
            )
        out.append(domain.value)
    return out


@bp.get("/Task")
@fhir_roles("fhir.read")
def search_tasks() -> Response:
    """Deliveries by patient identifier, status, order identifier or the order they are based on."""
    _check_params({"status", "identifier", "based-on"} | PATIENT_PARAMS)
    store = ctx().store
    count = _count()
    statuses = _task_statuses()
    patient = _patient_token()
    order_filter: dict[str, Any] | None = None
    if patient is not None:
        order_filter = {"patient_value": patient[1]}
    if "identifier" in request.args:
        system, value = fm.split_token(request.args["identifier"])
        order_filter = {**(order_filter or {}), "identifier_value": value}
    if "based-on" in request.args:
        ref = request.args["based-on"]
        oid = ref.split("/", 1)[1] if "/" in ref else ref
        try:
            order = so.get_order(store, oid)
        except NotFoundError:
            return fhir_response(fm.searchset([], base_url()))
        task_ids = [order.task_id] if order.task_id else []
    elif order_filter is not None:
        orders = so.list_orders(store, with_task=True, **order_filter)
        if patient is not None and patient[0] is not None:
            orders = [o for o in orders if (o.patient_identifier or "").startswith(f"{patient[0]}|")]
        if "identifier" in request.args:
            system, value = fm.split_token(request.args["identifier"])
            orders = [o for o in orders if system is None or o.identifier[0] == system]
        task_ids = [o.task_id for o in orders if o.task_id]
        # the delivery's own id is an identifier too
        if "identifier" in request.args and patient is None:
            _, value = fm.split_token(request.args["identifier"])
            with contextlib.suppress(NotFoundError):
                task_ids.append(store.get_task(value).id)
    else:
        recs = store.list_tasks(status=statuses, limit=count)
        return fhir_response(fm.searchset([_task_json(r) for r in recs], base_url()))
    recs = []
    for tid in dict.fromkeys(task_ids):
        rec = store.get_task(tid)
        if statuses is None or rec.status.value in statuses:
            recs.append(rec)
    recs.sort(key=lambda r: (r.task.deadline_s, r.id))
    return fhir_response(fm.searchset([_task_json(r) for r in recs[:count]], base_url()))


# ---- Provenance (custody hand-overs) ---------------------------------------------------------


@bp.get("/Provenance/<provenance_id>")
@fhir_roles("fhir.read")
def read_provenance(provenance_id: str) -> Response:
    parts = fm.split_provenance_id(provenance_id)
    if parts is None:
        return fail(404, f"Provenance {provenance_id}: no such hand-over", code="not-found")
    task_id, index = parts
    store = ctx().store
    events = store.custody_events(task_id=task_id)
    if not 1 <= index <= len(events):
        return fail(404, f"Provenance {provenance_id}: no such hand-over", code="not-found")
    return fhir_response(fm.provenance_resource(events[index - 1], index, so.order_of_task(store, task_id)))


@bp.get("/Provenance")
@fhir_roles("fhir.read")
def search_provenance() -> Response:
    _check_params({"target"} | PATIENT_PARAMS)
    store = ctx().store
    task_ids: list[str] = []
    if "target" in request.args:
        ref = request.args["target"]
        task_ids.append(ref.split("/", 1)[1] if ref.startswith("Task/") else ref)
    patient = _patient_token()
    if patient is not None:
        orders = so.list_orders(store, patient_value=patient[1], with_task=True)
        ids = [o.task_id for o in orders if o.task_id]
        task_ids = [t for t in task_ids if t in ids] if task_ids else ids
    if not task_ids and "target" not in request.args and patient is None:
        raise FhirInputError(Issue("target", "give target=Task/<id> or a patient", "required"), 400)
    out = []
    for tid in dict.fromkeys(task_ids):
        order = so.order_of_task(store, tid)
        for i, ev in enumerate(store.custody_events(task_id=tid), start=1):
            out.append(fm.provenance_resource(ev, i, order))
    return fhir_response(fm.searchset(out[: _count()], base_url()))


# ---- Encounter (kiosk check-ins) -------------------------------------------------------------


def _encounter(check_in_id: str) -> dict[str, Any]:
    store = ctx().store
    ci = store.get_check_in(check_in_id)
    triage = store.triage_results(check_in_id=check_in_id, limit=1)
    patient = store.get_patient(ci.patient_id)
    return fm.encounter_resource(
        ci,
        tables(),
        patient=patient,
        triage=triage[0].result if triage else None,
        triage_at=triage[0].at if triage else None,
    )


@bp.get("/Encounter/<check_in_id>")
@fhir_roles("fhir.read")
def read_encounter(check_in_id: str) -> Response:
    return fhir_response(_encounter(check_in_id))


@bp.get("/Encounter")
@fhir_roles("fhir.read")
def search_encounters() -> Response:
    _check_params({"status"} | PATIENT_PARAMS)
    store = ctx().store
    count = _count()
    statuses = set(request.args["status"].split(",")) if "status" in request.args else None
    patient = _patient_token()
    if patient is not None:
        system, value = patient
        if system not in (None, "", tables().mrn_system):
            return fhir_response(fm.searchset([], base_url()))
        found = store.find_patient(mrn=value)
        if found is None:
            return fhir_response(fm.searchset([], base_url()))
        check_ins = store.check_ins(patient_id=found.id, limit=MAX_COUNT)
    else:
        check_ins = store.check_ins(limit=MAX_COUNT)
    out = []
    for ci in check_ins:
        enc = _encounter(ci.id)
        if statuses is None or enc["status"] in statuses:
            out.append(enc)
        if len(out) >= count:
            break
    return fhir_response(fm.searchset(out, base_url()))


# ---- Appointment check-in (kiosk) ------------------------------------------------------------


def _arrive_params() -> tuple[str | None, int | None]:
    """(patient id, now) from a JSON body {"patient_id": ...} or a Parameters resource."""
    data = _json() or {}
    if not isinstance(data, dict):
        raise FhirInputError(Issue("", "the body must be a JSON object or a Parameters resource", "structure"), 400)
    patient_id = data.get("patient_id")
    if data.get("resourceType") == "Parameters":
        for p in data.get("parameter") or []:
            if isinstance(p, dict) and p.get("name") == "patient":
                patient_id = p.get("valueString") or (p.get("valueReference") or {}).get("reference", "").removeprefix(
                    "Patient/"
                )
    if patient_id is not None and (not isinstance(patient_id, str) or not patient_id):
        raise FhirInputError(Issue("patient_id", "must be a patient id (text)", "value"), 400)
    return patient_id, None


def _arrival_json(arrival: so.Arrival) -> dict[str, Any]:
    campus = ctx().campus
    loc = campus.locations.get(arrival.department or "")
    params: list[dict[str, Any]] = [
        {"name": "appointment", "resource": fm.appointment_resource(arrival.appointment)},
        {"name": "alreadyArrived", "valueBoolean": arrival.already_arrived},
    ]
    if arrival.department:
        params.append({"name": "department", "valueString": arrival.department})
    if loc is not None:
        params.append({"name": "departmentName", "valueString": loc.name})
        params.append({"name": "departmentNameZh", "valueString": loc.name_zh})
    if arrival.patient_id is not None:
        params.append({"name": "patient", "valueString": arrival.patient_id})
    if arrival.credit_care is not None:
        params.append({"name": "creditCare", "valueBoolean": arrival.credit_care})
    return {"resourceType": "Parameters", "parameter": params}


@bp.post("/Appointment/<appointment_id>/$arrive")
@fhir_roles("fhir.arrive")
def arrive(appointment_id: str) -> Response:
    """Check a patient in for this appointment (kiosk): ``arrived``, department, credit care."""
    patient_id, _ = _arrive_params()
    arrival = so.arrive_appointment(
        ctx().store, actor=_actor(), appointment_id=appointment_id, patient_id=patient_id, now_s=ctx().now_s()
    )
    return fhir_response(_arrival_json(arrival))


@bp.post("/Appointment/$arrive")
@fhir_roles("fhir.arrive")
def arrive_patient() -> Response:
    """Check a patient in for their booked appointment of today, the hospital's local day, nearest
    to now (body: {"patient_id": ...})."""
    patient_id, _ = _arrive_params()
    if patient_id is None:
        raise FhirInputError(Issue("patient_id", "is required (or call Appointment/<id>/$arrive)", "required"), 400)
    arrival = so.arrive_appointment(
        ctx().store, actor=_actor(), patient_id=patient_id, now_s=ctx().now_s(), tz=ctx().tz
    )
    return fhir_response(_arrival_json(arrival))


@bp.route("/<fhir_path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@fhir_roles("fhir.read", token_for_writes=False)
def not_supported(rest: str) -> Response:
    """Anything else under /fhir: an OperationOutcome, not an HTML page."""
    return fail(404, f"{request.method} /fhir/{rest} is not supported (see /fhir/metadata)", code="not-supported")
