"""HL7 FHIR R4 (``fhir.resources`` R4B models, FHIR 4.3.0) <-> the hospital's domain. Pure: no Flask.

In (validated through the ``fhir.resources`` models, then through the mapping tables):

- ``MedicationRequest`` (inpatient order) -> a pharmacy delivery to the patient's ward, after
  dispensing; controlled-substance schedule and cold chain from ``drugs.yaml``, STAT from
  ``priority`` (``intake.yaml``).
- ``ServiceRequest`` (laboratory test) -> a specimen pickup at the ward at collection time, to the
  laboratory, with the specimen's maximum transit from ``lab_tests.yaml``.
- ``Patient`` -> a registered patient (MRN identifier, name, birth year, sex, phone, credit care).
- ``Appointment`` -> a booked outpatient visit at a campus department (``locations.yaml``).
- ``Bundle`` (transaction / batch) of these; references between entries (``urn:uuid:``) resolve.

Out: a delivery and its status history -> ``Task`` (requested -> accepted -> in-progress ->
completed / failed / cancelled; one version per status change), custody hand-overs ->
``Provenance``, kiosk check-ins -> ``Encounter`` with the triage level.

Bad input raises :class:`FhirInputError` carrying :class:`Issue` s that name the element path
(``ServiceRequest.code.coding[0].code``) and the reason; :func:`operation_outcome` renders them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from pydantic import ValidationError

from hospital_ops.domain import (
    CheckIn,
    CustodyEvent,
    DeliveryTask,
    Handling,
    Patient,
    Priority,
    Sex,
    TaskKind,
    TaskStatus,
    TriageResult,
)
from hospital_ops.fhir.tables import MappingTables
from hospital_ops.store.orders import (
    AppointmentIntake,
    AppointmentRecord,
    Intake,
    OrderIntake,
    OrderRecord,
    PatientIntake,
)
from hospital_ops.store.records import StatusChange, TaskRecord

FHIR_VERSION = "4.3.0"  # R4B: the R4 resources used here are unchanged
EXT_BASE = "https://hospital-ops.example/fhir/StructureDefinition"
#: Extension on MedicationRequest / ServiceRequest naming the ward to deliver to / collect at
#: (valueReference to a Location, valueIdentifier, valueCode or valueString with the HIS ward code).
WARD_EXTENSION = f"{EXT_BASE}/delivery-ward"
#: Extension on Patient: the hospital lets the patient pay later (credit care). valueBoolean.
CREDIT_CARE_EXTENSION = f"{EXT_BASE}/credit-care"
#: Code system of our triage levels (1 = resuscitation ... 5 = non-urgent, ESI / KTAS numbering).
TRIAGE_SYSTEM = "https://hospital-ops.example/fhir/CodeSystem/triage-level"
#: Code system of the custody hand-over kinds (Provenance.activity).
CUSTODY_SYSTEM = "https://hospital-ops.example/fhir/CodeSystem/custody"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"

INTAKE_TYPES = ("MedicationRequest", "ServiceRequest", "Patient", "Appointment")
#: Resource types a transaction Bundle may carry only for references (not stored).
CONTEXT_TYPES = ("Encounter", "Location", "Medication")

MEDICATION_REQUEST_STATUSES = (
    "active",
    "on-hold",
    "cancelled",
    "completed",
    "entered-in-error",
    "stopped",
    "draft",
    "unknown",
)
SERVICE_REQUEST_STATUSES = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
MEDICATION_REQUEST_INTENTS = (
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
)
SERVICE_REQUEST_INTENTS = (*MEDICATION_REQUEST_INTENTS[:2], "directive", *MEDICATION_REQUEST_INTENTS[2:])
ORDER_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})
REQUEST_PRIORITIES = ("routine", "urgent", "asap", "stat")
APPOINTMENT_STATUSES = (
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
)
NOT_INPATIENT = frozenset({"outpatient", "community", "discharge"})
#: What withdraws an order: ServiceRequest revoked, MedicationRequest cancelled / stopped; both entered-in-error.
WITHDRAWN = frozenset({"revoked", "cancelled", "stopped", "entered-in-error"})

#: Delivery status -> FHIR Task status.
TASK_STATUS: dict[TaskStatus, str] = {
    TaskStatus.REQUESTED: "requested",
    TaskStatus.PLANNED: "accepted",
    TaskStatus.PICKED_UP: "in-progress",
    TaskStatus.DELIVERED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
FHIR_TASK_STATUS_TO_DOMAIN: dict[str, TaskStatus] = {v: k for k, v in TASK_STATUS.items()}

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


# ---- errors ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with the input: FHIRPath-like element path and the reason."""

    path: str
    reason: str
    #: FHIR issue-type code (invalid, required, value, not-supported, not-found, duplicate, ...).
    code: str = "invalid"
    severity: str = "error"


