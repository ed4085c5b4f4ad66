"""Hypothesis against the FHIR endpoint: generated orders, patients, appointments and Bundles, then
mutated, thrown at ``/fhir/`` through the Flask test client over a fresh SQLite store.

For every request (POST and PUT of resources, transaction and batch Bundles, raw bodies under any
content type, reads and searches): never a 5xx; every 4xx is an ``OperationOutcome`` whose issues
name the element (``expression``, or a path at the start of ``diagnostics``); a refused request
leaves every table (tasks, their history, orders, appointments, patients, alerts, audit log) exactly
as it was; what an accepted one stored can be read back (resource, entries, delivery Task and its
history), and sending it again changes nothing and creates nothing. Valid generated orders always
become a delivery whose priority, pickup, dropoff, window and handling are the mapping tables'.

Reproducible: ``derandomize=True`` and no example database, so CI sees the same cases every run
(``FUZZ_RANDOM=1`` explores new ones; ``FUZZ_SCALE=4`` runs four times as many examples).
The regression tests at the end pin each bug the fuzzing found.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from hospital_ops.domain import TaskKind
from hospital_ops.fhir.mapping import MAX_DEPTH, REQUEST_PRIORITIES
from hospital_ops.fhir.tables import MappingTables, default_tables
from hospital_ops.store import Store
from hospital_ops.store import orders as so
from hospital_ops.store.models import Base
from tests.fhir.conftest import APPT, ATC, LOINC, MRN, NOW_S, ORDER, lab_order, med_order, patient, transaction

SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM") != "1"
TABLES: MappingTables = default_tables()
WARD_EXT = "https://hospital-ops.example/fhir/StructureDefinition/delivery-ward"
CREDIT_EXT = "https://hospital-ops.example/fhir/StructureDefinition/credit-care"
#: Tables whose rows a request may change (not the device tokens: their last use is recorded).
STATE_TABLES = ("tasks", "task_status_history", "fhir_orders", "fhir_appointments", "patients", "alerts", "audit_log")
#: An element path at the start of a diagnostics text ("MedicationRequest.subject: ...").
PATH_IN_TEXT = re.compile(r"^(resourceType|If-None-Exist|[A-Z][A-Za-z]+(\.[A-Za-z_]|\[))")

DRUGS = sorted({d.code: d for (system, _), d in TABLES.drugs.items() if system == ATC}.values(), key=lambda d: d.code)
TESTS = sorted(
    {t.code: t for (system, _), t in TABLES.lab_tests.items() if system == LOINC}.values(), key=lambda t: t.code
)
WARD_CODES = sorted(TABLES.wards)
DEPARTMENTS = sorted(TABLES.departments)
_numbers = itertools.count(1)


def _fuzz(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )


# ---- the app, and what it holds ---------------------------------------------------------------


@pytest.fixture
def fuzz_client(app: Flask) -> FlaskClient:
    app.config["RATELIMIT_ENABLED"] = False
    return app.test_client()


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a FHIR request may change, in key order."""
    out = {}
    with store.engine.connect() as conn:
        for name in STATE_TABLES:
            table = Base.metadata.tables[name]
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def names_an_element(issue: dict[str, Any]) -> bool:
    expr = issue.get("expression")
    if isinstance(expr, list) and expr and all(isinstance(e, str) and e for e in expr):
        return True
    return bool(PATH_IN_TEXT.match(str(issue.get("diagnostics", ""))))


def check_refusal(r: TestResponse, *, element: bool = True) -> list[dict[str, Any]]:
    """A 4xx whose body is an OperationOutcome with error issues (naming an element if ``element``)."""
    assert 400 <= r.status_code < 500, (r.status_code, r.data[:500])
    assert r.content_type.startswith("application/fhir+json"), r.content_type
    body = json.loads(r.data)
    assert body["resourceType"] == "OperationOutcome", body
    issues = body["issue"]
    assert issues and all(i["severity"] in ("error", "fatal") and i["code"] and i["diagnostics"] for i in issues)
    if element:
        assert any(names_an_element(i) for i in issues), issues
    return issues  # type: ignore[no-any-return]


