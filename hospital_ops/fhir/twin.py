"""The twin's demand as HIS orders: a delivery request -> a FHIR transaction Bundle for ``POST /fhir/``.

Used by ``sim live --via fhir`` so a load test goes through the real intake (mapping tables,
idempotency, persistence) instead of ``/api/v1/tasks``. The request is the REST body the twin
already makes (``sim.demand.Request.to_json``); the order is chosen so that the intake turns it
back into the same delivery: the lab test with the request's maximum transit, a drug with the
request's handling, the ward of the request's ward end, times shifted so that the pickup window
matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hospital_ops.campus import Campus, default_campus
from hospital_ops.domain import Priority
from hospital_ops.fhir.tables import Drug, LabTest, MappingTables, default_tables

ORDER_SYSTEM_SUFFIX = "/twin"


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _lab_test(tables: MappingTables, max_transit_s: int | None, cold_chain: bool) -> LabTest:
    """The test with the longest stability within the request's limit, same cold chain if possible."""
    tests = sorted({id(t): t for t in tables.lab_tests.values()}.values(), key=lambda t: t.code)
    fitting = [t for t in tests if max_transit_s is None or t.max_transit_s <= max_transit_s]
    if fitting:
        return max(fitting, key=lambda t: (t.cold_chain == cold_chain, t.max_transit_s))
    return min(tests, key=lambda t: (t.cold_chain != cold_chain, t.max_transit_s))


def _drug(tables: MappingTables, controlled: bool, cold_chain: bool) -> Drug:
    drugs = sorted({id(d): d for d in tables.drugs.values()}.values(), key=lambda d: d.code)
    exact = [d for d in drugs if d.controlled == controlled and d.cold_chain == cold_chain]
    return (exact or [d for d in drugs if d.controlled == controlled] or drugs)[0]


def delivery_as_fhir(
    body: Mapping[str, Any],
    number: str,
    *,
    tables: MappingTables | None = None,
    campus: Campus | None = None,
) -> dict[str, Any] | None:
    """A transaction Bundle with the order behind one delivery request, or None when the request has
    no inpatient ward end (ED, supplies): those stay on the REST API.

    ``number`` makes the order identifier (``<order system>/twin|<number>``): unique per request
    and run, so resending the same request is idempotent.
    """
    tables = tables or default_tables()
    campus = campus or default_campus()
    kind = body.get("kind")
    priority = Priority(str(body.get("priority", "routine")))
    handling = body.get("handling") or {}
    earliest = int(body["earliest_s"])
    system = tables.order_system + ORDER_SYSTEM_SUFFIX
    subject = {"identifier": {"system": tables.mrn_system, "value": f"TWIN-{number}"}}
    ward_ext = "https://hospital-ops.example/fhir/StructureDefinition/delivery-ward"
    resource: dict[str, Any]
    if kind == "specimen":
        ward = campus.ward_of_station(str(body.get("pickup")))
        if ward is None or body.get("dropoff") != tables.laboratory_location:
            return None
        test = _lab_test(tables, handling.get("max_transit_s"), bool(handling.get("cold_chain")))
        resource = {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": system, "value": number}],
            "status": "active",
            "intent": "order",
            "priority": priority.value,
            "code": {"coding": [{"system": test.system, "code": test.code}], "text": test.name},
            "subject": subject,
            "occurrenceDateTime": _when(earliest),
            "authoredOn": _when(earliest),
            "locationReference": [{"reference": f"Location/{ward.id}"}],
        }
    elif kind == "medication":
        ward = campus.ward_of_station(str(body.get("dropoff")))
        if ward is None or body.get("pickup") != tables.pharmacy_location:
            return None
        drug = _drug(tables, bool(handling.get("controlled")), bool(handling.get("cold_chain")))
        authored = earliest - tables.medication[priority].dispense_s
        resource = {
            "resourceType": "MedicationRequest",
            "identifier": [{"system": system, "value": number}],
            "status": "active",
            "intent": "order",
            "priority": priority.value,
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                            "code": "inpatient",
                        }
                    ]
                }
            ],
            "medicationCodeableConcept": {"coding": [{"system": drug.system, "code": drug.code}], "text": drug.name},
            "subject": subject,
            "authoredOn": _when(authored),
            "extension": [{"url": ward_ext, "valueCode": ward.id}],
        }
    else:
        return None
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}],
    }