class FhirInputError(ValueError):
    """The input is refused; ``issues`` name each element and reason, ``status`` is the HTTP status."""

    def __init__(self, issues: Sequence[Issue] | Issue, status: int = 422) -> None:
        self.issues = (issues,) if isinstance(issues, Issue) else tuple(issues)
        self.status = status
        super().__init__("; ".join(f"{i.path}: {i.reason}" if i.path else i.reason for i in self.issues))


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An ``OperationOutcome`` with one issue per problem (``expression`` = the element path)."""
    out = []
    for i in issues:
        entry: dict[str, Any] = {
            "severity": i.severity,
            "code": i.code,
            "diagnostics": f"{i.path}: {i.reason}" if i.path else i.reason,
        }
        if i.path:
            entry["expression"] = [i.path]
        out.append(entry)
    return {"resourceType": "OperationOutcome", "issue": out or [{"severity": "information", "code": "informational"}]}


def _path(root: str, loc: Sequence[Any]) -> str:
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part and not any(c in part for c in "[](), "):
            out += f".{part}"
    return out


# ---- parsing ---------------------------------------------------------------------------------

#: Deepest JSON nesting accepted (objects and arrays; real FHIR resources stay well under 30).
#: Deeper input would exhaust the validators' recursion (a 500) long before it meant anything.
MAX_DEPTH = 64


def _known_type(name: str) -> bool:
    try:
        get_fhir_model_class(name)
    except (KeyError, ValueError, AttributeError):
        return False
    return True


def _drop_nulls(value: Any) -> Any:
    """``value`` without null-valued elements (FHIR JSON has none). The models take ``"class": null``
    for a required element, but the JSON we store and answer leaves it out and no longer validates:
    the order was committed, then its answer failed (a 422 for a stored order)."""
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _check_json(data: Any, root: str) -> None:
    """Refuse, before model validation, what the models or the store cannot take, naming the element:
    nesting deeper than :data:`MAX_DEPTH` (400), NUL characters (PostgreSQL text and JSONB cannot
    hold them) and nested ``resourceType`` s that are no FHIR type name (the models' lookup of a
    contained or entry resource raises a bare KeyError or TypeError for those)."""
    issues: list[Issue] = []
    stack: list[tuple[Any, str, int]] = [(data, root, 0)]
    while stack and len(issues) < 20:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                issues.append(Issue(path, "contains a NUL character (\\u0000)", "value"))
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise FhirInputError(Issue(path, f"nested deeper than {MAX_DEPTH} levels", "structure"), 400)
        if isinstance(node, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in reversed(list(enumerate(node))))
            continue
        for raw_key, value in reversed(list(node.items())):
            key = str(raw_key)
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                issues.append(Issue(path, "an element name contains a NUL character (\\u0000)", "structure"))
                continue
            if key == "resourceType" and depth > 0 and not (isinstance(value, str) and _known_type(value)):
                issues.append(Issue(where, f"{value!r:.80} is not a FHIR R4 resource type", "value"))
                continue
            stack.append((value, where, depth + 1))
    if issues:
        raise FhirInputError(issues)


def parse_resource(data: Any, *, allowed: Iterable[str] | None = None, root: str | None = None) -> FHIRResourceModel:
    """Validate JSON through the ``fhir.resources`` R4B model of its ``resourceType``.

    ``allowed``: resource types accepted here (others: 422 not-supported). ``root``: path prefix
    for issues (default: the resource type, e.g. ``Bundle.entry[3].resource`` inside bundles).
    """
    if not isinstance(data, Mapping):
        raise FhirInputError(Issue(root or "", "expected a FHIR resource (a JSON object)", "structure"), 400)
    rt = data.get("resourceType")
    where = root or (rt if isinstance(rt, str) else "")
    if not isinstance(rt, str) or not rt:
        raise FhirInputError(Issue(f"{where}.resourceType" if root else "resourceType", "missing", "required"), 400)
    _check_json(data, where)
    allowed_set = tuple(allowed) if allowed is not None else None
    if allowed_set is not None and rt not in allowed_set:
        raise FhirInputError(
            Issue(
                f"{where}.resourceType" if root else "resourceType",
                f"{rt!r} is not accepted here (expected {', '.join(allowed_set)})",
                "not-supported",
            )
        )
    try:
        cls = get_fhir_model_class(rt)
    except (KeyError, ValueError, AttributeError):
        raise FhirInputError(
            Issue(
                f"{where}.resourceType" if root else "resourceType", f"{rt!r} is not a FHIR R4 resource type", "value"
            )
        ) from None
    try:
        return cast(FHIRResourceModel, cls.model_validate(_drop_nulls(data)))
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = err.get("loc", ())
            reason = str(err.get("msg", "invalid"))
            if err.get("type") == "extra_forbidden":
                reason = "is not an element of " + rt
            elif err.get("type") in ("missing", "model_field_validation.missing"):
                reason = "is required"
            issues.append(
                Issue(_path(where, loc), reason, "required" if "missing" in str(err.get("type")) else "value")
            )
        raise FhirInputError(issues) from None


def to_json(model: FHIRResourceModel) -> dict[str, Any]:
    """A model as FHIR JSON (no nulls)."""
    return json.loads(model.model_dump_json(exclude_none=True))  # type: ignore[no-any-return]


def checked(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Round-trip an outbound resource through its model: what we send is valid FHIR."""
    return to_json(parse_resource(resource))


# ---- small helpers ---------------------------------------------------------------------------


def _key(system: str, value: str) -> str:
    return hashlib.sha256(f"{system}|{value}".encode()).hexdigest()[:20]


def order_ids(resource_type: str, system: str, value: str) -> tuple[str, str]:
    """(FHIR logical id of the order, id of its delivery task): stable for an identifier."""
    prefix = {"MedicationRequest": "mr", "ServiceRequest": "sr", "Appointment": "ap"}[resource_type]
    k = _key(system, value)
    return f"{prefix}-{k}", f"TF{prefix.upper()}-{k}"


def to_seconds(value: Any) -> int | None:
    """Campus-clock seconds of a FHIR date/dateTime/instant (a date = its midnight UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(dt.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    return None


def instant(value: datetime | int | float) -> str:
    """FHIR instant text of an aware datetime or campus-clock seconds."""
    dt = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value.astimezone(UTC)
    return dt.isoformat().replace("+00:00", "Z")


def ident(system: str | None, value: str) -> str:
    """``system|value`` as FHIR token search writes it."""
    return f"{system or ''}|{value}"


def split_token(token: str) -> tuple[str | None, str]:
    """``system|value`` -> (system, value); ``value`` -> (None, value); ``|value`` -> ("", value)."""
    if "|" in token:
        system, value = token.split("|", 1)
        return system, value
    return None, token


def _codings(concepts: Any) -> list[Any]:
    if concepts is None:
        return []
    if not isinstance(concepts, list):
        concepts = [concepts]
    out: list[Any] = []
    for c in concepts:
        out.extend(getattr(c, "coding", None) or [])
    return out


class _Context:
    """Resolves references of one resource: its contained resources and the Bundle's entries."""

    def __init__(self, resource: Any, bundle: Mapping[str, Any] | None = None) -> None:
        self.contained = {f"#{c.id}": c for c in (getattr(resource, "contained", None) or []) if c.id}
        self.bundle = bundle or {}

    def resolve(self, reference: Any) -> Any:
        ref = getattr(reference, "reference", None)
        if not ref:
            return None
        if ref.startswith("#"):
            return self.contained.get(ref)
        if ref in self.bundle:
            return self.bundle[ref]
        for full_url, res in self.bundle.items():
            if full_url.endswith("/" + ref) or f"{res.get_resource_type()}/{res.id}" == ref:
                return res
        return None


