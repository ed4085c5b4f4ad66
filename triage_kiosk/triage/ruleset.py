"""The triage ruleset: a YAML file a clinician can read and change, checked on load.

A rule is a level, an English and a Chinese title and a ``when`` block; every key in ``when`` must
hold (AND). Keys:

===================  ==========================================================================
vital sign           ``heart_rate``, ``resp_rate``, ``systolic_bp``, ``diastolic_bp``,
                     ``temperature_c``, ``spo2``: ``{below|above|at_least|at_most: number}``
``age``              years, same comparisons
``pain``             0–10, ``{at_least|above: number}`` only (more pain is never less urgent)
``onset_hours``      hours since onset, same comparisons as vitals
``mental``           list of AVPU states (alert, voice, pain, unresponsive); any of them
``complaint``        list of complaint codes (from the complaint catalogue); any of them
``pain_site``        ``central`` or ``peripheral`` (of the chosen complaints)
``modifier``         list of kiosk question codes answered *yes*; any of them
``arrival``          list of arrival modes (walk_in, ambulance, transfer); any of them
``sex``              list of sexes; any of them
``injury``           true / false (an unanswered question matches neither)
``pregnant``         true / false (same)
``missing``          list of inputs; holds when any of them was not given
``any_of``           list of ``when`` blocks; holds when one of them holds
``n_of``             ``{n: k, of: [when blocks]}``; holds when at least k of them hold
===================  ==========================================================================

A missing value never satisfies a comparison: rules fire on what was measured, and the ``missing``
key lets a rule act on what was not. Comparisons on vital signs must point away from normal: an
``above`` threshold must lie above the middle of the normal range of every age band the rule
covers (and ``below`` under it). Together with rules only ever making a case more urgent, this
guarantees that a worse vital sign never gives a less urgent level; ``load_ruleset`` refuses a
file that breaks it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from hospital_ops.domain import Mental, Sex
from triage_kiosk.triage.complaints import PAIN_SITES, Complaint, ComplaintCatalog, load_catalog
from triage_kiosk.triage.errors import RulesError
from triage_kiosk.triage.model import VITAL_FIELDS, ArrivalMode, TriageInput

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

OPS: dict[str, str] = {"below": "<", "above": ">", "at_least": "≥", "at_most": "≤"}
_UPWARD_OPS = ("above", "at_least")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Inputs the engine reports as missing, in report order, with their names in both languages.
INPUT_LABELS: dict[str, tuple[str, str]] = {
    "complaint": ("chief complaint", "主诉"),
    "mental": ("level of consciousness (AVPU)", "意识状态 (AVPU)"),
    "heart_rate": ("heart rate", "心率"),
    "resp_rate": ("respiratory rate", "呼吸频率"),
    "systolic_bp": ("systolic blood pressure", "收缩压"),
    "diastolic_bp": ("diastolic blood pressure", "舒张压"),
    "temperature_c": ("temperature", "体温"),
    "spo2": ("SpO2", "血氧饱和度"),
    "pain": ("pain score", "疼痛评分"),
    "onset_hours": ("time since onset", "发病时间"),
    "arrival": ("arrival mode", "到达方式"),
    "injury": ("whether it follows an injury", "是否外伤"),
    "pregnant": ("pregnancy", "是否怀孕"),
}

#: Short label and unit of each numeric input, English then Chinese.
NUMERIC_LABELS: dict[str, tuple[str, str, str, str]] = {
    "heart_rate": ("HR", "心率", "/min", " 次/分"),
    "resp_rate": ("RR", "呼吸", "/min", " 次/分"),
    "systolic_bp": ("SBP", "收缩压", " mmHg", " mmHg"),
    "diastolic_bp": ("DBP", "舒张压", " mmHg", " mmHg"),
    "temperature_c": ("temperature", "体温", " °C", " °C"),
    "spo2": ("SpO2", "血氧饱和度", " %", " %"),
    "age": ("age", "年龄", " y", " 岁"),
    "pain": ("pain", "疼痛评分", "/10", "/10"),
    "onset_hours": ("onset", "发病", " h ago", " 小时前"),
}

MENTAL_LABELS: dict[Mental, tuple[str, str]] = {
    Mental.ALERT: ("alert", "清醒"),
    Mental.VOICE: ("responds to voice only", "仅对声音有反应"),
    Mental.PAIN: ("responds to pain only", "仅对疼痛有反应"),
    Mental.UNRESPONSIVE: ("unresponsive", "无反应"),
}


@dataclass(frozen=True, slots=True)
class Fact:
    """One observed finding that made a condition hold, in both languages."""

    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Case:
    """A ``TriageInput`` with what the engine derived from it (what the conditions look at)."""

    input: TriageInput
    complaints: tuple[Complaint, ...]
    pain_site: str
    missing: frozenset[str]

    def number(self, name: str) -> float | None:
        if name in VITAL_FIELDS:
            return getattr(self.input.vitals, name)
        return getattr(self.input, name)


class Condition(Protocol):
    def facts(self, case: Case) -> list[Fact] | None:
        """The findings that make the condition hold, or None when it does not hold."""
        ...


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class Compare:
    name: str
    op: str
    threshold: float
    #: Where in the rules file the comparison is written (for error messages).
    at: str = field(default="", compare=False)

    def holds(self, value: float) -> bool:
        t = self.threshold
        return {"below": value < t, "above": value > t, "at_least": value >= t, "at_most": value <= t}[self.op]

    def facts(self, case: Case) -> list[Fact] | None:
        value = case.number(self.name)
        if value is None or not self.holds(value):
            return None
        if self.name == "age":
            return []  # the rule title says which ages it is for
        en, zh, unit_en, unit_zh = NUMERIC_LABELS[self.name]
        sign = OPS[self.op]
        v, t = _fmt(value), _fmt(self.threshold)
        return [Fact(f"{en} {v}{unit_en} {sign} {t}{unit_en}", f"{zh} {v}{unit_zh} {sign} {t}{unit_zh}")]


@dataclass(frozen=True, slots=True)
class MentalIs:
    states: frozenset[Mental]

    def facts(self, case: Case) -> list[Fact] | None:
        m = case.input.mental
        if m is None or m not in self.states:
            return None
        en, zh = MENTAL_LABELS[m]
        return [Fact(f"AVPU: {en}", f"意识：{zh}")]


@dataclass(frozen=True, slots=True)
class ComplaintIs:
    codes: frozenset[str]

    def facts(self, case: Case) -> list[Fact] | None:
        hit = [c for c in case.complaints if c.code in self.codes]
        return [] if hit else None


@dataclass(frozen=True, slots=True)
class PainSiteIs:
    site: str

    def facts(self, case: Case) -> list[Fact] | None:
        return [] if case.pain_site == self.site else None


@dataclass(frozen=True, slots=True)
class ModifierIs:
    codes: frozenset[str]
    labels: Mapping[str, tuple[str, str]]

    def facts(self, case: Case) -> list[Fact] | None:
        hit = sorted(self.codes & case.input.modifiers)
        if not hit:
            return None
        return [Fact(f"reported: {self.labels[c][0]}", f"自述：{self.labels[c][1]}") for c in hit]


@dataclass(frozen=True, slots=True)
class ArrivalIs:
    modes: frozenset[ArrivalMode]

    def facts(self, case: Case) -> list[Fact] | None:
        return [] if case.input.arrival in self.modes else None


@dataclass(frozen=True, slots=True)
class SexIs:
    sexes: frozenset[Sex]

    def facts(self, case: Case) -> list[Fact] | None:
        return [] if case.input.sex in self.sexes else None


@dataclass(frozen=True, slots=True)
class FlagIs:
    name: str
    value: bool

    def facts(self, case: Case) -> list[Fact] | None:
        return [] if getattr(case.input, self.name) is self.value else None


@dataclass(frozen=True, slots=True)
class AnyMissing:
    names: tuple[str, ...]

    def facts(self, case: Case) -> list[Fact] | None:
        gone = [n for n in self.names if n in case.missing]
        if not gone:
            return None
        return [
            Fact(
                "not given: " + ", ".join(INPUT_LABELS[n][0] for n in gone),
                "未提供：" + "、".join(INPUT_LABELS[n][1] for n in gone),
            )
        ]


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]

    def facts(self, case: Case) -> list[Fact] | None:
        out: list[Fact] = []
        for part in self.parts:
            got = part.facts(case)
            if got is None:
                return None
            out.extend(got)
        return out


@dataclass(frozen=True, slots=True)
class AtLeastN:
    n: int
    parts: tuple[Condition, ...]

    def facts(self, case: Case) -> list[Fact] | None:
        out: list[Fact] = []
        held = 0
        for part in self.parts:
            got = part.facts(case)
            if got is not None:
                held += 1
                out.extend(got)
        return out if held >= self.n else None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    level: int
    en: str
    zh: str
    when: Condition
    escalate: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class AgeBand:
    name: str
    low: float
    high: float
    #: Normal range of each vital sign for this age band.
    normal: Mapping[str, tuple[float, float]]

    def mid(self, vital: str) -> float:
        lo, hi = self.normal[vital]
        return (lo + hi) / 2


@dataclass(frozen=True, slots=True)
class Modifier:
    """A yes/no question the kiosk may ask; rules refer to it by code."""

    code: str
    en: str
    zh: str
    ask_en: str
    ask_zh: str


@dataclass(frozen=True, slots=True)
class Destination:
    code: str
    en: str
    zh: str


@dataclass(frozen=True)
class Ruleset:
    name: str
    version: str
    rules: tuple[Rule, ...]
    catalog: ComplaintCatalog
    age_bands: tuple[AgeBand, ...]
    modifiers: Mapping[str, Modifier]
    destinations: Mapping[str, Destination]
    #: Level → destination code; the code ``outpatient`` means the complaint's own department.
    level_destinations: Mapping[int, str]
    escalate_at_or_below: int = 2
    paediatric_age_below: float = 14.0
    paediatric_department: str = "paediatrics"
    #: Ask about pregnancy for these sexes within this age range (years, inclusive).
    pregnancy_sexes: frozenset[Sex] = frozenset({Sex.FEMALE, Sex.UNKNOWN, Sex.OTHER})
    pregnancy_ages: tuple[float, float] = (12.0, 55.0)
    source: str = field(default="rules.yaml")

    @property
    def label(self) -> str:
        """What ``TriageResult.ruleset`` records: name, version and complaint catalogue version."""
        return f"{self.name} {self.version} (complaints {self.catalog.version})"

    def band(self, age: float) -> AgeBand:
        for b in self.age_bands:
            if b.low <= age < b.high:
                return b
        return self.age_bands[-1]


# ----------------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, source: str, catalog: ComplaintCatalog, modifiers: Mapping[str, Modifier]) -> None:
        self.source = source
        self.catalog = catalog
        self.modifiers = modifiers

    def error(self, where: str, message: str) -> RulesError:
        return RulesError(f"{self.source}: {where}: {message}")

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(where, f"expected a number, got {value!r}")
        return float(value)

    def codes(self, value: Any, where: str, allowed: Sequence[str], what: str) -> frozenset[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(where, f"expected a non-empty list of {what}")
        bad = [v for v in value if not isinstance(v, str) or v not in allowed]
        if bad:
            shown = ", ".join(repr(b) for b in bad)
            hint = ", ".join(allowed) if len(allowed) <= 12 else f"see {what}"
            raise self.error(where, f"unknown {what} {shown} (allowed: {hint})")
        return frozenset(value)

    def compare(self, name: str, spec: Any, where: str) -> list[Compare]:
        if not isinstance(spec, dict) or not spec:
            raise self.error(where, "expected a comparison, e.g. {below: 92} or {at_least: 0.25, below: 3}")
        out: list[Compare] = []
        for op, threshold in spec.items():
            if op not in OPS:
                raise self.error(where, f"unknown comparison {op!r} (allowed: {', '.join(OPS)})")
            if name == "pain" and op not in _UPWARD_OPS:
                raise self.error(f"{where}.{op}", "pain may only be compared with at_least or above")
            value = self.number(threshold, f"{where}.{op}")
            if name == "pain" and not 0 <= value <= 10:
                raise self.error(f"{where}.{op}", f"pain threshold must be 0..10, got {_fmt(value)}")
            out.append(Compare(name, op, value, f"{where}.{op}"))
        return out

    def when(self, spec: Any, where: str) -> AllOf:
        if not isinstance(spec, dict) or not spec:
            raise self.error(where, "expected a non-empty mapping of conditions")
        parts: list[Condition] = []
        for key, value in spec.items():
            at = f"{where}.{key}"
            if key in VITAL_FIELDS or key in ("age", "pain", "onset_hours"):
                parts.extend(self.compare(key, value, at))
            elif key == "mental":
                parts.append(MentalIs(frozenset(Mental(v) for v in self.codes(value, at, list(Mental), "AVPU state"))))
            elif key == "complaint":
                parts.append(ComplaintIs(self.codes(value, at, list(self.catalog.complaints), "complaint code")))
            elif key == "pain_site":
                if value not in PAIN_SITES:
                    raise self.error(at, f"must be one of {', '.join(PAIN_SITES)}, got {value!r}")
                parts.append(PainSiteIs(value))
            elif key == "modifier":
                codes = self.codes(value, at, list(self.modifiers), "modifier code")
                labels = {c: (self.modifiers[c].en, self.modifiers[c].zh) for c in codes}
                parts.append(ModifierIs(codes, labels))
            elif key == "arrival":
                modes = self.codes(value, at, list(ArrivalMode), "arrival mode")
                parts.append(ArrivalIs(frozenset(ArrivalMode(m) for m in modes)))
            elif key == "sex":
                parts.append(SexIs(frozenset(Sex(s) for s in self.codes(value, at, list(Sex), "sex"))))
            elif key in ("injury", "pregnant"):
                if not isinstance(value, bool):
                    raise self.error(at, f"expected true or false, got {value!r}")
                parts.append(FlagIs(key, value))
            elif key == "missing":
                names = self.codes(value, at, list(INPUT_LABELS), "input name")
                parts.append(AnyMissing(tuple(n for n in INPUT_LABELS if n in names)))
            elif key == "any_of":
                if not isinstance(value, list) or len(value) < 2:
                    raise self.error(at, "expected a list of at least two condition blocks")
                parts.append(AtLeastN(1, tuple(self.when(v, f"{at}[{i}]") for i, v in enumerate(value))))
            elif key == "n_of":
                if not isinstance(value, dict) or set(value) != {"n", "of"}:
                    raise self.error(at, "expected {n: <count>, of: [condition blocks]}")
                blocks = value["of"]
                if not isinstance(blocks, list) or len(blocks) < 2:
                    raise self.error(f"{at}.of", "expected a list of at least two condition blocks")
                n = value["n"]
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(blocks):
                    raise self.error(f"{at}.n", f"expected a whole number 1..{len(blocks)}, got {n!r}")
                parts.append(AtLeastN(n, tuple(self.when(v, f"{at}.of[{i}]") for i, v in enumerate(blocks))))
            else:
                raise self.error(at, "unknown condition")
        return AllOf(tuple(parts))


def _age_interval(cond: AllOf, low: float, high: float) -> tuple[float, float]:
    """Narrow [low, high) by the age comparisons directly inside ``cond``."""
    for part in cond.parts:
        if isinstance(part, Compare) and part.name == "age":
            if part.op in _UPWARD_OPS:
                low = max(low, part.threshold)
            else:
                high = min(high, part.threshold + (1e-9 if part.op == "at_most" else 0.0))
    return low, high


def _check_directions(
    cond: Condition, bands: Sequence[AgeBand], low: float, high: float, where: str, source: str
) -> None:
    """Refuse vital-sign comparisons that would fire on the normal side of an age band's range."""
    if isinstance(cond, AllOf):
        low, high = _age_interval(cond, low, high)
        for part in cond.parts:
            _check_directions(part, bands, low, high, where, source)
    elif isinstance(cond, AtLeastN):
        for part in cond.parts:
            _check_directions(part, bands, low, high, where, source)
    elif isinstance(cond, Compare) and cond.name in VITAL_FIELDS:
        for band in bands:
            if band.high <= low or band.low >= high:
                continue
            # the middle of the normal range itself must never satisfy the comparison
            if cond.holds(band.mid(cond.name)):
                lo, hi = band.normal[cond.name]
                side = "above" if cond.op in _UPWARD_OPS else "below"
                raise RulesError(
                    f"{source}: {cond.at or where}: threshold {_fmt(cond.threshold)} is on the normal side of "
                    f"age band {band.name!r} (normal {_fmt(lo)}–{_fmt(hi)}); it must be {side} the middle of "
                    f"that range ({_fmt(band.mid(cond.name))}), or limit the rule to other ages with `age`"
                )


