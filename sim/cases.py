"""Plausible triage cases by true acuity, for the product's own triage engine.

A case is a :class:`triage_kiosk.triage.model.TriageInput`: age, sex, a chief complaint from the
engine's own complaint catalogue (a code chosen on screen, or its phrase typed as free text),
vital signs, consciousness (AVPU), pain, arrival mode and onset. The per-level distributions of
vital signs, consciousness and pain follow the KTAS development data of Moon et al. (2019,
PLOS ONE 14(9): e0216972, CC BY 4.0; ../shared/data/ktas/dev.csv): means and spreads by expert
level, rounded (see sim/README.md). The complaint is drawn among the catalogue's complaints whose
usual level equals the true acuity (nearest level if none), so the engine sees a coherent case
but is free to disagree (it reads the vitals too): the twin reports how often it agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hospital_ops.domain import Mental, Sex, Vitals

# Per true level 1..5: (mean, sd) of each vital sign (KTAS dev split, expert level; sd of SpO2 at
# levels 2–3 trimmed of a few sensor outliers).
VITALS_BY_LEVEL: dict[str, tuple[tuple[float, float], ...]] = {
    "heart_rate": ((112, 22), (82, 17), (85, 17), (85, 14), (88, 12)),
    "resp_rate": ((26, 4), (20, 2), (19.5, 2), (19, 1.6), (19, 1.5)),
    "systolic_bp": ((118, 40), (128, 30), (135, 27), (135, 24), (130, 25)),
    "diastolic_bp": ((75, 25), (79, 17), (79, 15), (80, 14), (79, 12)),
    "temperature_c": ((36.5, 0.8), (36.7, 0.9), (36.6, 0.6), (36.6, 0.5), (36.5, 0.5)),
    "spo2": ((82, 10), (96, 3.5), (97, 2.0), (97.8, 1.1), (97.5, 0.8)),
}
#: KTAS adult normal ranges (used when the engine exposes no age bands).
ADULT_NORMAL: dict[str, tuple[float, float]] = {
    "heart_rate": (60, 100),
    "resp_rate": (12, 20),
    "systolic_bp": (90, 140),
    "diastolic_bp": (60, 90),
    "temperature_c": (36.0, 37.5),
    "spo2": (95, 100),
}
#: What a kiosk can display at all.
VITAL_LIMITS: dict[str, tuple[float, float]] = {
    "heart_rate": (20, 250),
    "resp_rate": (4, 70),
    "systolic_bp": (40, 260),
    "diastolic_bp": (20, 160),
    "temperature_c": (30.0, 43.0),
    "spo2": (40, 100),
}
#: Plausible bounds a generated value is clipped to.
CLIP: dict[str, tuple[float, float]] = {
    "heart_rate": (30, 200),
    "resp_rate": (6, 50),
    "systolic_bp": (50, 240),
    "diastolic_bp": (25, 140),
    "temperature_c": (34.0, 41.5),
    "spo2": (50, 100),
}
#: P(alert, voice, pain, unresponsive) by level (KTAS dev: level 1 is mostly not alert).
MENTAL_BY_LEVEL: tuple[tuple[float, float, float, float], ...] = (
    (0.30, 0.10, 0.10, 0.50),
    (0.85, 0.09, 0.06, 0.00),
    (0.975, 0.02, 0.005, 0.00),
    (0.995, 0.005, 0.0, 0.0),
    (1.0, 0.0, 0.0, 0.0),
)
#: P(pain) and mean NRS score given pain, by level.
PAIN_BY_LEVEL: tuple[tuple[float, float], ...] = ((0.30, 7.0), (0.43, 6.0), (0.45, 5.0), (0.71, 4.0), (0.43, 3.0))
#: Age (mean, sd) of ED adults by level (KTAS dev).
AGE_BY_LEVEL: tuple[tuple[float, float], ...] = ((72, 12), (60, 16), (57, 20), (50, 20), (50, 20))

#: The engine's outpatient department codes → the campus clinic code (``OP-..-<CODE>``) that sees them.
DEPARTMENT_CLINIC: dict[str, str] = {
    "internal_medicine": "GEN",
    "cardiology": "CARD",
    "respiratory": "RESP",
    "gastroenterology": "GI",
    "neurology": "NEURO",
    "nephrology": "GEN",
    "endocrinology": "GEN",
    "fever_clinic": "FEVER",
    "general_surgery": "SURG",
    "orthopaedics": "ORTHO",
    "urology": "URO",
    "obstetrics_gynaecology": "OBGYN",
    "ophthalmology": "EYE",
    "ent": "ENT",
    "dentistry": "DENT",
    "dermatology": "DERM",
    "psychiatry": "PSY",
    "paediatrics": "PAED",
}


@dataclass(frozen=True, slots=True)
class CaseMaker:
    """Draws :class:`TriageInput` cases for one triage engine's complaint catalogue."""

    #: Complaint codes by usual level 1..5 (index 0 = level 1).
    by_level: tuple[tuple[str, ...], ...]
    #: Free-text phrases per complaint code (to exercise the engine's text matching).
    phrases: dict[str, tuple[str, ...]]
    #: Pain site of each complaint code ("central" or "peripheral").
    pain_site: dict[str, str]
    #: ``band(age)`` of the engine's ruleset: its normal vital ranges at that age (None = adult table).
    band: Any = None

    @classmethod
    def for_engine(cls, engine: object) -> CaseMaker:
        catalog = engine.ruleset.catalog  # type: ignore[attr-defined]
        levels: list[list[str]] = [[] for _ in range(5)]
        phrases: dict[str, tuple[str, ...]] = {}
        sites: dict[str, str] = {}
        for c in sorted(catalog.complaints.values(), key=lambda c: c.code):
            if c is catalog.fallback or not 1 <= c.level <= 5:
                continue
            levels[c.level - 1].append(c.code)
            phrases[c.code] = tuple(c.phrases_en) + tuple(c.phrases_zh)
            sites[c.code] = c.pain
        if not any(levels):
            raise ValueError("triage engine: its complaint catalogue has no complaints to draw cases from")
        # a level with no complaint borrows from the nearest level that has one
        filled: list[tuple[str, ...]] = []
        for k in range(5):
            for d in range(5):
                near = [j for j in (k - d, k + d) if 0 <= j < 5 and levels[j]]
                if near:
                    filled.append(tuple(levels[near[0]]))
                    break
        return cls(tuple(filled), phrases, sites, getattr(engine.ruleset, "band", None))  # type: ignore[attr-defined]

    def make(
        self,
        rng: np.random.Generator,
        level: int,
        *,
        ed: bool,
        ambulance: bool = False,
        vitals_measured: bool = True,
        child_share: float = 0.0,
    ) -> object:
        """One case of true acuity ``level`` (1..5)."""
        from triage_kiosk.triage.model import ArrivalMode, TriageInput

        k = level - 1
        u = rng.random(8)
        if not ed and u[0] < child_share:
            age = float(rng.uniform(0.5, 14.0))
        else:
            m, s = AGE_BY_LEVEL[k]
            age = float(np.clip(rng.normal(m, s), 16, 96 if ed else 90))
        sex = Sex.FEMALE if u[1] < 0.5 else Sex.MALE
        codes = self.by_level[k]
        code = codes[int(rng.integers(len(codes)))]
        complaints: tuple[str, ...] = (code,)
        text = ""
        options = self.phrases.get(code, ())
        if options and u[2] < 0.3:
            text = options[int(rng.integers(len(options)))]
            complaints = ()
        vitals = Vitals()
        if vitals_measured:
            vitals = self._vitals(rng, level, age)
        mental = _choice(MENTAL_BY_LEVEL[k], u[3], (Mental.ALERT, Mental.VOICE, Mental.PAIN, Mental.UNRESPONSIVE))
        pain = self._pain(rng, level, self.pain_site.get(code, "central"), u[4])
        arrival = ArrivalMode.AMBULANCE if ambulance else ArrivalMode.WALK_IN
        onset = float(rng.exponential(24.0 if level >= 3 else 3.0))
        pregnant = False if sex is Sex.FEMALE and 12 <= age <= 55 else None
        return TriageInput(
            age=round(age, 1),
            sex=sex,
            complaints=complaints,
            complaint_text=text,
            onset_hours=round(onset, 1),
            pain=pain,
            mental=mental,
            vitals=vitals,
            arrival=arrival,
            injury=bool(u[5] < 0.2),
            pregnant=pregnant,
        )

    def _vitals(self, rng: np.random.Generator, level: int, age: float) -> Vitals:
        """Levels 1–2: the KTAS distributions (often abnormal). Levels 3–5: inside the normal range
        of the patient's age band (the complaint, not the vitals, sets their level)."""
        vals: dict[str, float] = {}
        normal = self.band(age).normal if self.band is not None else None
        for name, table in VITALS_BY_LEVEL.items():
            if level >= 3 or (normal is not None and age < 15):
                lo, hi = normal[name] if normal is not None else ADULT_NORMAL[name]
                mid, half = (lo + hi) / 2, (hi - lo) / 2
                v = float(np.clip(rng.normal(mid, half / 2.5), lo + 0.1 * half, hi - 0.1 * half))
                if level <= 2:  # a sick child: pushed towards the edge
                    v = float(np.clip(v + rng.choice((-1, 1)) * half * 0.8, 0.5 * lo, 1.5 * hi))
            else:
                m, sd = table[level - 1]
                v = float(np.clip(rng.normal(m, sd), *CLIP[name]))
            vals[name] = round(v, 1) if name == "temperature_c" else float(round(v))
        if vals["diastolic_bp"] >= vals["systolic_bp"]:
            vals["diastolic_bp"] = max(CLIP["diastolic_bp"][0], vals["systolic_bp"] - 20)
        for name, (lo, hi) in VITAL_LIMITS.items():
            vals[name] = min(max(vals[name], lo), hi)
        return Vitals(**vals)

    @staticmethod
    def _pain(rng: np.random.Generator, level: int, site: str, u: float) -> int:
        """An NRS score consistent with the KTAS pain tables for the level and the pain site
        (central: ≥ 8 → 2, 4–7 → 3, < 4 → 4; peripheral: ≥ 8 → 3, 4–7 → 4, < 4 → 5)."""
        p_pain, _ = PAIN_BY_LEVEL[level - 1]
        if u >= p_pain:
            return 0
        central = site == "central"
        if level <= 2:
            lo, hi = (8, 10)
        elif level == 3:
            lo, hi = (4, 7) if central else (8, 10)
        elif level == 4:
            lo, hi = (1, 3) if central else (4, 7)
        else:
            lo, hi = (1, 3)
        return int(rng.integers(lo, hi + 1))


def _choice(probs: Sequence[float], u: float, values: Sequence[Mental]) -> Mental:
    acc = 0.0
    for p, v in zip(probs, values, strict=True):
        acc += p
        if u < acc:
            return v
    return values[0]