def _identifier(identifiers: Any, preferred_system: str, path: str, what: str) -> tuple[tuple[str, str], str]:
    """The business identifier (preferring ``preferred_system``) and its path, or 422."""
    found = [
        (i, ident_)
        for i, ident_ in enumerate(identifiers or [])
        if ident_.system and ident_.value and ident_.value.strip()
    ]
    if not found:
        raise FhirInputError(
            Issue(
                f"{path}.identifier",
                f"{what} needs an identifier with system and value (the HIS's order number)",
                "required",
            )
        )
    i, chosen = next(((i, x) for i, x in found if x.system == preferred_system), found[0])
    if len(chosen.system) > 255:
        raise FhirInputError(Issue(f"{path}.identifier[{i}].system", "longer than 255 characters"))
    if len(chosen.value) > 128:
        raise FhirInputError(Issue(f"{path}.identifier[{i}].value", "longer than 128 characters"))
    return (chosen.system, chosen.value.strip()), f"{path}.identifier[{i}]"


def _check_code(value: Any, allowed: Sequence[str], path: str) -> str:
    if value not in allowed:
        raise FhirInputError(Issue(path, f"{value!r} is not one of {', '.join(allowed)}", "code-invalid"))
    return str(value)


def _patient_of(
    reference: Any,
    ctx: _Context,
    tables: MappingTables,
    path: str,
    known_patient: Callable[[str], str | None] | None,
) -> tuple[str, str | None]:
    """("system|value" of the patient, MRN if it is one), or 422 naming ``path``."""
    found = _find_patient(reference, ctx, tables, path, known_patient)
    if len(found[0]) > 300:
        raise FhirInputError(Issue(f"{path}.identifier", "system and value together longer than 300 characters"))
    return found


def _find_patient(
    reference: Any,
    ctx: _Context,
    tables: MappingTables,
    path: str,
    known_patient: Callable[[str], str | None] | None,
) -> tuple[str, str | None]:
    if reference is None:
        raise FhirInputError(Issue(path, "is required (the patient)", "required"))
    direct = getattr(reference, "identifier", None)
    if direct is not None and direct.value:
        return ident(direct.system, direct.value), direct.value if direct.system == tables.mrn_system else None
    target = ctx.resolve(reference)
    if target is not None and target.get_resource_type() == "Patient":
        ids = [i for i in (target.identifier or []) if i.value]
        mrn = next((i for i in ids if i.system == tables.mrn_system), None)
        chosen = mrn or (ids[0] if ids else None)
        if chosen is not None:
            return ident(chosen.system, chosen.value), chosen.value if mrn is not None else None
    ref = getattr(reference, "reference", None) or ""
    if ref.startswith("Patient/") and known_patient is not None:
        found = known_patient(ref.split("/", 1)[1])
        if found is not None:
            return ident(tables.mrn_system, found), found
    raise FhirInputError(
        Issue(
            path,
            "cannot identify the patient: give identifier (the MRN, system "
            f"{tables.mrn_system}), reference a registered Patient, or include the Patient in the Bundle",
            "not-found",
        )
    )


def _location_code(reference: Any, ctx: _Context, tables: MappingTables) -> str | None:
    """The HIS code of a Location reference (identifier, resolved Location, or Location/<id>)."""
    if reference is None:
        return None
    direct = getattr(reference, "identifier", None)
    if direct is not None and direct.value:
        return str(direct.value)
    target = ctx.resolve(reference)
    if target is not None and target.get_resource_type() == "Location":
        ids = [i for i in (target.identifier or []) if i.value]
        chosen = next((i for i in ids if i.system == tables.location_system), ids[0] if ids else None)
        if chosen is not None:
            return str(chosen.value)
        return str(target.id) if target.id else None
    ref = getattr(reference, "reference", None) or ""
    if ref.startswith("Location/"):
        return ref.split("/", 1)[1]
    return None


def _ward(resource: Any, rt: str, ctx: _Context, tables: MappingTables) -> str:
    """Campus ward id where the order is delivered / collected, or 422."""
    candidates: list[tuple[str, str]] = []
    if rt == "ServiceRequest":
        for i, ref in enumerate(resource.locationReference or []):
            code = _location_code(ref, ctx, tables)
            if code:
                candidates.append((f"{rt}.locationReference[{i}]", code))
        for i, concept in enumerate(resource.locationCode or []):
            for j, coding in enumerate(concept.coding or []):
                if coding.code:
                    candidates.append((f"{rt}.locationCode[{i}].coding[{j}].code", coding.code))
    for i, ext in enumerate(resource.extension or []):
        if ext.url != WARD_EXTENSION:
            continue
        where = f"{rt}.extension[{i}]"
        code = None
        if ext.valueReference is not None:
            code = _location_code(ext.valueReference, ctx, tables)
        elif ext.valueIdentifier is not None:
            code = ext.valueIdentifier.value
        else:
            code = ext.valueCode or ext.valueString
        if code:
            candidates.append((where, str(code)))
    if resource.encounter is not None:
        enc = ctx.resolve(resource.encounter)
        if enc is not None and enc.get_resource_type() == "Encounter":
            for i, loc in enumerate(enc.location or []):
                code = _location_code(loc.location, ctx, tables)
                if code:
                    candidates.append((f"{rt}.encounter.location[{i}]", code))
    if not candidates:
        raise FhirInputError(
            Issue(
                f"{rt}.encounter" if rt == "MedicationRequest" else f"{rt}.locationReference",
                "cannot find the patient's ward: give "
                + ("locationReference / locationCode, " if rt == "ServiceRequest" else "")
                + f"an Encounter (contained or in the Bundle) with location, or the extension {WARD_EXTENSION}",
                "required",
            )
        )
    for _where, code in candidates:
        ward = tables.ward_for(code)
        if ward is not None:
            return ward
    where, code = candidates[0]
    raise FhirInputError(Issue(where, f"location {code!r} is not a ward in locations.yaml", "code-invalid"))


