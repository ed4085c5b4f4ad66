"""HL7 FHIR R4 intake and views (``fhir.resources`` R4B models): orders in, deliveries and check-ins out.

    from hospital_ops.fhir import load_tables, bundle_intake, parse_resource, intake_of, task_resource

Pure (no Flask): ``tables`` loads the mapping tables (hospital_ops/data/fhir/*.yaml), ``mapping``
turns FHIR resources into intake items for ``hospital_ops.store.orders.apply_intake`` and store
records back into FHIR resources. The HTTP endpoint is ``ops_dashboard.fhir`` (``/fhir/``).
"""

from hospital_ops.fhir.mapping import (
    FHIR_VERSION,
    FhirInputError,
    Issue,
    appointment_resource,
    bundle_intake,
    capability_statement,
    encounter_resource,
    intake_of,
    operation_outcome,
    order_resource,
    parse_resource,
    patient_resource,
    provenance_resource,
    task_resource,
    task_versions,
)
from hospital_ops.fhir.tables import MappingError, MappingTables, default_tables, load_tables

__all__ = [
    "FHIR_VERSION",
    "FhirInputError",
    "Issue",
    "MappingError",
    "MappingTables",
    "appointment_resource",
    "bundle_intake",
    "capability_statement",
    "default_tables",
    "encounter_resource",
    "intake_of",
    "load_tables",
    "operation_outcome",
    "order_resource",
    "parse_resource",
    "patient_resource",
    "provenance_resource",
    "task_resource",
    "task_versions",
]