class Fuzzer:
    """Posts to /fhir and checks the invariants of every answer."""

    def __init__(self, client: FlaskClient, store: Store, his: dict[str, str]) -> None:
        self.client, self.store, self.his = client, store, his
        self.statuses: dict[int, int] = {}

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None, method: str = "POST") -> TestResponse:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.open(path, method=method, data=data, headers=headers or self.his)

    def exchange(
        self,
        path: str,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        element: bool = True,
        method: str = "POST",
    ) -> TestResponse:
        """One request with every invariant checked: no 5xx; refusal = OperationOutcome naming the
        element and nothing changed; acceptance = readable, and idempotent when sent again."""
        before = snapshot(self.store)
        r = self.post(path, body, headers, method)
        self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (r.status_code, r.data[:500], str(body)[:500])
        if r.status_code >= 400:
            check_refusal(r, element=element)
            assert snapshot(self.store) == before, f"refused ({r.status_code}) but the store changed"
            return r
        assert r.status_code in (200, 201), r.status_code
        self.read_back(r)
        after = snapshot(self.store)
        again = self.post(path, body, headers, method)
        assert again.status_code == 200, (again.status_code, again.data[:500])
        if json.loads(again.data).get("type") in ("transaction-response", "batch-response"):
            statuses = [e["response"]["status"] for e in again.json["entry"]]  # type: ignore[index]
            assert not any(s.startswith("201") for s in statuses), statuses
        assert snapshot(self.store) == after, "an accepted request sent again changed the store"
        return r

    def read_back(self, r: TestResponse) -> None:
        """What an accepted request stored can be read: the resource, each entry's, its delivery Task."""
        refs = [r.headers.get("Location", ""), r.headers.get("X-Delivery-Task", "")]
        body = json.loads(r.data)
        if body.get("resourceType") == "Bundle":
            refs += [e["response"].get("location", "") for e in body["entry"]]
            refs += [m.group(1) for e in body["entry"] if (m := re.search(r"\((Task/[^)]+)\)", json.dumps(e)))]
        for ref in filter(None, refs):
            path = "/fhir/" + ref.split("/fhir/", 1)[-1]
            got = self.client.get(path, headers={"Authorization": self.his["Authorization"]})
            assert got.status_code == 200, (path, got.status_code, got.data[:500])
            if "/Task/" in path:
                hist = self.client.get(path + "/_history", headers={"Authorization": self.his["Authorization"]})
                assert hist.status_code == 200, (path, hist.data[:500])


@pytest.fixture
def fuzzer(fuzz_client: FlaskClient, store: Store, his: dict[str, str]) -> Fuzzer:
    return Fuzzer(fuzz_client, store, his)


# ---- strategies: valid resources --------------------------------------------------------------


def fresh(prefix: str, suffix: str = "") -> str:
    """An identifier no earlier example used (examples share one store)."""
    return f"{prefix}-{next(_numbers):05d}{suffix}"


#: What FHIR strings may hold (no lone surrogates, no NUL).
valid_chars = st.characters(codec="utf-8", exclude_characters="\x00")
id_suffix = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=8).map(
    lambda s: s.strip()
)


@st.composite
def instants(draw: st.DrawFn) -> tuple[str, int]:
    """A FHIR dateTime with a random UTC offset, and its campus-clock seconds."""
    at = draw(st.integers(NOW_S - 3 * 86400, NOW_S + 3 * 86400))
    offset = draw(st.integers(-12, 14))
    text = datetime.fromtimestamp(at, UTC).astimezone(timezone(timedelta(hours=offset))).isoformat()
    return text.replace("+00:00", draw(st.sampled_from(["Z", "+00:00"]))), at


def mrn_subject(mrn: str) -> dict[str, Any]:
    return {"identifier": {"system": MRN, "value": mrn}}


@st.composite
def ward_placement(draw: st.DrawFn, rt: str) -> tuple[dict[str, Any], str]:
    """Elements that name the ward in one of the accepted forms, and the HIS ward code."""
    code = draw(st.sampled_from(WARD_CODES))
    forms = ["ext-code", "ext-reference", "ext-identifier", "contained-encounter"]
    if rt == "ServiceRequest":
        forms += ["locationReference", "locationCode"]
    form = draw(st.sampled_from(forms))
    if form == "ext-code":
        return {"extension": [{"url": WARD_EXT, "valueCode": code}]}, code
    if form == "ext-reference":
        return {"extension": [{"url": WARD_EXT, "valueReference": {"reference": f"Location/{code}"}}]}, code
    if form == "ext-identifier":
        return {
            "extension": [{"url": WARD_EXT, "valueIdentifier": {"system": TABLES.location_system, "value": code}}]
        }, code
    if form == "locationReference":
        return {"locationReference": [{"reference": f"Location/{code}"}]}, code
    if form == "locationCode":
        return {"locationCode": [{"coding": [{"system": TABLES.location_system, "code": code}]}]}, code
    encounter = {
        "resourceType": "Encounter",
        "id": "stay",
        "status": "in-progress",
        "class": {"code": "IMP"},
        "location": [{"location": {"reference": f"Location/{code}"}}],
    }
    return {"encounter": {"reference": "#stay"}, "contained": [encounter]}, code