#: Campus-clock seconds of 0001-01-02 and 9999-12-30 UTC: a delivery window outside cannot be
#: written as FHIR instants (its Task, and every Task search listing it, failed with a 500).
_FIRST_S = int(datetime(1, 1, 2, tzinfo=UTC).timestamp())
_LAST_S = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp())


def _check_window(earliest_s: int, deadline_s: int, path: str) -> None:
    if not _FIRST_S <= earliest_s <= deadline_s <= _LAST_S:
        raise FhirInputError(Issue(path, "puts the delivery outside the years 1-9999 (UTC)", "value"))


def _priority(value: Any, rt: str, tables: MappingTables) -> Priority:
    if value is None:
        return tables.priorities["routine"]
    return tables.priorities[_check_code(value, REQUEST_PRIORITIES, f"{rt}.priority")]


def _requester_text(resource: Any) -> str:
    req = getattr(resource, "requester", None)
    if req is None:
        return ""
    if req.display:
        return str(req.display)
    if req.identifier is not None and req.identifier.value:
        return str(req.identifier.value)
    return str(req.reference or "")


# ---- inbound ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OrderHeader:
    """What every order resource carries, checked: its identity, status, intent, priority, patient."""

    status: str
    intent: str
    priority: Priority
    task_id: str
    #: The OrderIntake fields every outcome shares.
    base: dict[str, Any]


def _order_header(
    model: Any,
    tables: MappingTables,
    rt: str,
    label: str,
    statuses: Any,
    intents: Any,
    ctx: _Context,
    known_patient: Callable[[str], str | None] | None,
) -> _OrderHeader:
    identifier, _ = _identifier(model.identifier, tables.order_system, rt, label)
    status = _check_code(model.status, statuses, f"{rt}.status")
    intent = _check_code(model.intent, intents, f"{rt}.intent")
    priority = _priority(model.priority, rt, tables)
    patient_identifier, _mrn = _patient_of(model.subject, ctx, tables, f"{rt}.subject", known_patient)
    order_id, task_id = order_ids(rt, *identifier)
    base: dict[str, Any] = {
        "order_id": order_id,
        "resource_type": rt,
        "identifier": identifier,
        "status": status,
        "resource": {**to_json(model), "id": order_id},
        "patient_identifier": patient_identifier,
    }
    return _OrderHeader(status, intent, priority, task_id, base)


def medication_request_intake(
    model: Any,
    tables: MappingTables,
    *,
    now_s: int,
    requester: str,
    bundle: Mapping[str, Any] | None = None,
    known_patient: Callable[[str], str | None] | None = None,
) -> OrderIntake:
    """A MedicationRequest as an order (and its pharmacy delivery, when it is a new active inpatient order)."""
    rt = "MedicationRequest"
    ctx = _Context(model, bundle)
    h = _order_header(
        model,
        tables,
        rt,
        "a MedicationRequest",
        MEDICATION_REQUEST_STATUSES,
        MEDICATION_REQUEST_INTENTS,
        ctx,
        known_patient,
    )
    status, intent, priority, task_id, base = h.status, h.intent, h.priority, h.task_id, h.base
    if status in WITHDRAWN:
        return OrderIntake(**base, note=f"withdrawn ({status})")
    # what is carried, where to
    concept = model.medicationCodeableConcept
    concept_path = f"{rt}.medicationCodeableConcept"
    if concept is None and model.medicationReference is not None:
        med = ctx.resolve(model.medicationReference)
        concept_path = f"{rt}.medicationReference"
        if med is None or med.get_resource_type() != "Medication" or med.code is None:
            raise FhirInputError(
                Issue(concept_path, "must reference a Medication with a code (contained or in the Bundle)", "not-found")
            )
        concept = med.code
    if concept is None:
        raise FhirInputError(Issue(f"{rt}.medication[x]", "is required (the drug)", "required"))
    codings = concept.coding or []
    drug = next((d for c in codings if (d := tables.drug(c.system, c.code)) is not None), None)
    if drug is None:
        got = ", ".join(f"{c.system}|{c.code}" for c in codings) or "no coding"
        raise FhirInputError(
            Issue(
                f"{concept_path}.coding",
                f"no coding is in drugs.yaml (got {got}); unknown drugs are refused so that no "
                "controlled or cold-chain item travels unguarded",
                "code-invalid",
            )
        )
    ward = _ward(model, rt, ctx, tables)
    if status != "active":
        return OrderIntake(**base, ward=ward, note=f"status {status}: no delivery")
    if intent not in ORDER_INTENTS:
        return OrderIntake(**base, ward=ward, note=f"intent {intent}: no delivery")
    categories = {c.code for c in _codings(model.category) if c.code}
    if categories & NOT_INPATIENT:
        return OrderIntake(
            **base, ward=ward, note=f"category {', '.join(sorted(categories & NOT_INPATIENT))}: no delivery"
        )
    ordered = to_seconds(model.authoredOn) or now_s
    level = tables.medication[priority]
    _check_window(ordered + level.dispense_s, ordered + level.deliver_within_s, f"{rt}.authoredOn")
    task = DeliveryTask(
        id=task_id,
        pickup=tables.pharmacy_location,
        dropoff=tables.ward_stations[ward],
        priority=priority,
        earliest_s=ordered + level.dispense_s,
        deadline_s=ordered + level.deliver_within_s,
        kind=TaskKind.MEDICATION,
        units=drug.units,
        items=(drug.name,),
        handling=Handling(cold_chain=drug.cold_chain, controlled=drug.controlled),
        requester=(requester + (f" for {_requester_text(model)}" if _requester_text(model) else ""))[:128],
    )
    return OrderIntake(**base, task=task, ward=ward, note=drug.schedule or "")


