"""Helpers shared by the triage tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from hospital_ops.domain import Mental, Sex, Vitals
from triage_kiosk.triage import TriageInput
from triage_kiosk.triage.model import ArrivalMode

#: A complete set of unremarkable adult vital signs.
NORMAL_ADULT = Vitals(heart_rate=78, resp_rate=16, systolic_bp=124, diastolic_bp=78, temperature_c=36.8, spo2=98)


def adult(**changes: object) -> TriageInput:
    """A fully answered, well adult walk-in with a minor rash; override any field."""
    base: dict[str, object] = {
        "age": 40,
        "sex": Sex.MALE,
        "complaint_text": "skin rash",
        "onset_hours": 48,
        "pain": 0,
        "mental": Mental.ALERT,
        "vitals": NORMAL_ADULT,
        "arrival": ArrivalMode.WALK_IN,
        "injury": False,
    }
    base.update(changes)
    return TriageInput(**base)  # type: ignore[arg-type]
