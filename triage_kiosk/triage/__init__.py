"""Kiosk triage: transparent KTAS/ESI-style rules over a YAML ruleset.

    from triage_kiosk.triage import TriageEngine, TriageInput
    result = TriageEngine().assess(TriageInput(age=58, complaint_text="胸痛", vitals=Vitals(spo2=97)))

``result`` is a ``hospital_ops.domain.TriageResult``: level 1–5, every rule that fired in English
and Chinese, destination, ``escalate`` (call a nurse now) and the inputs still missing.
"""

from triage_kiosk.triage.complaints import Complaint, ComplaintCatalog, Department, Match
from triage_kiosk.triage.engine import TriageEngine
from triage_kiosk.triage.errors import RulesError
from triage_kiosk.triage.metrics import Agreement, agreement, confusion, kappa
from triage_kiosk.triage.model import ArrivalMode, TriageInput
from triage_kiosk.triage.ruleset import DEFAULT_RULES, Rule, Ruleset, load_ruleset

__all__ = [
    "DEFAULT_RULES",
    "Agreement",
    "ArrivalMode",
    "Complaint",
    "ComplaintCatalog",
    "Department",
    "Match",
    "Rule",
    "RulesError",
    "Ruleset",
    "TriageEngine",
    "TriageInput",
    "agreement",
    "confusion",
    "kappa",
    "load_ruleset",
]