def service_request_intake(
    model: Any,
    tables: MappingTables,
    *,
    now_s: int,
    requester: str,
    bundle: Mapping[str, Any] | None = None,
    known_patient: Callable[[str], str | None] | None = None,
) -> OrderIntake:
    """A laboratory ServiceRequest as an order (and its specimen delivery, when new and active)."""
    rt = "ServiceRequest"
    ctx = _Context(model, bundle)
    h = _order_header(
        model, tables, rt, "a ServiceRequest", SERVICE_REQUEST_STATUSES, SERVICE_REQUEST_INTENTS, ctx, known_patient
    )
    status, intent, priority, task_id, base = h.status, h.intent, h.priority, h.task_id, h.base
    if status in WITHDRAWN:
        return OrderIntake(**base, note=f"withdrawn ({status})")
    codings = (model.code.coding if model.code is not None else None) or []
    if model.code is None:
        raise FhirInputError(Issue(f"{rt}.code", "is required (the laboratory test)", "required"))
    test = next((t for c in codings if (t := tables.lab_test(c.system, c.code)) is not None), None)
    if test is None:
        got = ", ".join(f"{c.system}|{c.code}" for c in codings) or "no coding"
        raise FhirInputError(
            Issue(f"{rt}.code.coding", f"no coding is a laboratory test in lab_tests.yaml (got {got})", "code-invalid")
        )
    ward = _ward(model, rt, ctx, tables)
    if status != "active":
        return OrderIntake(**base, ward=ward, note=f"status {status}: no delivery")
    if intent not in ORDER_INTENTS:
        return OrderIntake(**base, ward=ward, note=f"intent {intent}: no delivery")
    collected, when = next(
        (
            (at, where)
            for at, where in (
                (to_seconds(model.occurrenceDateTime), f"{rt}.occurrenceDateTime"),
                (
                    to_seconds(model.occurrencePeriod.start) if model.occurrencePeriod is not None else None,
                    f"{rt}.occurrencePeriod.start",
                ),
                (to_seconds(model.authoredOn), f"{rt}.authoredOn"),
            )
            if at
        ),
        (now_s, rt),
    )
    within = min(tables.specimen_turnaround_s[priority], test.max_transit_s)
    _check_window(collected, collected + within, when)
    task = DeliveryTask(
        id=task_id,
        pickup=tables.ward_stations[ward],
        dropoff=tables.laboratory_location,
        priority=priority,
        earliest_s=collected,
        deadline_s=collected + within,
        kind=TaskKind.SPECIMEN,
        units=test.units,
        items=(test.name,),
        handling=Handling(cold_chain=test.cold_chain, max_transit_s=test.max_transit_s),
        requester=(requester + (f" for {_requester_text(model)}" if _requester_text(model) else ""))[:128],
    )
    return OrderIntake(**base, task=task, ward=ward)


def patient_id_for(mrn: str) -> str:
    """Our patient id for an MRN from the HIS (stable)."""
    candidate = f"P-{mrn}"
    return candidate if _ID.match(candidate) else f"P-{_key('mrn', mrn)}"


def patient_intake(model: Any, tables: MappingTables) -> PatientIntake:
    rt = "Patient"
    ids = [(i, x) for i, x in enumerate(model.identifier or []) if x.value]
    mrn = next(((i, x) for i, x in ids if x.system == tables.mrn_system), None)
    if mrn is None:
        raise FhirInputError(
            Issue(f"{rt}.identifier", f"needs the medical record number (system {tables.mrn_system})", "required")
        )
    i, mrn_ident = mrn
    if len(mrn_ident.value) > 64:
        raise FhirInputError(Issue(f"{rt}.identifier[{i}].value", "longer than 64 characters"))
    name = ""
    for n in model.name or []:
        name = n.text or " ".join([*(g for g in n.given or [] if g), n.family or ""]).strip()
        if name:
            break
    if not name:
        raise FhirInputError(Issue(f"{rt}.name", "is required (text, or given and family)", "required"))
    if len(name) > 200:
        raise FhirInputError(Issue(f"{rt}.name", "longer than 200 characters"))
    sex = {"female": Sex.FEMALE, "male": Sex.MALE, "other": Sex.OTHER}.get(model.gender or "", Sex.UNKNOWN)
    phone = next((t.value for t in (model.telecom or []) if t.system == "phone" and t.value), None)
    if phone is not None and len(phone) > 32:
        raise FhirInputError(Issue(f"{rt}.telecom", "phone number longer than 32 characters"))
    credit = False
    for j, ext in enumerate(model.extension or []):
        if ext.url == CREDIT_CARE_EXTENSION:
            if ext.valueBoolean is None:
                raise FhirInputError(Issue(f"{rt}.extension[{j}].valueBoolean", "credit care must be true or false"))
            credit = bool(ext.valueBoolean)
    birth = model.birthDate
    patient = Patient(
        id=patient_id_for(mrn_ident.value),
        mrn=mrn_ident.value,
        name=name,
        birth_year=birth.year if isinstance(birth, date) else None,
        sex=sex,
        phone=phone,
        credit_care=credit,
    )
    return PatientIntake(patient, {**to_json(model), "id": patient.id})