@st.composite
def medication_requests(draw: st.DrawFn, mrn: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(an active inpatient MedicationRequest, what its delivery must be)."""
    drug = draw(st.sampled_from(DRUGS))
    prio = draw(st.sampled_from([None, *REQUEST_PRIORITIES]))
    placement, ward = draw(ward_placement("MedicationRequest"))
    authored = draw(st.none() | instants())
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": ORDER, "value": fresh("RX", draw(id_suffix))}],
        "status": "active",
        "intent": draw(st.sampled_from(["order", "original-order", "instance-order"])),
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": drug.code}], "text": drug.name},
        "subject": mrn_subject(mrn or fresh("M")),
        **placement,
    }
    if prio is not None:
        res["priority"] = prio
    if authored is not None:
        res["authoredOn"] = authored[0]
    if draw(st.booleans()):
        res["note"] = [{"text": draw(st.text(valid_chars, min_size=1, max_size=40))}]
    priority = TABLES.priorities[prio or "routine"]
    start = authored[1] if authored is not None else NOW_S
    level = TABLES.medication[priority]
    expected = {
        "kind": TaskKind.MEDICATION,
        "priority": priority,
        "pickup": TABLES.pharmacy_location,
        "dropoff": TABLES.ward_stations[TABLES.ward_for(ward) or ""],
        "earliest_s": start + level.dispense_s,
        "deadline_s": start + level.deliver_within_s,
        "cold_chain": drug.cold_chain,
        "controlled": drug.controlled,
        "max_transit_s": None,
    }
    return res, expected


@st.composite
def service_requests(draw: st.DrawFn, mrn: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(an active laboratory ServiceRequest, what its specimen delivery must be)."""
    test = draw(st.sampled_from(TESTS))
    prio = draw(st.sampled_from([None, *REQUEST_PRIORITIES]))
    placement, ward = draw(ward_placement("ServiceRequest"))
    when = draw(st.sampled_from(["occurrenceDateTime", "occurrencePeriod", "authoredOn", "none"]))
    at = draw(instants())
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": ORDER, "value": fresh("LAB", draw(id_suffix))}],
        "status": "active",
        "intent": "order",
        "code": {"coding": [{"system": LOINC, "code": test.code}]},
        "subject": mrn_subject(mrn or fresh("M")),
        **placement,
    }
    if prio is not None:
        res["priority"] = prio
    if when == "occurrenceDateTime":
        res["occurrenceDateTime"] = at[0]
    elif when == "occurrencePeriod":
        res["occurrencePeriod"] = {"start": at[0]}
    elif when == "authoredOn":
        res["authoredOn"] = at[0]
    collected = at[1] if when != "none" else NOW_S
    priority = TABLES.priorities[prio or "routine"]
    expected = {
        "kind": TaskKind.SPECIMEN,
        "priority": priority,
        "pickup": TABLES.ward_stations[TABLES.ward_for(ward) or ""],
        "dropoff": TABLES.laboratory_location,
        "earliest_s": collected,
        "deadline_s": collected + min(TABLES.specimen_turnaround_s[priority], test.max_transit_s),
        "cold_chain": test.cold_chain,
        "controlled": False,
        "max_transit_s": test.max_transit_s,
    }
    return res, expected


def orders(mrn: str | None = None) -> st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]:
    return medication_requests(mrn) | service_requests(mrn)


@st.composite
def patients(draw: st.DrawFn, mrn: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": MRN, "value": mrn or fresh("M")}],
        "name": [draw(st.sampled_from([{"text": "Li Wei"}, {"given": ["Wang"], "family": "Fang"}, {"text": "张伟"}]))],
        "gender": draw(st.sampled_from(["female", "male", "other", "unknown"])),
        "extension": [{"url": CREDIT_EXT, "valueBoolean": draw(st.booleans())}],
    }
    if draw(st.booleans()):
        res["birthDate"] = draw(
            st.dates(min_value=datetime(1900, 1, 1).date(), max_value=datetime(2026, 1, 1).date())
        ).isoformat()
    if draw(st.booleans()):
        res["telecom"] = [{"system": "phone", "value": "+86 10 5555 0101"}]
    return res


@st.composite
def appointments(draw: st.DrawFn, mrn: str | None = None) -> dict[str, Any]:
    start = draw(instants())[0]
    field = draw(st.sampled_from(["serviceType", "specialty"]))
    return {
        "resourceType": "Appointment",
        "identifier": [{"system": APPT, "value": fresh("AP", draw(id_suffix))}],
        "status": draw(st.sampled_from(["booked", "pending", "proposed"])),
        field: [
            {
                "coding": [
                    {
                        "system": "https://hospital.example/fhir/CodeSystem/dept",
                        "code": draw(st.sampled_from(DEPARTMENTS)),
                    }
                ]
            }
        ],
        "start": start,
        "participant": [
            {
                "actor": {"type": "Patient", "identifier": {"system": MRN, "value": mrn or fresh("M")}},
                "status": "accepted",
            }
        ],
    }


@st.composite
def bundles(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any] | None]]:
    """(a valid transaction or batch Bundle, the expected delivery of each entry or None).

    Entries reference each other: orders name their patient by the Patient entry's ``urn:uuid``
    fullUrl, some orders their ward by an Encounter entry."""
    mrn = fresh("M")
    entries: list[dict[str, Any]] = []
    expected: list[dict[str, Any] | None] = []
    patient_url = f"urn:uuid:{next(_numbers):08d}-0000-4000-8000-000000000000"
    with_patient = draw(st.booleans())
    if with_patient:
        entries.append({"fullUrl": patient_url, "resource": draw(patients(mrn))})
        expected.append(None)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["order", "order", "appointment"]))
        if kind == "appointment":
            entries.append({"resource": draw(appointments(mrn))})
            expected.append(None)
            continue
        res, exp = draw(orders(mrn))
        if with_patient and draw(st.booleans()):
            res["subject"] = {"reference": patient_url}
        if res["resourceType"] == "MedicationRequest" and "contained" in res and draw(st.booleans()):
            # the stay as its own entry instead of contained
            enc_url = f"urn:uuid:{next(_numbers):08d}-0000-4000-8000-00000000e0c0"
            encounter = {k: v for k, v in res.pop("contained")[0].items() if k != "id"}
            res["encounter"] = {"reference": enc_url}
            entries.append({"fullUrl": enc_url, "resource": encounter})
            expected.append(None)
        entries.append({"resource": res})
        expected.append(exp)
    for i, e in enumerate(entries):
        e.setdefault("fullUrl", f"urn:uuid:{next(_numbers):08d}-0000-4000-8000-{i:012d}")
        e["request"] = {"method": "POST", "url": e["resource"]["resourceType"]}
    btype = draw(st.sampled_from(["transaction", "batch"]))
    return {"resourceType": "Bundle", "type": btype, "entry": entries}, expected


