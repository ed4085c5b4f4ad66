"""The triage engine: ``TriageEngine(ruleset).assess(TriageInput) -> TriageResult``.

How a level is reached (KTAS / ESI style, every step visible in the reasons):

1. The chief complaint(s) — chosen codes and/or free text matched to the catalogue — each give
   their usual level (the second-order default of the complaint). Text that matches nothing gives
   the catalogue's fallback complaint, which is deliberately urgent (a nurse reads it).
2. Every rule whose ``when`` holds fires: first-order modifiers (consciousness, vital signs by age,
   pain by central/peripheral site) and complaint-specific second-order modifiers.
3. The level is the most urgent of all of them. Rules only ever add urgency; nothing lowers it.
4. ``escalate`` is set for a level at or above ``escalate_at_or_below`` (2) and for any rule or
   complaint marked as a red flag, whatever its level.
5. Inputs not given are listed in ``missing``; they never count as normal — rules can only fire
   on measured values, and ``missing`` rules keep an incompletely measured patient from the least
   urgent levels.
"""

from __future__ import annotations

from pathlib import Path

from hospital_ops.domain import Reason, TriageLevel, TriageResult
from triage_kiosk.triage.complaints import Complaint
from triage_kiosk.triage.model import VITAL_FIELDS, TriageInput
from triage_kiosk.triage.ruleset import INPUT_LABELS, Case, Ruleset, load_ruleset


class TriageEngine:
    """Applies one ruleset. Stateless and cheap to call; safe to share between threads."""

    def __init__(self, ruleset: Ruleset | None = None) -> None:
        self.ruleset = ruleset if ruleset is not None else load_ruleset()

    @classmethod
    def from_file(cls, path: Path | str) -> TriageEngine:
        return cls(load_ruleset(path))

    # ------------------------------------------------------------------------------- helpers

    def _complaints(self, inp: TriageInput) -> tuple[list[tuple[Complaint, str]], bool]:
        """Chosen and recognised complaints with how each was found; and whether none was given."""
        catalog = self.ruleset.catalog
        found: dict[str, tuple[Complaint, str]] = {}
        for code in inp.complaints:
            c = catalog.get(code)
            found.setdefault(c.code, (c, ""))
        for m in catalog.match(inp.complaint_text):
            found.setdefault(m.complaint.code, (m.complaint, inp.complaint_text.strip()))
        given = bool(inp.complaints) or bool(inp.complaint_text.strip())
        if not found:
            fb = catalog.fallback
            found[fb.code] = (fb, inp.complaint_text.strip())
        return list(found.values()), not given

    def _missing(self, inp: TriageInput, no_complaint: bool) -> frozenset[str]:
        gone: set[str] = set()
        if no_complaint:
            gone.add("complaint")
        if inp.mental is None:
            gone.add("mental")
        for name in VITAL_FIELDS:
            if getattr(inp.vitals, name) is None:
                gone.add(name)
        for name in ("pain", "onset_hours", "arrival", "injury"):
            if getattr(inp, name) is None:
                gone.add(name)
        lo, hi = self.ruleset.pregnancy_ages
        if inp.pregnant is None and inp.sex in self.ruleset.pregnancy_sexes and lo <= inp.age <= hi:
            gone.add("pregnant")
        return frozenset(gone)

    def destination_names(self, code: str) -> tuple[str, str]:
        """English and Chinese names of a destination code from a result."""
        if code.startswith("opd_"):
            dept = self.ruleset.catalog.department(code[4:])
            return f"Outpatient: {dept.en}", f"门诊：{dept.zh}"
        d = self.ruleset.destinations[code]
        return d.en, d.zh

    def _destination(self, level: int, inp: TriageInput, complaints: list[Complaint]) -> str:
        code = self.ruleset.level_destinations[level]
        if code != "outpatient":
            return code
        if inp.age < self.ruleset.paediatric_age_below:
            return f"opd_{self.ruleset.paediatric_department}"
        # the most urgent complaint decides the clinic (the first one listed when tied)
        primary = min(complaints, key=lambda c: c.level)
        return f"opd_{primary.department}"

    # ------------------------------------------------------------------------------ assess

    def assess(self, inp: TriageInput) -> TriageResult:
        """Triage one patient. Raises ``ValueError`` naming the field for an unknown complaint or modifier."""
        unknown = sorted(inp.modifiers - set(self.ruleset.modifiers))
        if unknown:
            raise ValueError(f"modifiers: unknown modifier code(s) {', '.join(unknown)}")
        found, no_complaint = self._complaints(inp)
        complaints = [c for c, _ in found]
        sites = {c.pain for c in complaints}
        # central (the more urgent table) unless every complaint that names a site says peripheral
        pain_site = "peripheral" if "peripheral" in sites and "central" not in sites else "central"
        missing = self._missing(inp, no_complaint)
        case = Case(inp, tuple(complaints), pain_site, missing)

        reasons: list[Reason] = []
        escalate = False
        fallback = self.ruleset.catalog.fallback
        for c, text in found:
            if c is not fallback:
                en, zh = f"Chief complaint: {c.en}", f"主诉：{c.zh}"
                if text:
                    en += f" (from “{text}”)"
                    zh += f"（来自“{text}”）"
            elif text:
                en, zh = f"Chief complaint not recognised: “{text}”", f"主诉未能识别：“{text}”"
            else:
                en, zh = "Chief complaint not given", "未提供主诉"
            if c.why_en:
                en += f" — {c.why_en}"
            if c.why_zh:
                zh += f"——{c.why_zh}"
            reasons.append(Reason(code=f"complaint:{c.code}", en=en, zh=zh, level=c.level))
            escalate |= c.escalate

        for rule in self.ruleset.rules:
            facts = rule.when.facts(case)
            if facts is None:
                continue
            names_en = ", ".join(c.en.lower() for c in complaints)
            names_zh = "、".join(c.zh for c in complaints)
            en = rule.en.replace("{complaint}", names_en)
            zh = rule.zh.replace("{complaint}", names_zh)
            if facts:
                en += ": " + "; ".join(f.en for f in facts)
                zh += "：" + "；".join(f.zh for f in facts)
            reasons.append(Reason(code=rule.id, en=en, zh=zh, level=rule.level))
            escalate |= rule.escalate

        level = min(r.level for r in reasons)
        escalate |= level <= self.ruleset.escalate_at_or_below
        reasons.sort(key=lambda r: r.level)  # stable: most urgent first, catalogue/rule order within a level
        ordered_missing = tuple(name for name in INPUT_LABELS if name in missing)
        return TriageResult(
            level=TriageLevel(level),
            reasons=tuple(reasons),
            destination=self._destination(level, inp, complaints),
            escalate=escalate,
            missing=ordered_missing,
            ruleset=self.ruleset.label,
        )