def appointment_intake(
    model: Any,
    tables: MappingTables,
    *,
    bundle: Mapping[str, Any] | None = None,
    known_patient: Callable[[str], str | None] | None = None,
) -> AppointmentIntake:
    rt = "Appointment"
    ctx = _Context(model, bundle)
    identifier, _ = _identifier(model.identifier, tables.appointment_system, rt, "an Appointment")
    status = _check_code(model.status, APPOINTMENT_STATUSES, f"{rt}.status")
    patient_ref = None
    department = None
    for i, p in enumerate(model.participant or []):
        actor = p.actor
        if actor is None:
            continue
        ref = actor.reference or ""
        kind = actor.type or (ref.split("/", 1)[0] if "/" in ref else None)
        target = ctx.resolve(actor)
        kind = kind or (target.get_resource_type() if target is not None else None)
        if kind == "Patient" and patient_ref is None:
            patient_ref = (i, actor)
        elif kind == "Location" and department is None:
            code = _location_code(actor, ctx, tables)
            if code is not None:
                department = tables.department_for(code)
                if department is None:
                    raise FhirInputError(
                        Issue(
                            f"{rt}.participant[{i}].actor", f"location {code!r} is not a department in locations.yaml"
                        )
                    )
    if patient_ref is None:
        raise FhirInputError(Issue(f"{rt}.participant", "needs a participant whose actor is the Patient", "required"))
    patient_identifier, mrn = _patient_of(
        patient_ref[1], ctx, tables, f"{rt}.participant[{patient_ref[0]}].actor", known_patient
    )
    if department is None:
        tried = []
        for field_name in ("serviceType", "specialty"):
            for i, concept in enumerate(getattr(model, field_name) or []):
                for j, coding in enumerate(concept.coding or []):
                    if coding.code:
                        tried.append((f"{rt}.{field_name}[{i}].coding[{j}].code", coding.code))
        department = next((d for _, code in tried if (d := tables.department_for(code)) is not None), None)
        if department is None:
            where = tried[0][0] if tried else f"{rt}.serviceType"
            got = ", ".join(code for _, code in tried) or "none"
            raise FhirInputError(
                Issue(where, f"no department in locations.yaml for these codes (got {got})", "code-invalid")
            )
    appointment_id, _ = order_ids(rt, *identifier)
    return AppointmentIntake(
        appointment_id=appointment_id,
        identifier=identifier,
        status=status,
        resource={**to_json(model), "id": appointment_id},
        patient_identifier=patient_identifier,
        patient_mrn=mrn,
        department=department,
        start_s=to_seconds(model.start),
    )


def intake_of(
    model: Any,
    tables: MappingTables,
    *,
    now_s: int,
    requester: str,
    bundle: Mapping[str, Any] | None = None,
    known_patient: Callable[[str], str | None] | None = None,
) -> Intake:
    """The intake item of one parsed resource (MedicationRequest, ServiceRequest, Patient, Appointment)."""
    rt = model.get_resource_type()
    if rt == "MedicationRequest":
        return medication_request_intake(
            model, tables, now_s=now_s, requester=requester, bundle=bundle, known_patient=known_patient
        )
    if rt == "ServiceRequest":
        return service_request_intake(
            model, tables, now_s=now_s, requester=requester, bundle=bundle, known_patient=known_patient
        )
    if rt == "Patient":
        return patient_intake(model, tables)
    if rt == "Appointment":
        return appointment_intake(model, tables, bundle=bundle, known_patient=known_patient)
    raise FhirInputError(
        Issue("resourceType", f"{rt!r} is not accepted (expected {', '.join(INTAKE_TYPES)})", "not-supported")
    )


def _reissue(exc: FhirInputError, root: str, rt: str) -> FhirInputError:
    """Issues of an entry's resource, re-rooted at ``Bundle.entry[i].resource``."""
    out = []
    for i in exc.issues:
        path = i.path
        if path == rt or path.startswith(rt + ".") or path.startswith(rt + "["):
            path = root + path[len(rt) :]
        elif path and not path.startswith(root):
            path = f"{root}.{path}"
        elif not path:
            path = root
        out.append(Issue(path, i.reason, i.code, i.severity))
    return FhirInputError(out, exc.status)


def _bundle_key(item: Intake) -> tuple[str, ...] | None:
    """What makes two entries of one Bundle the same record in the store: an order's identifier
    (MedicationRequest and ServiceRequest share one table), an appointment's, a patient's MRN."""
    if isinstance(item, OrderIntake):
        return ("order", *item.identifier)
    if isinstance(item, AppointmentIntake):
        return ("Appointment", *item.identifier)
    if isinstance(item, PatientIntake):
        return ("Patient", item.patient.mrn)
    return None


@dataclass(frozen=True, slots=True)
class BundleEntry:
    index: int
    full_url: str | None
    resource_type: str
    #: None for context-only entries (Encounter, Location, Medication).
    intake: Intake | None
    #: Conditional create of the entry (request.ifNoneExist), e.g. "identifier=sys|val".
    if_none_exist: str | None = None


def bundle_intake(
    data: Any,
    tables: MappingTables,
    *,
    now_s: int,
    requester: str,
    known_patient: Callable[[str], str | None] | None = None,
) -> tuple[str, list[BundleEntry]]:
    """A transaction (or batch) Bundle as intake items, every entry checked before anything is applied.

    Returns the bundle type and its entries. All problems of all entries are collected and raised
    together (paths ``Bundle.entry[i].resource...``), so the HIS can fix a whole batch at once.
    """
    bundle: Any = parse_resource(data, allowed=("Bundle",))
    btype = bundle.type
    if btype not in ("transaction", "batch"):
        raise FhirInputError(
            Issue("Bundle.type", f"{btype!r}: only transaction and batch bundles are accepted", "not-supported")
        )
    entries = bundle.entry or []
    if not entries:
        raise FhirInputError(Issue("Bundle.entry", "is empty", "required"))
    index: dict[str, Any] = {}
    issues: list[Issue] = []
    full_urls: dict[str, int] = {}
    for i, e in enumerate(entries):
        if e.fullUrl:
            # a reference to a fullUrl that two entries share would resolve to either (bdl-7)
            if e.fullUrl in full_urls:
                issues.append(
                    Issue(
                        f"Bundle.entry[{i}].fullUrl",
                        f"same fullUrl as entry {full_urls[e.fullUrl]}: each entry needs its own",
                        "duplicate",
                    )
                )
                continue
            full_urls[e.fullUrl] = i
        if e.resource is None:
            continue
        if e.fullUrl:
            index[e.fullUrl] = e.resource
        elif e.resource.id:
            index[f"{e.resource.get_resource_type()}/{e.resource.id}"] = e.resource
    out: list[BundleEntry] = []
    seen: dict[tuple[str, ...], int] = {}
    for i, e in enumerate(entries):
        root = f"Bundle.entry[{i}].resource"
        if e.resource is None:
            issues.append(Issue(root, "is required (this interface takes resources, not deletes or reads)", "required"))
            continue
        rt = e.resource.get_resource_type()
        method = e.request.method if e.request is not None else None
        if btype == "transaction" and method not in ("POST", "PUT"):
            issues.append(
                Issue(
                    f"Bundle.entry[{i}].request.method", f"{method!r}: only POST and PUT are accepted", "not-supported"
                )
            )
            continue
        if rt in CONTEXT_TYPES:
            out.append(BundleEntry(i, e.fullUrl, rt, None))
            continue
        if rt not in INTAKE_TYPES:
            issues.append(
                Issue(
                    f"{root}.resourceType",
                    f"{rt!r} is not accepted (expected {', '.join(INTAKE_TYPES)})",
                    "not-supported",
                )
            )
            continue
        try:
            item = intake_of(
                e.resource, tables, now_s=now_s, requester=requester, bundle=index, known_patient=known_patient
            )
        except FhirInputError as exc:
            issues.extend(_reissue(exc, root, rt).issues)
            continue
        key = _bundle_key(item)
        if key is not None:
            if key in seen:
                issues.append(
                    Issue(
                        f"{root}.identifier",
                        f"same identifier as entry {seen[key]}: send each order, appointment or patient once per Bundle",
                        "duplicate",
                    )
                )
                continue
            seen[key] = i
        out.append(BundleEntry(i, e.fullUrl, rt, item, e.request.ifNoneExist if e.request is not None else None))
    if issues:
        raise FhirInputError(issues)
    return str(btype), out


