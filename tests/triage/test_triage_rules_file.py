"""The rules and complaint files: the shipped ones load; broken ones fail with errors naming the rule
(or complaint) and the field."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from triage_helpers import adult

from hospital_ops.domain import TriageLevel, Vitals
from triage_kiosk.triage import DEFAULT_RULES, RulesError, TriageEngine, load_ruleset

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SHIPPED_RULES = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
SHIPPED_COMPLAINTS = yaml.safe_load(DEFAULT_RULES.with_name("complaints.yaml").read_text(encoding="utf-8"))

Edit = Callable[[dict[str, Any]], None]


def write(tmp_path: Path, rules_edit: Edit | None = None, complaints_edit: Edit | None = None) -> Path:
    """Copies of the shipped files, edited, in tmp_path; returns the rules path."""
    rules = copy.deepcopy(SHIPPED_RULES)
    complaints = copy.deepcopy(SHIPPED_COMPLAINTS)
    if rules_edit:
        rules_edit(rules)
    if complaints_edit:
        complaints_edit(complaints)
    (tmp_path / "complaints.yaml").write_text(
        yaml.dump(complaints, Dumper=DUMPER, allow_unicode=True), encoding="utf-8"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.dump(rules, Dumper=DUMPER, allow_unicode=True), encoding="utf-8")
    return path


def rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def complaint(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in data["complaints"] if c["code"] == code)


def test_shipped_files_load() -> None:
    """The shipped rules and complaint catalogue load and name their versions."""
    rs = load_ruleset()
    assert rs.rules and rs.catalog.complaints
    assert rs.label.startswith(f"{rs.name} {rs.version}")


def test_round_tripped_copy_behaves_the_same(tmp_path: Path) -> None:
    """A copy of the files written elsewhere loads and gives the same levels (the test helper is faithful)."""
    copy_engine = TriageEngine.from_file(write(tmp_path))
    default = TriageEngine()
    for text in ("chest pain", "ankle pain", "dizziness", "abd pain"):
        assert (
            copy_engine.assess(adult(complaint_text=text, pain=5)).level
            == default.assess(adult(complaint_text=text, pain=5)).level
        )


def test_a_clinician_edit_changes_triage(tmp_path: Path) -> None:
    """Changing a threshold in the YAML changes the level: the rules are data, not code."""

    def edit(r: dict[str, Any]) -> None:
        rule(r, "adult_hr_abnormal")["when"]["any_of"][0] = {"heart_rate": {"above": 105}}

    engine = TriageEngine.from_file(write(tmp_path, edit))
    case = adult(vitals=Vitals(heart_rate=110, resp_rate=16, systolic_bp=120, temperature_c=36.8))
    assert engine.assess(case).level == TriageLevel.URGENT
    assert TriageEngine().assess(case).level == TriageLevel.LESS_URGENT


CASES: list[tuple[str, Edit, str]] = [
    (
        "unknown condition key",
        lambda r: rule(r, "fever")["when"].update({"temprature_c": {"at_least": 38}}),
        r"rule 'fever': when\.temprature_c: unknown condition",
    ),
    (
        "level out of range",
        lambda r: rule(r, "fever").update({"level": 6}),
        r"rule 'fever': level: must be 1\.\.5, got 6",
    ),
    (
        "level missing",
        lambda r: rule(r, "fever").pop("level"),
        r"rule 'fever': level: must be 1\.\.5, got None",
    ),
    (
        "threshold not a number",
        lambda r: rule(r, "spo2_below_92")["when"].update({"spo2": {"below": "ninety"}}),
        r"rule 'spo2_below_92': when\.spo2\.below: expected a number, got 'ninety'",
    ),
    (
        "unknown comparison",
        lambda r: rule(r, "spo2_below_92")["when"].update({"spo2": {"under": 92}}),
        r"rule 'spo2_below_92': when\.spo2: unknown comparison 'under'",
    ),
    (
        "threshold on the normal side",
        lambda r: rule(r, "spo2_below_92")["when"].update({"spo2": {"above": 90}}),
        r"rule 'spo2_below_92': when\.spo2\.above: threshold 90 is on the normal side of age band 'young_infant'",
    ),
    (
        "adult threshold applied to infants",
        lambda r: rule(r, "adult_hr_abnormal")["when"].pop("age"),
        r"rule 'adult_hr_abnormal': when\.any_of\[0\]\.heart_rate\.above: threshold 120 is on the normal side of age band 'young_infant' \(normal 100–180\); it must be above the middle of that range \(140\)",
    ),
    (
        "pain compared downwards",
        lambda r: rule(r, "pain_central_mild")["when"].update({"pain": {"below": 4}}),
        r"rule 'pain_central_mild': when\.pain\.below: pain may only be compared with at_least or above",
    ),
    (
        "unknown complaint code",
        lambda r: rule(r, "pregnancy_pain_or_bleeding")["when"].update({"complaint": ["abdominal_pian"]}),
        r"rule 'pregnancy_pain_or_bleeding': when\.complaint: unknown complaint code 'abdominal_pian'",
    ),
    (
        "unknown modifier",
        lambda r: rule(r, "thunderclap_headache")["when"].update({"modifier": ["worst_headache"]}),
        r"rule 'thunderclap_headache': when\.modifier: unknown modifier code 'worst_headache'",
    ),
    (
        "unknown AVPU state",
        lambda r: rule(r, "avpu_voice_only")["when"].update({"mental": ["confused"]}),
        r"rule 'avpu_voice_only': when\.mental: unknown AVPU state 'confused'",
    ),
    (
        "missing Chinese text",
        lambda r: rule(r, "fever").pop("zh"),
        r"rule 'fever': zh: missing",
    ),
    (
        "unknown placeholder",
        lambda r: rule(r, "fever").update({"en": "Fever of {temp}"}),
        r"rule 'fever': en: unknown placeholder \{temp\}",
    ),
    (
        "duplicate id",
        lambda r: r["rules"].append(copy.deepcopy(rule(r, "fever"))),
        r"rule 'fever': id: duplicate",
    ),
    (
        "unknown rule field",
        lambda r: rule(r, "fever").update({"levle": 3}),
        r"rule 'fever': unknown field\(s\): levle",
    ),
    (
        "empty when",
        lambda r: rule(r, "fever").update({"when": {}}),
        r"rule 'fever': when: expected a non-empty mapping of conditions",
    ),
    (
        "n_of with too large n",
        lambda r: rule(r, "stroke_within_window")["when"]["n_of"].update({"n": 5}),
        r"rule 'stroke_within_window': when\.n_of\.n: expected a whole number 1\.\.2, got 5",
    ),
    (
        "unknown missing input",
        lambda r: rule(r, "vitals_incomplete")["when"].update({"missing": ["blood_sugar"]}),
        r"rule 'vitals_incomplete': when\.missing: unknown input name 'blood_sugar'",
    ),
    (
        "level without destination",
        lambda r: r["level_destinations"].pop(5),
        r"level_destinations: expected a destination for each level 1\.\.5",
    ),
    (
        "age bands with a gap",
        lambda r: r["age_bands"][1].update({"ages": [0.5, 3]}),
        r"age_bands: 'young_infant' ends at 0\.25 but 'infant_toddler' starts at 0\.5",
    ),
    (
        "age band missing a vital",
        lambda r: r["age_bands"][0]["normal"].pop("spo2"),
        r"age band 'young_infant': normal\.spo2: expected \[low, high\]",
    ),
]


@pytest.mark.parametrize(("what", "edit", "message"), CASES, ids=[c[0] for c in CASES])
def test_broken_rules_file_names_rule_and_field(tmp_path: Path, what: str, edit: Edit, message: str) -> None:
    """Each kind of mistake in rules.yaml raises RulesError naming the file, the rule and the field."""
    path = write(tmp_path, rules_edit=edit)
    with pytest.raises(RulesError, match=r"^rules\.yaml: " + message):
        load_ruleset(path)


COMPLAINT_CASES: list[tuple[str, Edit, str]] = [
    (
        "level out of range",
        lambda c: complaint(c, "headache").update({"level": 0}),
        r"complaint 'headache': level: must be 1\.\.5, got 0",
    ),
    (
        "unknown department",
        lambda c: complaint(c, "headache").update({"department": "brain_clinic"}),
        r"complaint 'headache': department: 'brain_clinic' is not a listed department",
    ),
    (
        "bad pain site",
        lambda c: complaint(c, "headache").update({"pain": "visceral"}),
        r"complaint 'headache': pain: must be one of central, peripheral, unspecified, got 'visceral'",
    ),
    (
        "duplicate code",
        lambda c: c["complaints"].append(copy.deepcopy(complaint(c, "headache"))),
        r"complaint 'headache': code: duplicate",
    ),
    (
        "missing Chinese name",
        lambda c: complaint(c, "headache").pop("zh"),
        r"complaint 'headache': zh: missing",
    ),
    (
        "phrases not a list",
        lambda c: complaint(c, "headache").update({"match_en": "headache"}),
        r"complaint 'headache': match_en: expected a list of non-empty texts",
    ),
    (
        "fallback not in the catalogue",
        lambda c: c.update({"fallback": "unknown"}),
        r"fallback: complaint 'unknown' is not in the catalogue",
    ),
]


@pytest.mark.parametrize(("what", "edit", "message"), COMPLAINT_CASES, ids=[c[0] for c in COMPLAINT_CASES])
def test_broken_complaint_file_names_complaint_and_field(tmp_path: Path, what: str, edit: Edit, message: str) -> None:
    """Each kind of mistake in complaints.yaml raises RulesError naming the file, the complaint and the field."""
    path = write(tmp_path, complaints_edit=edit)
    with pytest.raises(RulesError, match=r"^complaints\.yaml: " + message):
        load_ruleset(path)


def test_invalid_yaml_and_missing_files(tmp_path: Path) -> None:
    """Unreadable YAML and missing files are reported with the file name, not a traceback from deep inside."""
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"^rules\.yaml: not valid YAML"):
        load_ruleset(bad)
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_ruleset(tmp_path / "absent.yaml")
    path = write(tmp_path)
    (tmp_path / "complaints.yaml").unlink()
    with pytest.raises(RulesError, match="cannot read the complaint catalogue"):
        load_ruleset(path)


def test_every_rule_has_a_source_note() -> None:
    """Every shipped rule says where it comes from (KTAS, ESI, ...) so a clinician can check it."""
    assert all(r.get("note") for r in SHIPPED_RULES["rules"])
    assert not [r["id"] for r in SHIPPED_RULES["rules"] if not re.fullmatch(r"[a-z][a-z0-9_]*", r["id"])]