def check_delivery(store: Store, task_id: str, expected: dict[str, Any]) -> None:
    t = store.get_task(task_id).task
    got = {
        "kind": t.kind,
        "priority": t.priority,
        "pickup": t.pickup,
        "dropoff": t.dropoff,
        "earliest_s": t.earliest_s,
        "deadline_s": t.deadline_s,
        "cold_chain": t.handling.cold_chain,
        "controlled": t.handling.controlled,
        "max_transit_s": t.handling.max_transit_s,
    }
    assert got == expected


# ---- strategies: mutations ---------------------------------------------------------------------

json_leaves = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
garbage_text = st.one_of(
    st.text(max_size=30),  # any unicode, lone surrogates included
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
    st.sampled_from(["", " ", "\u0000", "‮RTL", "😀" * 50, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "a\nb", "Patient/", "#", "urn:uuid:"]),
    st.integers(1_000, 300_000).map(lambda n: "x" * n),  # huge
)
#: Times at the ends of what FHIR and Python can hold, and malformed ones.
ODD_TIMES = (
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01",
    "1970-01-01T00:00:00Z",
    "9999",
    "2026-02-30",
    "2026-11-26T08:00:00",
    "2026-11-26T25:00:00Z",
    "tomorrow",
)
TIME_KEYS = ("authoredOn", "occurrenceDateTime", "start", "end", "birthDate")
CODE_KEYS = ("status", "intent", "priority", "code", "system", "gender", "resourceType", "url", "reference", "type")