# ---- outbound --------------------------------------------------------------------------------


def _ref_identifier(identifier: str | None) -> dict[str, Any] | None:
    if not identifier:
        return None
    system, value = split_token(identifier)
    out: dict[str, Any] = {"value": value}
    if system:
        out["system"] = system
    return out


def _patient_ref(identifier: str | None, patient_id: str | None = None) -> dict[str, Any] | None:
    ref: dict[str, Any] = {}
    if patient_id:
        ref["reference"] = f"Patient/{patient_id}"
    ident_json = _ref_identifier(identifier)
    if ident_json is not None:
        ref["identifier"] = ident_json
    if not ref:
        return None
    ref["type"] = "Patient"
    return ref


def task_resource(
    rec: TaskRecord,
    history: Sequence[StatusChange],
    order: OrderRecord | None = None,
    *,
    version: int | None = None,
) -> dict[str, Any]:
    """A delivery as a FHIR Task; ``version`` k (1-based) = the Task after the k-th status change."""
    t = rec.task
    changes = list(history)
    if version is not None:
        if not 1 <= version <= len(changes):
            raise ValueError(f"version: {version} is not 1..{len(changes)}")
        changes = changes[:version]
    status = changes[-1].to_status if changes else rec.status
    last = changes[-1] if changes else None
    robot = last.robot_id if last is not None else rec.robot_id
    started = next((c.at for c in changes if c.to_status is TaskStatus.PICKED_UP), None)
    ended = last.at if status.terminal and last is not None else None
    res: dict[str, Any] = {
        "resourceType": "Task",
        "id": t.id,
        "meta": {
            "versionId": str(len(changes) or 1),
            "lastUpdated": instant(last.at if last is not None else rec.updated_at),
        },
        "identifier": [{"system": "https://hospital-ops.example/fhir/sid/delivery", "value": t.id}],
        "status": TASK_STATUS[status],
        "businessStatus": {"text": status.value},
        "intent": "order",
        "priority": t.priority.value,
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill"}], "text": f"{t.kind.value} delivery"},
        "description": ", ".join(t.items) if t.items else f"{t.kind.value} delivery",
        "authoredOn": instant(rec.created_at),
        "lastModified": instant(last.at if last is not None else rec.updated_at),
        "restriction": {"period": {"start": instant(t.earliest_s), "end": instant(t.deadline_s)}},
        "input": [
            {"type": {"text": "pickup"}, "valueReference": {"reference": f"Location/{t.pickup}"}},
            {"type": {"text": "dropoff"}, "valueReference": {"reference": f"Location/{t.dropoff}"}},
            {"type": {"text": "cold-chain"}, "valueBoolean": t.handling.cold_chain},
            {"type": {"text": "controlled"}, "valueBoolean": t.handling.controlled},
        ],
    }
    if t.handling.max_transit_s is not None:
        res["input"].append({"type": {"text": "max-transit-seconds"}, "valueInteger": t.handling.max_transit_s})
    if started is not None or ended is not None:
        period: dict[str, str] = {}
        if started is not None:
            period["start"] = instant(started)
        if ended is not None:
            period["end"] = instant(ended)
        res["executionPeriod"] = period
    if robot:
        res["owner"] = {"reference": f"Device/{robot}", "display": robot}
    if last is not None and last.reason and status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        res["statusReason"] = {"text": last.reason[:1000]}
    if rec.ward:
        res["location"] = {"reference": f"Location/{rec.ward}"}
    if order is not None:
        system, value = order.identifier
        ref = {"reference": f"{order.resource_type}/{order.id}", "identifier": {"system": system, "value": value}}
        res["basedOn"] = [ref]
        res["focus"] = ref
        patient = _patient_ref(order.patient_identifier)
        if patient is not None:
            res["for"] = patient
    if rec.eta_s is not None and not status.terminal:
        res["output"] = [{"type": {"text": "eta"}, "valueDateTime": instant(rec.eta_s)}]
    return checked(res)


def task_versions(
    rec: TaskRecord, history: Sequence[StatusChange], order: OrderRecord | None = None
) -> list[dict[str, Any]]:
    """Every version of the Task, oldest first (one per status change)."""
    return [task_resource(rec, history, order, version=k) for k in range(1, len(history) + 1)]


def provenance_id(task_id: str, index: int) -> str:
    return f"{task_id}.{index}"


def split_provenance_id(provenance: str) -> tuple[str, int] | None:
    task_id, _, n = provenance.rpartition(".")
    return (task_id, int(n)) if task_id and n.isdigit() else None


