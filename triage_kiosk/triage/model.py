"""What the kiosk knows about a patient when it asks the triage engine for a level.

Every field that a kiosk may fail to obtain is optional, and ``None`` always means *not given*:
the engine lists it in ``TriageResult.missing`` and never treats it as normal. The constructor
checks ranges and raises ``ValueError`` naming the field, so implausible input never reaches the
rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from hospital_ops.domain import Mental, Sex, Vitals


class ArrivalMode(StrEnum):
    WALK_IN = "walk_in"
    AMBULANCE = "ambulance"
    #: Inter-facility transfer (sent in by another hospital or clinic).
    TRANSFER = "transfer"


#: Vital-sign fields of ``hospital_ops.domain.Vitals`` in display order.
VITAL_FIELDS: tuple[str, ...] = (
    "heart_rate",
    "resp_rate",
    "systolic_bp",
    "diastolic_bp",
    "temperature_c",
    "spo2",
)

#: Physiologically possible range of each vital sign; anything outside is a typing or sensor error.
VITAL_RANGES: dict[str, tuple[float, float]] = {
    "heart_rate": (0.0, 300.0),
    "resp_rate": (0.0, 80.0),
    "systolic_bp": (0.0, 300.0),
    "diastolic_bp": (0.0, 250.0),
    "temperature_c": (20.0, 45.0),
    "spo2": (0.0, 100.0),
}

#: AVPU from best to worst.
MENTAL_ORDER: tuple[Mental, ...] = (Mental.ALERT, Mental.VOICE, Mental.PAIN, Mental.UNRESPONSIVE)


def check_vitals(vitals: Vitals) -> None:
    """Raise ``ValueError`` naming the first vital sign that is not a number in its possible range."""
    for name in VITAL_FIELDS:
        value = getattr(vitals, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueError(f"vitals.{name}: must be a number or None, got {value!r}")
        low, high = VITAL_RANGES[name]
        if not low <= value <= high:
            raise ValueError(f"vitals.{name}: {value:g} is outside the possible range {low:g}..{high:g}")


@dataclass(frozen=True, slots=True)
class TriageInput:
    """One patient's answers and measurements at the kiosk.

    ``complaints`` holds complaint codes chosen on the screen (from the complaint catalogue);
    ``complaint_text`` is free text (Chinese or English) matched to the catalogue. Either or both
    may be given. ``modifiers`` are codes of the yes/no questions the kiosk asked and the patient
    answered *yes* (for example ``one_sided_weakness``); the ruleset lists the valid codes.
    """

    #: Years (fractions allowed for infants: 0.5 = six months).
    age: float
    sex: Sex = Sex.UNKNOWN
    complaints: tuple[str, ...] = ()
    complaint_text: str = ""
    #: Hours since the complaint began.
    onset_hours: float | None = None
    #: Numeric rating scale 0–10; 0 = no pain.
    pain: int | None = None
    mental: Mental | None = None
    vitals: Vitals = field(default_factory=Vitals)
    arrival: ArrivalMode | None = None
    #: The complaint follows an injury (trauma).
    injury: bool | None = None
    pregnant: bool | None = None
    modifiers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.age, bool) or not isinstance(self.age, int | float) or math.isnan(self.age):
            raise ValueError(f"age: must be a number of years, got {self.age!r}")
        if not 0 <= self.age <= 130:
            raise ValueError(f"age: {self.age:g} is outside 0..130 years")
        if not isinstance(self.sex, Sex):
            raise ValueError(f"sex: must be a Sex, got {self.sex!r}")
        if isinstance(self.complaints, str) or not all(isinstance(c, str) for c in self.complaints):
            raise ValueError(f"complaints: must be a tuple of complaint codes, got {self.complaints!r}")
        if not isinstance(self.complaint_text, str):
            raise ValueError(f"complaint_text: must be text, got {self.complaint_text!r}")
        if self.onset_hours is not None and (
            isinstance(self.onset_hours, bool)
            or not isinstance(self.onset_hours, int | float)
            or not self.onset_hours >= 0
        ):
            raise ValueError(f"onset_hours: must be hours >= 0 or None, got {self.onset_hours!r}")
        if self.pain is not None and (
            isinstance(self.pain, bool) or not isinstance(self.pain, int) or not 0 <= self.pain <= 10
        ):
            raise ValueError(f"pain: must be a whole number 0..10 or None, got {self.pain!r}")
        if self.mental is not None and not isinstance(self.mental, Mental):
            raise ValueError(f"mental: must be a Mental (AVPU) or None, got {self.mental!r}")
        if not isinstance(self.vitals, Vitals):
            raise ValueError(f"vitals: must be a Vitals, got {self.vitals!r}")
        check_vitals(self.vitals)
        if self.arrival is not None and not isinstance(self.arrival, ArrivalMode):
            raise ValueError(f"arrival: must be an ArrivalMode or None, got {self.arrival!r}")
        for name in ("injury", "pregnant"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{name}: must be true, false or None, got {value!r}")
        if self.pregnant and self.sex is Sex.MALE:
            raise ValueError("pregnant: cannot be true when sex is male")
        if isinstance(self.modifiers, str) or not all(isinstance(m, str) for m in self.modifiers):
            raise ValueError(f"modifiers: must be a set of modifier codes, got {self.modifiers!r}")
        object.__setattr__(self, "modifiers", frozenset(self.modifiers))
        object.__setattr__(self, "complaints", tuple(self.complaints))