def paths_of(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths_of(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths_of(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def mutate(draw: Callable[[st.SearchStrategy[Any]], Any], doc: dict[str, Any], *, rounds: int = 3) -> dict[str, Any]:
    """1..rounds mutations of a copy of ``doc``: drop, wrong type, wrong code, huge or odd text,
    nested garbage, unknown element, duplicated list item, wrong resourceType."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, rounds))):
        paths = [p for p in paths_of(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(
            st.sampled_from(
                ["drop", "type", "code", "time", "text", "garbage", "extra", "dup", "resourceType", "empty"]
            )
        )
        parent = _get(doc, path[:-1])
        if op == "drop":
            del parent[path[-1]]
        elif op == "type":
            _set(doc, path, draw(json_leaves | st.just([]) | st.just({})))
        elif op == "code":
            code_paths = [p for p in paths if isinstance(p[-1], str) and p[-1] in CODE_KEYS]
            if code_paths:
                _set(doc, draw(st.sampled_from(code_paths)), draw(garbage_text))
        elif op == "time":
            time_paths = [p for p in paths if isinstance(p[-1], str) and p[-1] in TIME_KEYS]
            if time_paths:
                _set(doc, draw(st.sampled_from(time_paths)), draw(st.sampled_from(ODD_TIMES)))
        elif op == "text":
            _set(doc, path, draw(garbage_text))
        elif op == "garbage":
            _set(doc, path, draw(json_values))
        elif op == "extra":
            target = draw(st.sampled_from([p for p in [(), *paths] if isinstance(_get(doc, p), dict)]))
            _get(doc, target)[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
        elif op == "dup":
            lists = [p for p in paths if isinstance(_get(doc, p), list) and _get(doc, p)]
            if lists:
                items = _get(doc, draw(st.sampled_from(lists)))
                items.append(json.loads(json.dumps(items[0])))
        elif op == "resourceType":
            doc["resourceType"] = draw(
                st.sampled_from(["Patient", "Bundle", "Observation", "Foo", "Reference", "", "medicationrequest"])
            )
        elif op == "empty":
            _set(doc, path, draw(st.sampled_from([{}, [], "", [{}], [None]])))
    return doc


@st.composite
def mutated_bundles(draw: st.DrawFn) -> dict[str, Any]:
    """A valid Bundle broken at the Bundle level (fullUrls, references, requests, type) and/or in an entry."""
    bundle, _ = draw(bundles())
    entries = bundle["entry"]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                ["dup-fullurl", "missing-ref", "method", "no-request", "type", "entry", "dup-entry", "null-resource"]
            )
        )
        i = draw(st.integers(0, len(entries) - 1))
        if op == "dup-fullurl" and len(entries) > 1:
            j = (i + draw(st.integers(1, len(entries) - 1))) % len(entries)
            entries[i]["fullUrl"] = entries[j].get("fullUrl")
        elif op == "missing-ref":
            res = entries[i].get("resource")
            if isinstance(res, dict):
                key = "subject" if "subject" in res else "encounter"
                res[key] = {
                    "reference": draw(st.sampled_from(["urn:uuid:not-in-this-bundle", "Patient/nobody", "#none"]))
                }
        elif op == "method":
            entries[i].setdefault("request", {})["method"] = draw(
                st.sampled_from(["GET", "DELETE", "PATCH", "HEAD", "post", "", 5])
            )
        elif op == "no-request":
            entries[i].pop("request", None)
        elif op == "type":
            bundle["type"] = draw(st.sampled_from(["collection", "searchset", "document", "", None, 7, "TRANSACTION"]))
        elif op == "entry" and isinstance(entries[i].get("resource"), dict):
            entries[i]["resource"] = mutate(draw, entries[i]["resource"], rounds=2)
        elif op == "dup-entry":
            entries.append(json.loads(json.dumps(entries[i])))
        elif op == "null-resource":
            entries[i]["resource"] = draw(st.sampled_from([None, {}, [], "Patient", 1]))
    return bundle


# ---- the fuzz tests ----------------------------------------------------------------------------


def test_generated_orders_become_the_mapped_delivery_once(fuzzer: Fuzzer) -> None:
    """Valid generated MedicationRequest / ServiceRequest posts (any ward form, priority, times,
    identifier text) are created with a delivery whose priority, pickup, dropoff, window and
    handling are the mapping's; sending one again creates nothing."""

    @_fuzz(80)
    @given(order=orders())
    def run(order: tuple[dict[str, Any], dict[str, Any]]) -> None:
        res, expected = order
        r = fuzzer.exchange(f"/fhir/{res['resourceType']}", res)
        assert r.status_code == 201, r.json
        check_delivery(fuzzer.store, r.headers["X-Delivery-Task"].removeprefix("Task/"), expected)

    run()
    print(f"\n{fuzzer.statuses}")


def test_generated_patients_and_appointments_are_stored_once(fuzzer: Fuzzer) -> None:
    """Valid generated Patient and Appointment posts are created (201) and idempotent when re-sent."""

    @_fuzz(40)
    @given(res=patients() | appointments())
    def run(res: dict[str, Any]) -> None:
        r = fuzzer.exchange(f"/fhir/{res['resourceType']}", res)
        assert r.status_code == 201, r.json

    run()
    print(f"\n{fuzzer.statuses}")


def test_generated_bundles_are_applied_whole_and_idempotent(fuzzer: Fuzzer) -> None:
    """Valid transaction and batch Bundles with cross-referencing entries (patient by urn:uuid,
    stay as an Encounter entry): every entry is created, each order's delivery matches the
    mapping, and sending the Bundle again changes nothing."""

    @_fuzz(60)
    @given(case=bundles())
    def run(case: tuple[dict[str, Any], list[dict[str, Any] | None]]) -> None:
        bundle, expected = case
        r = fuzzer.exchange("/fhir/", bundle)
        assert r.status_code == 200, r.json
        responses = [e["response"] for e in r.json["entry"]]  # type: ignore[index]
        assert len(responses) == len(bundle["entry"])
        for entry, resp, exp in zip(bundle["entry"], responses, expected, strict=True):
            if entry["resource"]["resourceType"] == "Encounter":
                continue
            assert resp["status"] == "201 Created", resp
            if exp is not None:
                rt, oid = resp["location"].split("/")
                order = so.get_order(fuzzer.store, oid)
                assert order.resource_type == rt and order.task_id is not None
                check_delivery(fuzzer.store, order.task_id, exp)

    run()
    print(f"\n{fuzzer.statuses}")


def test_mutated_resources_never_break_the_endpoint(fuzzer: Fuzzer) -> None:
    """Valid resources with fields dropped, wrong types, wrong codes, huge or odd unicode text,
    nested garbage, unknown elements and wrong resourceTypes, posted to their own endpoint (or
    another one), with or without If-None-Exist: never a 5xx; a refusal names the element and
    changes nothing; an acceptance is idempotent."""
    valid = st.one_of(orders().map(lambda o: o[0]), patients(), appointments())

    @_fuzz(300)
    @given(data=st.data(), res=valid)
    def run(data: st.DataObject, res: dict[str, Any]) -> None:
        body = mutate(data.draw, res)
        rt = data.draw(st.sampled_from([res["resourceType"], res["resourceType"], "Patient", "ServiceRequest"]))
        headers = dict(fuzzer.his)
        if data.draw(st.integers(0, 4)) == 0:
            headers["If-None-Exist"] = data.draw(
                st.sampled_from([f"identifier={ORDER}|x", "identifier=", "identifier=|", "x", "identifier=a|b|c"])
            )
        if data.draw(st.integers(0, 5)) == 0:  # PUT to an id: 409 unless it is the identifier's
            fuzzer.exchange(
                f"/fhir/{rt}/{data.draw(st.sampled_from(['x', 'P-M-1001', 'mr-1']))}", body, headers, method="PUT"
            )
        else:
            fuzzer.exchange(f"/fhir/{rt}", body, headers)

    run()
    print(f"\n{fuzzer.statuses}")
    assert fuzzer.statuses.get(422, 0) >= 100, fuzzer.statuses  # the mutations do reach the mapping


def test_mutated_bundles_never_break_the_endpoint(fuzzer: Fuzzer) -> None:
    """Bundles with duplicate fullUrls and entries, references to entries that are not there,
    wrong request methods, missing requests, wrong Bundle types and broken entry resources: never a
    5xx; a refused Bundle names the element and leaves the store exactly as it was."""

    @_fuzz(150)
    @given(bundle=mutated_bundles())
    def run(bundle: dict[str, Any]) -> None:
        fuzzer.exchange("/fhir/", bundle)

    run()
    print(f"\n{fuzzer.statuses}")
    assert fuzzer.statuses.get(422, 0) >= 50, fuzzer.statuses


READ_PATHS = [
    "/fhir/Task",
    "/fhir/MedicationRequest",
    "/fhir/ServiceRequest",
    "/fhir/Appointment",
    "/fhir/Provenance",
    "/fhir/Encounter",
]
PARAMS = [
    "patient",
    "patient.identifier",
    "patient:identifier",
    "subject",
    "identifier",
    "status",
    "based-on",
    "target",
    "_count",
    "_format",
    "bogus",
]


@st.composite
def reads(draw: st.DrawFn) -> str:
    """A read or search under /fhir with generated ids and query parameters."""
    text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
    if draw(st.booleans()):
        rt = draw(
            st.sampled_from(
                [
                    "Task",
                    "MedicationRequest",
                    "ServiceRequest",
                    "Patient",
                    "Appointment",
                    "Provenance",
                    "Encounter",
                    "Task",
                ]
            )
        )
        tail = draw(st.sampled_from(["", "", "/_history", "/_history/1", "/_history/0", "/_history/9" * 3, "/$arrive"]))
        ident = draw(text | st.sampled_from(["\n", "a\r\nb", "..", "%", "TFMR-x.1"]))
        return f"/fhir/{rt}/{quote(ident or 'x', safe='')}{tail}"
    params = draw(
        st.dictionaries(
            st.sampled_from(PARAMS),
            text | st.sampled_from([f"{MRN}|M-1001", "Task/x", "0", "1001", "requested,bogus"]),
            max_size=3,
        )
    )
    return draw(st.sampled_from(READ_PATHS)) + "?" + urlencode(params)


def test_generated_reads_and_searches_never_break_the_endpoint(fuzzer: Fuzzer) -> None:
    """Reads of generated ids (any unicode, line breaks, history versions out of range), searches
    with generated parameters, and the same paths with other methods, over a store holding orders:
    never a 5xx, errors are OperationOutcomes, nothing but a read answers 2xx without a change."""
    fuzzer.exchange("/fhir/", transaction(patient("M-1001"), med_order(fresh("RX")), med_order(fresh("RX"))))
    auth = {"Authorization": fuzzer.his["Authorization"]}

    @_fuzz(100)
    @given(path=reads(), method=st.sampled_from(["GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH"]))
    def run(path: str, method: str) -> None:
        if method != "GET":
            fuzzer.exchange(path, b"", {**auth, "Content-Type": "application/fhir+json"}, element=False, method=method)
            return
        r = fuzzer.client.get(path, headers=auth)
        assert r.status_code < 500, (path, r.status_code, r.data[:300])
        if r.status_code >= 400:
            check_refusal(r, element=False)
        else:
            assert json.loads(r.data)["resourceType"]

    run()


def _deep(depth: int, kind: str) -> str:
    """JSON nested ``depth`` levels: arrays, objects, or extensions inside a valid MedicationRequest."""
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    inner = '{"url": "http://x", "extension": [' * depth + '{"url": "http://x", "valueString": "v"}' + "]}" * depth
    return json.dumps(med_order(fresh("DEEP")))[:-1] + ', "extension": [' + inner + "]}"


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[str, bytes | str, str | None]:
    """(path, body, Content-Type): bytes, text, JSON that is no resource, very deep JSON, valid
    resources under the wrong content type."""
    path = draw(st.sampled_from(["/fhir/", "/fhir/MedicationRequest", "/fhir/Patient", "/fhir/Appointment/$arrive"]))
    kind = draw(st.sampled_from(["bytes", "text", "json", "deep", "resource"]))
    body: bytes | str
    if kind == "bytes":
        body = draw(st.binary(max_size=200))
    elif kind == "text":
        body = draw(
            st.sampled_from(["", "{", "<xml/>", "null", "NaN", "1e999999", '{"resourceType":', "resourceType=Patient"])
        )
    elif kind == "json":
        body = json.dumps(draw(json_values))
    elif kind == "deep":
        body = _deep(
            draw(st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH, 500, 5_000, 200_000])),
            draw(st.sampled_from(["array", "object", "extension"])),
        )
    else:
        body = json.dumps(draw(patients()))
    ctype = draw(
        st.sampled_from(
            [
                None,
                "application/fhir+json",
                "application/json",
                "text/plain",
                "application/xml",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/fhir+json; charset=latin-1",
            ]
        )
    )
    return path, body, ctype


def test_raw_bodies_and_content_types_never_break_the_endpoint(fuzzer: Fuzzer) -> None:
    """Non-JSON bodies, JSON that is no resource, JSON nested up to 200 000 deep and valid resources
    under odd content types: never a 5xx, refusals are OperationOutcomes, nothing half-stored."""

    @_fuzz(100)
    @given(req=raw_requests())
    def run(req: tuple[str, bytes | str, str | None]) -> None:
        path, body, ctype = req
        headers = {"Authorization": fuzzer.his["Authorization"]}
        if ctype is not None:
            headers["Content-Type"] = ctype
        # a body that is no resource at all has no element to name
        fuzzer.exchange(path, body, headers, element=False)

    run()
    print(f"\n{fuzzer.statuses}")


# ---- regressions: each bug the fuzzing found ---------------------------------------------------


def _refused(r: TestResponse, status: int, path: str) -> list[dict[str, Any]]:
    issues = check_refusal(r)
    assert r.status_code == status, (r.status_code, issues)
    assert any(path in (i.get("expression") or []) or i["diagnostics"].startswith(path) for i in issues), issues
    return issues


@pytest.mark.parametrize("path", ["/fhir/", "/fhir/MedicationRequest", "/fhir/Appointment/$arrive"])
def test_json_too_deep_for_the_decoder_is_a_400(fuzzer: Fuzzer, path: str) -> None:
    """Was a 500: ``[`` × 100 000 made the JSON decoder raise RecursionError, which is no
    ValueError, so get_json(silent=True) let it through. Now 400 OperationOutcome, nothing stored."""
    before = snapshot(fuzzer.store)
    r = fuzzer.post(path, "[" * 100_000)
    issues = check_refusal(r, element=False)
    assert r.status_code == 400 and "nested too deeply" in issues[0]["diagnostics"]
    assert snapshot(fuzzer.store) == before


def test_elements_nested_too_deep_for_the_models_are_a_400(fuzzer: Fuzzer) -> None:
    """Was a 500: a MedicationRequest with 200 nested extensions (valid JSON, valid elements)
    exhausted the recursion of the model validation. Now refused naming the element; nesting a
    real resource could use (30 extensions) is still accepted."""
    r = fuzzer.exchange("/fhir/MedicationRequest", _deep(200, "extension"))
    issues = _refused(r, 400, "MedicationRequest.extension[0].extension[0]")
    assert f"nested deeper than {MAX_DEPTH} levels" in issues[0]["diagnostics"]
    assert fuzzer.exchange("/fhir/MedicationRequest", _deep(25, "extension")).status_code == 201


@pytest.mark.parametrize("value", ["Foo", None, ["Patient"], 5])
def test_contained_or_entry_resource_of_no_known_type_is_a_422(fuzzer: Fuzzer, value: Any) -> None:
    """Was a 500: a contained resource or Bundle entry whose resourceType is no FHIR type
    (``"Foo"``: KeyError 'R4.FooType'; ``null`` or a list: TypeError) escaped the model
    validation. Now 422 naming the element."""
    res = med_order(fresh("RX"))
    res["contained"][0]["resourceType"] = value
    _refused(fuzzer.exchange("/fhir/MedicationRequest", res), 422, "MedicationRequest.contained[0].resourceType")
    bundle = transaction(patient(fresh("M")), med_order(fresh("RX")))
    bundle["entry"][0]["resource"]["resourceType"] = value
    _refused(fuzzer.exchange("/fhir/", bundle), 422, "Bundle.entry[0].resource.resourceType")


def test_nul_character_is_refused_naming_the_element(fuzzer: Fuzzer) -> None:
    """Was a 500 on PostgreSQL (text and JSONB cannot hold U+0000; SQLite stored it): a NUL in any
    string, e.g. a note, the order number or the MRN. Now 422 naming the element, on every database."""
    res = med_order(fresh("RX"))
    res["note"] = [{"text": "give with food\u0000"}]
    _refused(fuzzer.exchange("/fhir/MedicationRequest", res), 422, "MedicationRequest.note[0].text")
    _refused(fuzzer.exchange("/fhir/Patient", patient("M-\u00001")), 422, "Patient.identifier[0].value")
    bundle = transaction(med_order("RX-\u0000"))
    _refused(fuzzer.exchange("/fhir/", bundle), 422, "Bundle.entry[0].resource.identifier[0].value")


@pytest.mark.postgres
def test_nul_character_is_a_422_not_a_500_on_postgresql(postgres_url: str, tmp_path: Any) -> None:
    """The same NUL inputs over a PostgreSQL store (where they used to fail in the INSERT): 422."""
    from argon2 import PasswordHasher

    from hospital_ops.config import Settings
    from ops_dashboard import create_app

    store = Store.open(
        postgres_url, auto_upgrade=True, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    try:
        settings = Settings(data_dir=tmp_path, secret_key="k" * 44)  # type: ignore[arg-type]
        app = create_app(settings, store=store, testing=True)
        token = store.issue_device_token("dev-his", "his", actor="test")[0]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        client = app.test_client()
        res = med_order("RX-1")
        res["note"] = [{"text": "a\u0000b"}]
        for path, body in (("/fhir/MedicationRequest", res), ("/fhir/Patient", patient("M-\u0000"))):
            r = client.post(path, data=json.dumps(body), headers=headers)
            check_refusal(r)
            assert r.status_code == 422
        assert store.list_tasks() == [] and store.find_patient(mrn="M-\u0000".replace("\u0000", "")) is None
    finally:
        store.close()


def test_duplicate_full_urls_are_refused(fuzzer: Fuzzer) -> None:
    """Was accepted: two Patients under one fullUrl, and an order whose subject references it was
    silently given to the second patient (the index kept the last entry). Now 422 naming the
    second entry's fullUrl; nothing stored."""
    first, second = fresh("M"), fresh("M")
    rx = med_order(fresh("RX"))
    rx["subject"] = {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}
    bundle = transaction(patient(first), patient(second), rx)
    bundle["entry"][1]["fullUrl"] = bundle["entry"][0]["fullUrl"]
    _refused(fuzzer.exchange("/fhir/", bundle), 422, "Bundle.entry[1].fullUrl")
    assert fuzzer.store.find_patient(mrn=first) is None and fuzzer.store.find_patient(mrn=second) is None


def test_same_patient_twice_in_a_bundle_is_refused(fuzzer: Fuzzer) -> None:
    """Was accepted and not idempotent: one MRN in two Patient entries with different names
    (created + updated), and every resend "updated" it twice more (name flipped back and forth,
    audit rows added). Now refused like a duplicate order, naming the second entry."""
    mrn = fresh("M")
    bundle = transaction(patient(mrn, name="Li Wei"), patient(mrn, name="Wang Fang"))
    _refused(fuzzer.exchange("/fhir/", bundle), 422, "Bundle.entry[1].resource.identifier")
    assert fuzzer.store.find_patient(mrn=mrn) is None


def test_one_identifier_for_two_order_types_in_a_bundle_names_the_entry(fuzzer: Fuzzer) -> None:
    """Was refused by the store with no element path (OperationOutcome without expression): a
    MedicationRequest and a ServiceRequest with the same order number in one Bundle (they share
    one table). Now refused before the store, naming the second entry's identifier."""
    number = fresh("ORD")
    lab = {**transaction(med_order(number))["entry"][0]["resource"], "resourceType": "ServiceRequest"}
    lab = {k: v for k, v in lab.items() if k not in ("medicationCodeableConcept", "encounter", "contained")}
    lab |= {
        "code": {"coding": [{"system": LOINC, "code": "24336-0"}]},
        "locationReference": [{"reference": "Location/T3-10"}],
    }
    _refused(fuzzer.exchange("/fhir/", transaction(med_order(number), lab)), 422, "Bundle.entry[1].resource.identifier")


@pytest.mark.parametrize("element", ["class", "status"])
def test_null_for_a_required_element_is_refused_before_anything_is_stored(fuzzer: Fuzzer, element: str) -> None:
    """Was a 422 for an order that had been stored with its delivery: ``"class": null`` in the
    contained Encounter passed the models, the order was committed, and the answer (the stored
    order, which leaves nulls out) failed validation; every resend too. Now refused up front,
    naming the element, and nothing is stored."""
    res = med_order(fresh("RX"))
    res["contained"][0][element] = None
    _refused(fuzzer.exchange("/fhir/MedicationRequest", res), 422, f"MedicationRequest.contained[0].{element}")
    assert so.list_orders(fuzzer.store) == [] and fuzzer.store.list_tasks() == []


@pytest.mark.parametrize(
    ("rt", "element", "when"),
    [
        ("MedicationRequest", "authoredOn", "9999-12-31T23:59:59-12:00"),
        ("MedicationRequest", "authoredOn", "0001-01-01T00:00:00+14:00"),
        ("ServiceRequest", "occurrenceDateTime", "9999-12-31T23:00:00Z"),
    ],
)
def test_order_times_at_the_ends_of_the_calendar_are_refused(fuzzer: Fuzzer, rt: str, element: str, when: str) -> None:
    """Was a 201 whose delivery could never be shown: authoredOn 9999-12-31T23:59:59-12:00 put the
    deadline in year 10000 (0001-01-01T00:00:00+14:00: year 0), so GET Task/<id> and every Task
    search listing it answered 500. Now 422 naming the time; a year-9999 date still works."""
    res = med_order(fresh("RX")) if rt == "MedicationRequest" else lab_order(fresh("LAB"), collect=when)
    res[element] = when
    _refused(fuzzer.exchange(f"/fhir/{rt}", res), 422, f"{rt}.{element}")
    assert fuzzer.client.get("/fhir/Task", headers={"Authorization": fuzzer.his["Authorization"]}).status_code == 200
    ok = med_order(fresh("RX")) | {"authoredOn": "9999-06-01T00:00:00Z"}
    assert fuzzer.exchange("/fhir/MedicationRequest", ok).status_code == 201


def test_null_given_name_is_not_a_server_error(fuzzer: Fuzzer) -> None:
    """Was a 500 (TypeError joining the name): ``"given": [null]``, which FHIR JSON allows in a
    primitive list (paired with ``_given``). Now the nulls are skipped: with a family name the
    patient is registered, with nothing else it is refused naming ``Patient.name``."""
    res = patient(fresh("M"))
    res["name"] = [{"given": [None, "Wei"], "_given": [{"extension": [{"url": "http://x", "valueString": "y"}]}, None]}]
    res["name"][0]["family"] = "Li"
    r = fuzzer.exchange("/fhir/Patient", res)
    assert r.status_code == 201 and r.json["name"] == [{"text": "Wei Li"}]  # type: ignore[index]
    _refused(fuzzer.exchange("/fhir/Patient", patient(fresh("M")) | {"name": [{"given": [None]}]}), 422, "Patient.name")


@pytest.mark.parametrize(("method", "path"), [("GET", "/fhir/Patient/%0A/_history"), ("POST", "/fhir/Task/a%0Ab")])
def test_paths_with_line_breaks_get_an_operation_outcome(fuzzer: Fuzzer, method: str, path: str) -> None:
    """Was the app's HTML 404/405 page: the catch-all ``<path:rest>`` does not match a line break
    (``%0A``), so such paths under /fhir left the blueprint. Now a 404 OperationOutcome."""
    r = fuzzer.client.open(path, method=method, headers={"Authorization": fuzzer.his["Authorization"]})
    check_refusal(r, element=False)
    assert r.status_code == 404