def provenance_resource(event: CustodyEvent, index: int, order: OrderRecord | None = None) -> dict[str, Any]:
    """A custody hand-over as a Provenance of the delivery's Task."""
    res: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id(event.task_id, index),
        "target": [{"reference": f"Task/{event.task_id}"}],
        "occurredDateTime": instant(event.at_s),
        "recorded": instant(event.at_s),
        "activity": {"coding": [{"system": CUSTODY_SYSTEM, "code": event.kind.value}], "text": event.kind.value},
        "location": {"reference": f"Location/{event.location}"},
        "agent": [
            {
                "type": {"text": "custodian"},
                "who": {
                    "reference": f"Device/{event.robot_id}",
                    "display": f"robot {event.robot_id}, drawer {event.drawer}",
                },
            }
        ],
        "reason": [{"text": f"hand-over by {event.method}"}],
    }
    if event.actor:
        res["agent"].append(
            {"type": {"text": "performer"}, "who": {"identifier": {"value": event.actor}, "display": event.actor}}
        )
    if order is not None:
        system, value = order.identifier
        res["target"].append(
            {"reference": f"{order.resource_type}/{order.id}", "identifier": {"system": system, "value": value}}
        )
    return checked(res)


def encounter_resource(
    check_in: CheckIn,
    tables: MappingTables,
    *,
    patient: Patient | None = None,
    triage: TriageResult | None = None,
    triage_at: datetime | None = None,
) -> dict[str, Any]:
    """A kiosk check-in as an Encounter: ``arrived``, or ``triaged`` with the triage level as priority."""
    res: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": check_in.id,
        "identifier": [{"system": "https://hospital-ops.example/fhir/sid/check-in", "value": check_in.id}],
        "status": "triaged" if triage is not None else "arrived",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "EMER" if triage is not None else "AMB",
        },
        "period": {"start": instant(check_in.at_s)},
        "subject": _patient_ref(
            ident(tables.mrn_system, patient.mrn) if patient is not None else None, check_in.patient_id
        ),
        "meta": {
            "tag": [
                {
                    "system": "https://hospital-ops.example/fhir/CodeSystem/check-in-method",
                    "code": check_in.method.value,
                }
            ]
        },
    }
    if check_in.appointment_id:
        res["appointment"] = [{"reference": f"Appointment/{check_in.appointment_id}"}]
    res["location"] = [{"location": {"reference": f"Location/{check_in.kiosk_id}", "display": "kiosk"}}]
    if triage is not None:
        level = int(triage.level)
        res["priority"] = {
            "coding": [
                {"system": TRIAGE_SYSTEM, "code": str(level), "display": triage.level.name.replace("_", " ").lower()}
            ],
            "text": f"triage level {level}",
        }
        res["reasonCode"] = [
            {"coding": [{"system": TRIAGE_SYSTEM, "code": r.code}], "text": r.en} for r in triage.reasons
        ]
        res["location"].append({"location": {"reference": f"Location/{triage.destination}"}, "status": "planned"})
        if triage_at is not None:
            res["meta"]["lastUpdated"] = instant(triage_at)
    return checked(res)


def order_resource(order: OrderRecord) -> dict[str, Any]:
    """The stored order as last received, with our id and its current status."""
    res = {**order.resource, "id": order.id, "status": order.status}
    res["meta"] = {"lastUpdated": instant(order.updated_at)}
    return checked(res)


def appointment_resource(rec: AppointmentRecord) -> dict[str, Any]:
    res = {**rec.resource, "id": rec.id, "status": rec.status}
    res["meta"] = {"lastUpdated": instant(rec.updated_at)}
    return checked(res)


def patient_resource(patient: Patient, tables: MappingTables) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient.id,
        "identifier": [{"system": tables.mrn_system, "value": patient.mrn}],
        "name": [{"text": patient.name}],
        "gender": patient.sex.value,
        "extension": [{"url": CREDIT_CARE_EXTENSION, "valueBoolean": patient.credit_care}],
    }
    if patient.phone:
        res["telecom"] = [{"system": "phone", "value": patient.phone}]
    return checked(res)


def searchset(resources: Sequence[Mapping[str, Any]], base_url: str, *, total: int | None = None) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources) if total is None else total,
        "entry": [
            {"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def capability_statement(base_url: str, software_version: str, *, now: datetime | None = None) -> dict[str, Any]:
    """What this endpoint does, for the HIS's integration engine (``GET /fhir/metadata``)."""

    def rest_resource(
        rt: str, interactions: Sequence[str], params: Sequence[tuple[str, str]] = (), **extra: Any
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"type": rt, "interaction": [{"code": c} for c in interactions]}
        if params:
            out["searchParam"] = [{"name": n, "type": t} for n, t in params]
        out.update(extra)
        return out

    order_params = (("identifier", "token"), ("patient", "reference"), ("status", "token"))
    resources = [
        rest_resource(
            "MedicationRequest", ["create", "update", "read", "search-type"], order_params, conditionalCreate=True
        ),
        rest_resource(
            "ServiceRequest", ["create", "update", "read", "search-type"], order_params, conditionalCreate=True
        ),
        rest_resource("Patient", ["create", "update", "read"], (("identifier", "token"),), conditionalCreate=True),
        rest_resource(
            "Appointment",
            ["create", "update", "read", "search-type"],
            (("identifier", "token"), ("patient", "reference"), ("status", "token")),
            conditionalCreate=True,
            operation=[{"name": "arrive", "definition": f"{base_url}/OperationDefinition/Appointment-arrive"}],
        ),
        rest_resource(
            "Task",
            ["read", "vread", "history-instance", "search-type"],
            (("patient", "reference"), ("status", "token"), ("identifier", "token"), ("based-on", "reference")),
        ),
        rest_resource("Provenance", ["read", "search-type"], (("target", "reference"), ("patient", "reference"))),
        rest_resource("Encounter", ["read", "search-type"], (("patient", "reference"), ("status", "token"))),
    ]
    return checked(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": instant(now or datetime.now(UTC)),
            "kind": "instance",
            "software": {"name": "hospital-ops", "version": software_version},
            "implementation": {
                "description": "hospital-ops FHIR intake (orders in, deliveries and check-ins out)",
                "url": base_url,
            },
            "fhirVersion": FHIR_VERSION,
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": "Authorization: Bearer <device token of kind 'his'> (see docs/fhir.md)",
                    },
                    "resource": resources,
                    "interaction": [{"code": "transaction"}, {"code": "batch"}],
                }
            ],
        }
    )