def _text(entry: Mapping[str, Any], key: str, where: str, source: str, *, required: bool = True) -> str:
    if key not in entry:
        if required:
            raise RulesError(f"{source}: {where}: {key}: missing")
        return ""
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise RulesError(f"{source}: {where}: {key}: expected non-empty text, got {value!r}")
    return value


def _check_placeholders(text: str, where: str, source: str) -> None:
    for name in re.findall(r"{([^{}]*)}", text):
        if name != "complaint":
            raise RulesError(f"{source}: {where}: unknown placeholder {{{name}}} (only {{complaint}} is allowed)")


_TOP_KEYS = {
    "name",
    "version",
    "complaints_file",
    "escalate_at_or_below",
    "paediatric_department",
    "ask_pregnancy",
    "age_bands",
    "destinations",
    "level_destinations",
    "modifiers",
    "rules",
}
_RULE_KEYS = {"id", "level", "en", "zh", "when", "escalate", "note"}


def parse_ruleset(data: Any, catalog: ComplaintCatalog, source: str = "rules.yaml") -> Ruleset:
    """Build a ruleset from parsed YAML; raises ``RulesError`` naming the rule and the field."""
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping at the top level")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise RulesError(f"{source}: unknown top-level field(s): {', '.join(sorted(unknown))}")
    name = _text(data, "name", "header", source)
    if "version" not in data or not str(data["version"]).strip():
        raise RulesError(f"{source}: header: version: missing")
    version = str(data["version"])

    escalate_at = data.get("escalate_at_or_below", 2)
    if isinstance(escalate_at, bool) or escalate_at not in (1, 2, 3, 4, 5):
        raise RulesError(f"{source}: escalate_at_or_below: expected a level 1..5, got {escalate_at!r}")

    # age bands ---------------------------------------------------------------------------
    raw_bands = data.get("age_bands")
    if not isinstance(raw_bands, list) or not raw_bands:
        raise RulesError(f"{source}: age_bands: expected a non-empty list")
    bands: list[AgeBand] = []
    for i, entry in enumerate(raw_bands):
        where = f"age_bands[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"name", "ages", "normal"}:
            raise RulesError(f"{source}: {where}: expected name, ages and normal")
        bname = _text(entry, "name", where, source)
        where = f"age band {bname!r}"
        ages = entry.get("ages")
        if (
            not isinstance(ages, list)
            or len(ages) != 2
            or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in ages)
            or not ages[0] < ages[1]
        ):
            raise RulesError(f"{source}: {where}: ages: expected [from, to) years with from < to, got {ages!r}")
        normal = entry.get("normal")
        if not isinstance(normal, dict):
            raise RulesError(f"{source}: {where}: normal: expected a mapping of vital sign to [low, high]")
        ranges: dict[str, tuple[float, float]] = {}
        for vital in VITAL_FIELDS:
            rng = normal.get(vital)
            if (
                not isinstance(rng, list)
                or len(rng) != 2
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in rng)
                or not rng[0] <= rng[1]
            ):
                raise RulesError(f"{source}: {where}: normal.{vital}: expected [low, high], got {rng!r}")
            ranges[vital] = (float(rng[0]), float(rng[1]))
        extra = set(normal) - set(VITAL_FIELDS)
        if extra:
            raise RulesError(f"{source}: {where}: normal: unknown vital sign(s) {', '.join(sorted(extra))}")
        bands.append(AgeBand(bname, float(ages[0]), float(ages[1]), ranges))
    bands.sort(key=lambda b: b.low)
    if bands[0].low != 0:
        raise RulesError(f"{source}: age_bands: the first band must start at age 0")
    for a, b in itertools.pairwise(bands):
        if a.high != b.low:
            raise RulesError(
                f"{source}: age_bands: {a.name!r} ends at {_fmt(a.high)} but {b.name!r} starts at {_fmt(b.low)}"
            )
    if bands[-1].high < 130:
        raise RulesError(f"{source}: age_bands: the last band must reach age 130")

    # modifiers ---------------------------------------------------------------------------
    modifiers: dict[str, Modifier] = {}
    for i, entry in enumerate(data.get("modifiers") or []):
        where = f"modifiers[{i}]"
        if not isinstance(entry, dict):
            raise RulesError(f"{source}: {where}: expected a mapping")
        code = _text(entry, "code", where, source)
        where = f"modifier {code!r}"
        if not _ID_RE.match(code) or code in modifiers:
            raise RulesError(f"{source}: {where}: code: must be unique lower_case_with_underscores")
        extra = set(entry) - {"code", "en", "zh", "ask_en", "ask_zh"}
        if extra:
            raise RulesError(f"{source}: {where}: unknown field(s): {', '.join(sorted(extra))}")
        modifiers[code] = Modifier(
            code,
            _text(entry, "en", where, source),
            _text(entry, "zh", where, source),
            _text(entry, "ask_en", where, source),
            _text(entry, "ask_zh", where, source),
        )

    # destinations ------------------------------------------------------------------------
    destinations: dict[str, Destination] = {}
    raw_dest = data.get("destinations")
    if not isinstance(raw_dest, dict) or not raw_dest:
        raise RulesError(f"{source}: destinations: expected a mapping of code to names")
    for code, entry in raw_dest.items():
        where = f"destination {code!r}"
        if not isinstance(entry, dict) or set(entry) != {"en", "zh"}:
            raise RulesError(f"{source}: {where}: expected en and zh names")
        destinations[str(code)] = Destination(
            str(code), _text(entry, "en", where, source), _text(entry, "zh", where, source)
        )
    raw_levels = data.get("level_destinations")
    if not isinstance(raw_levels, dict) or set(raw_levels) != {1, 2, 3, 4, 5}:
        raise RulesError(f"{source}: level_destinations: expected a destination for each level 1..5")
    level_destinations: dict[int, str] = {}
    for level, code in raw_levels.items():
        if code != "outpatient" and code not in destinations:
            raise RulesError(f"{source}: level_destinations.{level}: unknown destination {code!r}")
        level_destinations[int(level)] = code
    paed = data.get("paediatric_department", {"below_age": 14, "department": "paediatrics"})
    if not isinstance(paed, dict) or set(paed) != {"below_age", "department"}:
        raise RulesError(f"{source}: paediatric_department: expected below_age and department")
    if paed["department"] not in catalog.departments:
        raise RulesError(f"{source}: paediatric_department.department: {paed['department']!r} is not a department")
    paed_age = paed["below_age"]
    if isinstance(paed_age, bool) or not isinstance(paed_age, int | float):
        raise RulesError(f"{source}: paediatric_department.below_age: expected years, got {paed_age!r}")
    preg = data.get("ask_pregnancy", {"sex": ["female", "unknown", "other"], "ages": [12, 55]})
    if not isinstance(preg, dict) or set(preg) != {"sex", "ages"}:
        raise RulesError(f"{source}: ask_pregnancy: expected sex and ages")
    if not isinstance(preg["sex"], list) or not all(s in list(Sex) for s in preg["sex"]):
        raise RulesError(f"{source}: ask_pregnancy.sex: expected a list of sexes, got {preg['sex']!r}")
    preg_ages = preg["ages"]
    if not isinstance(preg_ages, list) or len(preg_ages) != 2 or not all(isinstance(a, int | float) for a in preg_ages):
        raise RulesError(f"{source}: ask_pregnancy.ages: expected [from, to] years, got {preg_ages!r}")

    # rules -------------------------------------------------------------------------------
    parser = _Parser(source, catalog, modifiers)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{source}: rules: expected a non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw_rules):
        where = f"rules[{i}]"
        if not isinstance(entry, dict):
            raise RulesError(f"{source}: {where}: expected a mapping")
        rid = _text(entry, "id", where, source)
        where = f"rule {rid!r}"
        if not _ID_RE.match(rid):
            raise RulesError(f"{source}: {where}: id: use lower-case letters, digits and _ only")
        if rid in seen:
            raise RulesError(f"{source}: {where}: id: duplicate")
        seen.add(rid)
        extra = set(entry) - _RULE_KEYS
        if extra:
            raise RulesError(f"{source}: {where}: unknown field(s): {', '.join(sorted(extra))}")
        level = entry.get("level")
        if isinstance(level, bool) or level not in (1, 2, 3, 4, 5):
            raise RulesError(f"{source}: {where}: level: must be 1..5, got {level!r}")
        escalate = entry.get("escalate", False)
        if not isinstance(escalate, bool):
            raise RulesError(f"{source}: {where}: escalate: expected true or false, got {escalate!r}")
        en = _text(entry, "en", where, source)
        zh = _text(entry, "zh", where, source)
        _check_placeholders(en, f"{where}: en", source)
        _check_placeholders(zh, f"{where}: zh", source)
        note = entry.get("note", "")
        if not isinstance(note, str):
            raise RulesError(f"{source}: {where}: note: expected text")
        if "when" not in entry:
            raise RulesError(f"{source}: {where}: when: missing")
        when = parser.when(entry["when"], f"{where}: when")
        _check_directions(when, bands, 0.0, 1e9, f"{where}: when", source)
        rules.append(Rule(rid, int(level), en, zh, when, escalate, note))

    return Ruleset(
        name=name,
        version=version,
        rules=tuple(rules),
        catalog=catalog,
        age_bands=tuple(bands),
        modifiers=modifiers,
        destinations=destinations,
        level_destinations=level_destinations,
        escalate_at_or_below=int(escalate_at),
        paediatric_age_below=float(paed_age),
        paediatric_department=str(paed["department"]),
        pregnancy_sexes=frozenset(Sex(s) for s in preg["sex"]),
        pregnancy_ages=(float(preg_ages[0]), float(preg_ages[1])),
        source=source,
    )


def load_ruleset(path: Path | str | None = None) -> Ruleset:
    """Read and check a rules file and the complaint catalogue it names (relative to it)."""
    path = Path(path) if path is not None else DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise RulesError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{path.name}: expected a mapping at the top level")
    complaints_file = data.get("complaints_file")
    if not isinstance(complaints_file, str) or not complaints_file.strip():
        raise RulesError(f"{path.name}: complaints_file: expected the path of the complaint catalogue")
    catalog = load_catalog(path.parent / complaints_file)
    return parse_ruleset(data, catalog, source=path.name)
