"""The pure mapping: tables validated on load, FHIR <-> domain, round trips through fhir.resources."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.task import Task

from hospital_ops.domain import (
    CheckIn,
    CheckInMethod,
    CustodyEvent,
    CustodyKind,
    Priority,
    Reason,
    TaskKind,
    TaskStatus,
    TriageLevel,
    TriageResult,
)
from hospital_ops.fhir import FhirInputError, intake_of, parse_resource, task_resource
from hospital_ops.fhir.mapping import (
    bundle_intake,
    capability_statement,
    encounter_resource,
    provenance_resource,
    to_json,
)
from hospital_ops.fhir.tables import DEFAULT_DIR, MappingError, MappingTables, load_tables
from hospital_ops.store.records import StatusChange, TaskRecord
from tests.fhir.conftest import NOW_S, appointment, lab_order, med_order, patient, transaction

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _intake(resource: dict, tables: MappingTables):  # type: ignore[no-untyped-def]
    return intake_of(parse_resource(resource), tables, now_s=NOW_S, requester="his:test")


# ---- tables ----------------------------------------------------------------------------------


def test_shipped_tables_load_and_cover_the_campus(tables: MappingTables) -> None:
    """The shipped tables load, every campus ward is mapped, and the documented examples hold."""
    assert len(tables.wards) == 105
    gas = tables.lab_test("http://loinc.org", "24336-0")
    coag = tables.lab_test("http://loinc.org", "5902-2")
    assert gas is not None and gas.max_transit_s == 30 * 60
    assert coag is not None and coag.max_transit_s == 4 * 3600
    morphine = tables.drug("http://www.whocc.no/atc", "N02AA01")
    insulin = tables.drug("http://www.whocc.no/atc", "A10AB05")
    assert morphine is not None and morphine.controlled and not morphine.cold_chain
    assert insulin is not None and insulin.cold_chain and not insulin.controlled
    assert tables.priorities["stat"] is Priority.STAT and tables.priorities["asap"] is Priority.STAT


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "drugs.yaml",
            "schedule: narcotic, cold_chain: false}",
            "schedule: CII, cold_chain: false}",
            r"drugs\.yaml: drugs\[0\] \(N02AA01\): schedule: 'CII' is not one of",
        ),
        (
            "lab_tests.yaml",
            "max_transit: 30m, cold_chain: false}",
            "max_transit: soon, cold_chain: false}",
            r"lab_tests\.yaml: tests\[0\] \(24336-0\): max_transit: 'soon' is not a duration",
        ),
        (
            "lab_tests.yaml",
            "{code: 2524-7,",
            "{code: 24336-0,",
            r"lab_tests\.yaml: tests\[1\] \(24336-0\): coding http://loinc\.org\|24336-0 is already used",
        ),
        (
            "locations.yaml",
            '"T1-04": T1-04',
            '"T1-04": T9-99',
            r"locations\.yaml: wards\['T1-04'\]: 'T9-99' is not a ward id of the campus",
        ),
        (
            "intake.yaml",
            "pharmacy_location: MT-01-PHARMACY",
            "pharmacy_location: MT-02-LAB",
            r"intake\.yaml: pharmacy_location: 'MT-02-LAB' is a lab, not a pharmacy",
        ),
        (
            "intake.yaml",
            "  asap: stat\n",
            "  asap: soonish\n",
            r"intake\.yaml: priorities\.asap: 'soonish' is not one of",
        ),
        (
            "drugs.yaml",
            "cold_chain: true}",
            "cold_chain: true, colour: blue}",
            r"drugs\.yaml: drugs\[\d+\] \(\w+\): unknown key 'colour'",
        ),
    ],
)
def test_a_broken_table_is_refused_naming_file_entry_and_reason(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    """A mistake in a mapping table stops the load with the file, the entry and the reason."""
    folder = tmp_path / "fhir"
    shutil.copytree(DEFAULT_DIR, folder)
    text = (folder / file).read_text(encoding="utf-8")
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MappingError, match=message):
        load_tables(folder)


def test_missing_table_file_is_named(tmp_path: Path) -> None:
    """A missing file is named in the error."""
    folder = tmp_path / "fhir"
    shutil.copytree(DEFAULT_DIR, folder)
    (folder / "lab_tests.yaml").unlink()
    with pytest.raises(MappingError, match=r"lab_tests\.yaml: cannot read"):
        load_tables(folder)


# ---- in --------------------------------------------------------------------------------------


def test_stat_blood_gas_becomes_a_specimen_pickup_with_its_transit_limit(tables: MappingTables) -> None:
    """A STAT blood gas: ward station -> lab at collection time, due 15 min later (STAT turnaround), 30 min max transit."""
    item = _intake(lab_order("L-1"), tables)
    task = item.task
    assert task is not None and item.ward == "T3-10"
    assert (task.pickup, task.dropoff, task.kind) == ("T3-10-NS", "MT-02-LAB", TaskKind.SPECIMEN)
    assert task.priority is Priority.STAT
    assert task.earliest_s == NOW_S and task.deadline_s == NOW_S + 15 * 60
    assert task.handling.max_transit_s == 30 * 60
    assert item.patient_identifier == "https://hospital.example/fhir/sid/mrn|M-1001"


def test_routine_coagulation_deadline_is_its_four_hour_stability(tables: MappingTables) -> None:
    """Routine coagulation: deadline = collection + min(routine turnaround 4 h, stability 4 h)."""
    task = _intake(lab_order("L-2", code="5902-2", priority=None), tables).task
    assert task is not None and task.priority is Priority.ROUTINE
    assert task.deadline_s - task.earliest_s == 4 * 3600 and task.handling.max_transit_s == 4 * 3600


def test_controlled_medication_goes_from_pharmacy_to_the_ward_after_dispensing(tables: MappingTables) -> None:
    """Morphine (narcotic) for ward T1-04: locked drawer, picked up after dispensing, STAT from priority."""
    item = _intake(med_order("M-1", priority="stat"), tables)
    task = item.task
    assert task is not None
    assert (task.pickup, task.dropoff, task.kind) == ("MT-01-PHARMACY", "T1-04-NS", TaskKind.MEDICATION)
    assert task.handling.controlled and not task.handling.cold_chain
    assert task.priority is Priority.STAT
    assert task.earliest_s == NOW_S + 10 * 60 and task.deadline_s == NOW_S + 30 * 60


def test_cold_chain_drug_and_asap_priority(tables: MappingTables) -> None:
    """Insulin needs the cold box; FHIR 'asap' maps to STAT (intake.yaml)."""
    task = _intake(med_order("M-2", code="A10AB05", priority="asap"), tables).task
    assert task is not None and task.handling.cold_chain and not task.handling.controlled
    assert task.priority is Priority.STAT


def test_outpatient_medication_creates_no_delivery(tables: MappingTables) -> None:
    """A discharge / outpatient prescription is recorded but makes no robot delivery."""
    res = med_order("M-3")
    res["category"][0]["coding"][0]["code"] = "outpatient"
    item = _intake(res, tables)
    assert item.task is None and "outpatient" in item.note


def test_ward_from_extension_and_bundle_encounter(tables: MappingTables) -> None:
    """The ward can come from the delivery-ward extension, or from an Encounter elsewhere in the Bundle."""
    res = med_order("M-4")
    del res["contained"], res["encounter"]
    res["extension"] = [
        {"url": "https://hospital-ops.example/fhir/StructureDefinition/delivery-ward", "valueCode": "T2-08"}
    ]
    task = _intake(res, tables).task
    assert task is not None and task.dropoff == "T2-08-NS"
    res2 = med_order("M-5")
    del res2["contained"]
    res2["encounter"] = {"reference": "urn:uuid:enc-1"}
    res2["subject"] = {"reference": "urn:uuid:pat-1"}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:pat-1", "resource": patient("M-77"), "request": {"method": "POST", "url": "Patient"}},
            {
                "fullUrl": "urn:uuid:enc-1",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "in-progress",
                    "class": {"code": "IMP"},
                    "location": [{"location": {"identifier": {"value": "T5-12"}}}],
                },
                "request": {"method": "POST", "url": "Encounter"},
            },
            {"resource": res2, "request": {"method": "POST", "url": "MedicationRequest"}},
        ],
    }
    _, entries = bundle_intake(bundle, tables, now_s=NOW_S, requester="his:test")
    order = entries[2].intake
    assert order is not None and order.task is not None  # type: ignore[union-attr]
    assert order.task.dropoff == "T5-12-NS"  # type: ignore[union-attr]
    assert order.patient_identifier == "https://hospital.example/fhir/sid/mrn|M-77"  # type: ignore[union-attr]
    assert entries[1].intake is None  # context only


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda r: r.update(code={"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}),
            "ServiceRequest.code.coding",
        ),
        (
            lambda r: r.update(locationReference=[{"reference": "Location/NOWHERE"}]),
            "ServiceRequest.locationReference[0]",
        ),
        (lambda r: r.pop("locationReference"), "ServiceRequest.locationReference"),
        (lambda r: r.update(priority="yesterday"), "ServiceRequest.priority"),
        (lambda r: r.pop("identifier"), "ServiceRequest.identifier"),
        (lambda r: r.update(subject={"reference": "Patient/unknown"}), "ServiceRequest.subject"),
        (lambda r: r.update(occurrenceDateTime="26/11/2026"), "ServiceRequest.occurrenceDateTime"),
        (lambda r: r.update(colour="red"), "ServiceRequest.colour"),
        (lambda r: r.pop("subject"), "ServiceRequest.subject"),
    ],
)
def test_invalid_service_request_names_the_element(tables: MappingTables, change, path: str) -> None:  # type: ignore[no-untyped-def]
    """Each problem is refused with the element path (FHIRPath style) and a reason."""
    res = lab_order("L-9")
    change(res)
    with pytest.raises(FhirInputError) as err:
        _intake(res, tables)
    assert path in [i.path for i in err.value.issues], err.value.issues
    assert all(i.reason for i in err.value.issues)


def test_unknown_drug_is_refused(tables: MappingTables) -> None:
    """A medication not in drugs.yaml is refused (it might be controlled)."""
    with pytest.raises(
        FhirInputError, match=r"MedicationRequest\.medicationCodeableConcept\.coding: no coding is in drugs\.yaml"
    ):
        _intake(med_order("M-9", code="Z99ZZ99"), tables)


def test_bundle_issues_are_rooted_at_the_entry(tables: MappingTables) -> None:
    """Problems inside a Bundle name the entry: Bundle.entry[1].resource.code.coding, all entries at once."""
    bad = lab_order("L-2", code="0000-0")
    bad2 = lab_order("L-3", ward="NOWHERE")
    with pytest.raises(FhirInputError) as err:
        bundle_intake(transaction(lab_order("L-1"), bad, bad2), tables, now_s=NOW_S, requester="x")
    paths = [i.path for i in err.value.issues]
    assert paths == ["Bundle.entry[1].resource.code.coding", "Bundle.entry[2].resource.locationReference[0]"]


def test_duplicate_identifier_within_one_bundle_is_refused(tables: MappingTables) -> None:
    """The same order twice in one Bundle is a mistake of the sender, refused naming the second entry."""
    with pytest.raises(FhirInputError, match=r"Bundle\.entry\[1\]\.resource\.identifier: same identifier as entry 0"):
        bundle_intake(transaction(lab_order("L-1"), lab_order("L-1")), tables, now_s=NOW_S, requester="x")


def test_patient_and_appointment_intake(tables: MappingTables) -> None:
    """Patient: MRN, name, birth year, credit care; Appointment: department from the service type."""
    p = _intake(patient("M-5", credit_care=True), tables)
    assert p.patient.mrn == "M-5" and p.patient.credit_care and p.patient.birth_year == 1968  # type: ignore[union-attr]
    a = _intake(appointment("A-1", service="dermatology"), tables)
    assert a.department == "OP-03-DERM" and a.status == "booked" and a.start_s == NOW_S  # type: ignore[union-attr]
    with pytest.raises(FhirInputError, match=r"Appointment\.serviceType\[0\]\.coding\[0\]\.code: no department"):
        _intake(appointment("A-2", service="astrology"), tables)


# ---- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [lab_order("L-1"), med_order("M-1"), patient(), appointment("A-1"), transaction(lab_order("L-1"), patient())],
    ids=["ServiceRequest", "MedicationRequest", "Patient", "Appointment", "Bundle"],
)
def test_inbound_resources_round_trip_through_the_models(resource: dict) -> None:  # type: ignore[type-arg]
    """Parsing and dumping through fhir.resources gives back the same resource (and parses again)."""
    model = parse_resource(resource)
    dumped = to_json(model)
    assert to_json(parse_resource(dumped)) == dumped
    assert dumped["resourceType"] == resource["resourceType"]
    assert dumped.get("identifier") == resource.get("identifier")


def _record(status: TaskStatus, tables: MappingTables) -> tuple[TaskRecord, list[StatusChange]]:
    task = _intake(med_order("M-1"), tables).task
    assert task is not None
    path = [TaskStatus.REQUESTED, TaskStatus.PLANNED, TaskStatus.PICKED_UP, TaskStatus.DELIVERED]
    if status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        path = [TaskStatus.REQUESTED, status]
    path = path[: path.index(status) + 1]
    history = [
        StatusChange(task.id, path[i - 1] if i else None, s, T0.replace(minute=i), "test", "why", "R-1" if i else None)
        for i, s in enumerate(path)
    ]
    rec = TaskRecord(task, status, "R-1", None, "T1-04", False, T0, T0.replace(minute=len(path)))
    return rec, history


@pytest.mark.parametrize(
    ("status", "fhir"),
    [
        (TaskStatus.REQUESTED, "requested"),
        (TaskStatus.PLANNED, "accepted"),
        (TaskStatus.PICKED_UP, "in-progress"),
        (TaskStatus.DELIVERED, "completed"),
        (TaskStatus.FAILED, "failed"),
        (TaskStatus.CANCELLED, "cancelled"),
    ],
)
def test_task_status_follows_the_fhir_task_state_machine(tables: MappingTables, status: TaskStatus, fhir: str) -> None:
    """Each delivery status maps to its FHIR Task status, and the Task is valid R4B."""
    rec, history = _record(status, tables)
    res = task_resource(rec, history)
    assert res["status"] == fhir and res["businessStatus"]["text"] == status.value
    assert Task.model_validate(res).status == fhir
    assert res["meta"]["versionId"] == str(len(history))


def test_task_versions_replay_the_history(tables: MappingTables) -> None:
    """Version k of a Task is the delivery after its k-th status change."""
    rec, history = _record(TaskStatus.DELIVERED, tables)
    statuses = [task_resource(rec, history, version=k)["status"] for k in range(1, len(history) + 1)]
    assert statuses == ["requested", "accepted", "in-progress", "completed"]


def test_custody_event_as_provenance_and_check_in_as_encounter(tables: MappingTables) -> None:
    """A hand-over is a valid Provenance of the Task; a triaged check-in a valid Encounter with its level."""
    ev = CustodyEvent("T-1", "R-1", CustodyKind.LOADED, "MT-01-PHARMACY", NOW_S, "badge", "pharm-7", 2)
    prov = provenance_resource(ev, 1)
    assert Provenance.model_validate(prov).target[0].reference == "Task/T-1"
    assert prov["activity"]["coding"][0]["code"] == "loaded" and prov["id"] == "T-1.1"
    ci = CheckIn("C-1", "P-1", "ED-01-K1", CheckInMethod.FACE, NOW_S)
    triage = TriageResult(TriageLevel.EMERGENT, (Reason("chest_pain", "Chest pain", "胸痛", 2),), "ED-01-ACUTE", False)
    enc = encounter_resource(ci, tables, triage=triage)
    assert Encounter.model_validate(enc).status == "triaged"
    assert enc["priority"]["coding"][0]["code"] == "2"
    assert encounter_resource(ci, tables)["status"] == "arrived"


def test_capability_statement_is_valid() -> None:
    """The CapabilityStatement validates and announces the transaction interaction and FHIR 4.3.0 (R4B)."""
    cap = capability_statement("http://x/fhir", "0.1.0")
    assert cap["fhirVersion"] == "4.3.0"
    types = {r["type"] for r in cap["rest"][0]["resource"]}
    assert {"MedicationRequest", "ServiceRequest", "Task", "Provenance", "Encounter"} <= types
