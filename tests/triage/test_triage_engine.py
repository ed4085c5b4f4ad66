"""Engine unit tests: red flags escalate and are never under-called; explanations, destinations,
missing inputs and bad input."""

from __future__ import annotations

import dataclasses

import pytest
from triage_helpers import NORMAL_ADULT, adult

from hospital_ops.domain import Mental, Sex, TriageLevel, Vitals
from triage_kiosk.triage import TriageEngine, TriageInput
from triage_kiosk.triage.model import ArrivalMode


def vitals(**changes: float | None) -> Vitals:
    return dataclasses.replace(NORMAL_ADULT, **changes)


# ------------------------------------------------------------------------------ red flags


def test_baseline_minor_complaint_is_non_urgent(engine: TriageEngine) -> None:
    """A well adult with a rash and normal, complete vitals is level 4 (rash) and not escalated."""
    r = engine.assess(adult())
    assert r.level == TriageLevel.LESS_URGENT
    assert not r.escalate
    assert r.destination == "ed_fast_track"


@pytest.mark.parametrize("spo2", [60, 75, 85, 88, 89, 89.9])
@pytest.mark.parametrize("age", [0.1, 2, 6, 12, 30, 80])
def test_spo2_below_90_is_level_1_and_escalates(engine: TriageEngine, spo2: float, age: float) -> None:
    """SpO2 < 90 % gives level 1 (KTAS severe respiratory distress) at every age, with an alert."""
    r = engine.assess(adult(age=age, vitals=vitals(spo2=spo2)))
    assert r.level == TriageLevel.RESUSCITATION
    assert r.escalate
    assert r.destination == "resuscitation"


def test_spo2_reason_shows_value_and_threshold_in_both_languages(engine: TriageEngine) -> None:
    """The hypoxaemia reason states the measured value against the threshold in English and Chinese."""
    r = engine.assess(adult(vitals=vitals(spo2=88)))
    by_code = {x.code: x for x in r.reasons}
    assert "SpO2 88 % < 92 %" in by_code["spo2_below_92"].en
    assert "血氧饱和度 88 % < 92 %" in by_code["spo2_below_92"].zh
    assert "SpO2 88 % < 90 %" in by_code["spo2_below_90"].en


@pytest.mark.parametrize("spo2", [90, 91])
def test_spo2_90_to_91_is_level_2(engine: TriageEngine, spo2: float) -> None:
    """SpO2 90–91 % is KTAS moderate respiratory distress: level 2 with an alert."""
    r = engine.assess(adult(vitals=vitals(spo2=spo2)))
    assert r.level == TriageLevel.EMERGENT and r.escalate


@pytest.mark.parametrize("sbp", [50, 69, 70, 85, 89])
def test_adult_sbp_below_90_is_at_least_level_2(engine: TriageEngine, sbp: float) -> None:
    """Systolic BP < 90 mmHg in an adult is level 2 or more urgent (1 below 70), with an alert."""
    r = engine.assess(adult(vitals=vitals(systolic_bp=sbp, diastolic_bp=min(50, sbp - 10))))
    assert r.level <= TriageLevel.EMERGENT
    assert r.escalate
    if sbp < 70:
        assert r.level == TriageLevel.RESUSCITATION


@pytest.mark.parametrize(("age", "sbp"), [(1, 65), (5, 70), (10, 85)])
def test_child_hypotension_for_age_is_level_2(engine: TriageEngine, age: float, sbp: float) -> None:
    """Hypotension by paediatric age band (PALS) is level 2 with an alert."""
    r = engine.assess(adult(age=age, vitals=Vitals(systolic_bp=sbp)))
    assert r.level <= TriageLevel.EMERGENT and r.escalate


def test_unresponsive_is_level_1_resuscitation(engine: TriageEngine) -> None:
    """An unresponsive patient (AVPU U) is level 1, escalated, sent to resuscitation."""
    r = engine.assess(adult(mental=Mental.UNRESPONSIVE))
    assert r.level == TriageLevel.RESUSCITATION
    assert r.escalate
    assert r.destination == "resuscitation"


@pytest.mark.parametrize("mental", [Mental.VOICE, Mental.PAIN])
def test_altered_mental_status_is_level_2(engine: TriageEngine, mental: Mental) -> None:
    """Responding only to voice or to pain is altered consciousness: level 2 with an alert."""
    r = engine.assess(adult(mental=mental))
    assert r.level <= TriageLevel.EMERGENT and r.escalate


@pytest.mark.parametrize(
    "text", ["chest pain", "ant. chest pain", "pain, chest", "Chest discomfort left", "胸痛", "胸口闷得厉害"]
)
@pytest.mark.parametrize("age", [18, 35, 70])
def test_chest_pain_in_an_adult_is_level_2_and_escalates(engine: TriageEngine, text: str, age: int) -> None:
    """Chest pain in an adult, in English or Chinese free text, is level 2 or more urgent, with an alert."""
    r = engine.assess(adult(age=age, complaint_text=text, pain=2))
    assert r.level <= TriageLevel.EMERGENT
    assert r.escalate
    assert any(x.code == "complaint:chest_pain" for x in r.reasons)


def test_chest_pain_chosen_by_code(engine: TriageEngine) -> None:
    """A complaint chosen from the catalogue by code works like free text."""
    r = engine.assess(adult(complaint_text="", complaints=("chest_pain",)))
    assert r.level == TriageLevel.EMERGENT and r.escalate


@pytest.mark.parametrize(
    "change",
    [
        {"complaint_text": "right side weakness"},
        {"complaint_text": "slurred speech"},
        {"complaint_text": "口角歪斜"},
        {"modifiers": frozenset({"one_sided_weakness"})},
        {"modifiers": frozenset({"speech_difficulty"})},
        {"modifiers": frozenset({"facial_droop"})},
    ],
)
@pytest.mark.parametrize("onset", [None, 0.5, 3, 20])
def test_stroke_signs_within_window_are_level_2(engine: TriageEngine, change: dict, onset: float | None) -> None:
    """Stroke signs with onset unknown or within 24 h are level 2 with an alert (unknown onset is not assumed late)."""
    r = engine.assess(adult(onset_hours=onset, **change))
    assert r.level <= TriageLevel.EMERGENT
    assert r.escalate


def test_stroke_signs_beyond_window_still_alert(engine: TriageEngine) -> None:
    """Stroke signs known to have started days ago are level 3 but still call a nurse."""
    r = engine.assess(adult(complaint_text="left hemiparesis", onset_hours=72))
    assert r.level == TriageLevel.URGENT and r.escalate


@pytest.mark.parametrize(
    "modifier", ["sudden_severe_headache", "vomiting_blood", "uncontrolled_bleeding", "throat_swelling", "vision_loss"]
)
def test_red_flag_modifiers_are_level_2(engine: TriageEngine, modifier: str) -> None:
    """A 'yes' to a red-flag kiosk question makes the case level 2 with an alert, whatever the complaint."""
    r = engine.assess(adult(complaint_text="headache", modifiers=frozenset({modifier})))
    assert r.level <= TriageLevel.EMERGENT and r.escalate
    assert any(x.code != "complaint:headache" and x.level <= 2 for x in r.reasons)


@pytest.mark.parametrize("text", ["vomiting blood", "hematemesis", "吐血", "melena", "黑便"])
def test_upper_gi_bleeding_complaint_is_level_2(engine: TriageEngine, text: str) -> None:
    """Vomiting blood or black stools as the complaint is level 2 with an alert."""
    r = engine.assess(adult(complaint_text=text))
    assert r.level <= TriageLevel.EMERGENT and r.escalate


def test_fever_with_tachycardia_is_possible_sepsis(engine: TriageEngine) -> None:
    """Adult fever >= 38 °C with HR > 90 is level 2 (fever with SIRS)."""
    r = engine.assess(adult(complaint_text="fever", vitals=vitals(temperature_c=38.6, heart_rate=112)))
    assert r.level == TriageLevel.EMERGENT and r.escalate
    assert any(x.code == "fever_with_sirs" for x in r.reasons)


def test_fever_in_young_infant_is_level_2(engine: TriageEngine) -> None:
    """Fever in an infant under 3 months is level 2 (ESI / KTAS paediatric rule)."""
    r = engine.assess(adult(age=0.1, complaint_text="fever", vitals=Vitals(temperature_c=38.2)))
    assert r.level <= TriageLevel.EMERGENT and r.escalate


def test_child_danger_zone_heart_rate(engine: TriageEngine) -> None:
    """HR 170 is the danger zone for a 1-year-old (> 160) but not for an infant under 3 months (> 180)."""
    toddler = engine.assess(adult(age=1, vitals=Vitals(heart_rate=170)))
    infant = engine.assess(adult(age=0.1, vitals=Vitals(heart_rate=170)))
    assert toddler.level == TriageLevel.EMERGENT and toddler.escalate
    assert not any(x.code.startswith("child_danger_zone") for x in infant.reasons)


def test_central_and_peripheral_pain_tables(engine: TriageEngine) -> None:
    """KTAS pain: NRS 8 with a central complaint is level 2, with a peripheral (limb) complaint level 3."""
    central = engine.assess(adult(complaint_text="abdominal pain", pain=8))
    peripheral = engine.assess(adult(complaint_text="ankle pain", pain=8))
    assert central.level == TriageLevel.EMERGENT
    assert peripheral.level == TriageLevel.URGENT
    assert engine.assess(adult(complaint_text="abdominal pain", pain=5)).level == TriageLevel.URGENT
    assert engine.assess(adult(complaint_text="ankle pain", pain=5)).level == TriageLevel.LESS_URGENT
    assert engine.assess(adult(complaint_text="ankle pain", pain=2)).level == TriageLevel.NON_URGENT


# ------------------------------------------------------------------- destination and output


def test_non_urgent_goes_to_the_complaint_clinic(engine: TriageEngine) -> None:
    """Level 5 is sent to the outpatient department of the complaint; children to paediatrics."""
    r = engine.assess(adult(complaint_text="ankle pain", pain=1))
    assert r.level == TriageLevel.NON_URGENT
    assert r.destination == "opd_orthopaedics"
    assert engine.destination_names(r.destination) == ("Outpatient: Orthopaedics", "门诊：骨科")
    child = engine.assess(adult(age=9, complaint_text="ankle pain", pain=1))
    assert child.destination == "opd_paediatrics"


def test_ambulance_arrival_never_goes_to_the_clinic(engine: TriageEngine) -> None:
    """A patient brought by ambulance is at least level 4 (assessed in the ED, not the clinic)."""
    r = engine.assess(adult(complaint_text="ankle pain", pain=1, arrival=ArrivalMode.AMBULANCE))
    assert r.level == TriageLevel.LESS_URGENT


def test_every_result_names_the_ruleset(engine: TriageEngine) -> None:
    """The result records which ruleset and complaint catalogue version produced it."""
    r = engine.assess(adult())
    assert r.ruleset == engine.ruleset.label
    assert engine.ruleset.version in r.ruleset


def test_reasons_sorted_most_urgent_first_and_level_is_their_minimum(engine: TriageEngine) -> None:
    """Reasons come most urgent first; the level is the most urgent reason's level."""
    r = engine.assess(adult(complaint_text="abd pain", pain=6, vitals=vitals(resp_rate=24)))
    levels = [x.level for x in r.reasons]
    assert levels == sorted(levels)
    assert r.level == levels[0] == 3


# ---------------------------------------------------------------------- missing inputs


def test_missing_inputs_are_listed(engine: TriageEngine) -> None:
    """Everything not given is listed in `missing`, vital signs by name."""
    r = engine.assess(TriageInput(age=30, sex=Sex.FEMALE, complaint_text="cough"))
    for name in ("mental", "heart_rate", "resp_rate", "systolic_bp", "diastolic_bp", "temperature_c", "spo2"):
        assert name in r.missing
    for name in ("pain", "onset_hours", "arrival", "injury", "pregnant"):
        assert name in r.missing


def test_pregnancy_is_asked_only_when_relevant(engine: TriageEngine) -> None:
    """Pregnancy is listed as missing for women of child-bearing age only."""
    assert "pregnant" not in engine.assess(adult(sex=Sex.MALE)).missing
    assert "pregnant" not in engine.assess(adult(sex=Sex.FEMALE, age=70)).missing
    assert "pregnant" in engine.assess(adult(sex=Sex.FEMALE, age=30)).missing


def test_missing_vitals_are_not_assumed_normal(engine: TriageEngine) -> None:
    """A minor complaint that would be level 5 with normal vitals is level 4 while vitals are missing."""
    complete = engine.assess(adult(complaint_text="ankle pain", pain=1))
    partial = engine.assess(adult(complaint_text="ankle pain", pain=1, vitals=vitals(heart_rate=None)))
    assert complete.level == TriageLevel.NON_URGENT
    assert partial.level == TriageLevel.LESS_URGENT
    assert "heart_rate" in partial.missing
    assert any("heart rate" in x.en and "心率" in x.zh for x in partial.reasons)


def test_breathing_complaint_without_spo2_alerts(engine: TriageEngine) -> None:
    """Shortness of breath without an SpO2 reading calls a nurse (oxygenation is never assumed)."""
    r = engine.assess(adult(complaint_text="shortness of breath", vitals=vitals(spo2=None)))
    assert r.escalate and r.level <= TriageLevel.URGENT


def test_ambulance_arrival_without_any_vitals_is_level_2(engine: TriageEngine) -> None:
    """An ambulance or transfer patient with no vital signs at all has not been assessed: level 2, alert."""
    r = engine.assess(adult(arrival=ArrivalMode.TRANSFER, vitals=Vitals(temperature_c=36.5)))
    assert r.level == TriageLevel.EMERGENT and r.escalate


def test_unrecognised_complaint_is_urgent_until_a_nurse_reads_it(engine: TriageEngine) -> None:
    """Free text that matches nothing gives level 3 with a 'not recognised' reason in both languages."""
    r = engine.assess(adult(complaint_text="xqzv blorp"))
    assert r.level == TriageLevel.URGENT
    reason = next(x for x in r.reasons if x.code == "complaint:other")
    assert "not recognised" in reason.en and "未能识别" in reason.zh


def test_no_complaint_is_missing_and_urgent(engine: TriageEngine) -> None:
    """No complaint at all is listed as missing and gives level 3."""
    r = engine.assess(adult(complaint_text=""))
    assert "complaint" in r.missing
    assert r.level == TriageLevel.URGENT


# ------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("abd pain", "abdominal_pain"),
        ("RLQ pain", "abdominal_pain"),
        ("dyspnea", "dyspnea"),
        ("dyspnoea", "dyspnea"),
        ("HA - Headache", "headache"),
        ("DZ - Dizziness", "dizziness"),
        ("fever & chill", "fever"),
        ("LOC - Loss of consciousness", "syncope"),
        ("sezure like motion", "seizure"),
        ("肚子疼", "abdominal_pain"),
        ("头晕", "dizziness"),
        ("发烧", "fever"),
    ],
)
def test_free_text_matches_the_catalogue(engine: TriageEngine, text: str, code: str) -> None:
    """Clinical abbreviations, word order, plurals, a one-letter typo and Chinese text all match."""
    codes = [m.complaint.code for m in engine.ruleset.catalog.match(text)]
    assert code in codes


def test_specific_phrase_wins_over_general(engine: TriageEngine) -> None:
    """'motor weakness' is a stroke sign, not general weakness; 'chest wall pain' is not cardiac chest pain."""
    catalog = engine.ruleset.catalog
    assert [m.complaint.code for m in catalog.match("Rt. side motor weakness")] == ["stroke_signs"]
    assert [m.complaint.code for m in catalog.match("chest wall pain left")] == ["chest_wall_pain"]


def test_several_complaints_take_the_most_urgent(engine: TriageEngine) -> None:
    """Two complaints in one text both count; the level is the most urgent."""
    r = engine.assess(adult(complaint_text="headache and chest pain"))
    assert {"complaint:headache", "complaint:chest_pain"} <= {x.code for x in r.reasons}
    assert r.level == TriageLevel.EMERGENT


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pain": 11}, "pain"),
        ({"pain": -1}, "pain"),
        ({"age": -2}, "age"),
        ({"age": float("nan")}, "age"),
        ({"vitals": Vitals(spo2=120)}, "vitals.spo2"),
        ({"vitals": Vitals(heart_rate=float("nan"))}, "vitals.heart_rate"),
        ({"onset_hours": -1}, "onset_hours"),
        ({"sex": Sex.MALE, "pregnant": True}, "pregnant"),
        ({"mental": "alert"}, "mental"),
        ({"complaints": "chest_pain"}, "complaints"),
    ],
)
def test_bad_input_is_refused_naming_the_field(change: dict, field: str) -> None:
    """An impossible input raises ValueError naming the field, before any rule runs."""
    with pytest.raises(ValueError, match=field):
        adult(**change)


def test_unknown_complaint_code_and_modifier_are_refused(engine: TriageEngine) -> None:
    """Codes not in the catalogue or the ruleset raise ValueError naming the field."""
    with pytest.raises(ValueError, match="complaints: unknown complaint code 'chestpain'"):
        engine.assess(adult(complaints=("chestpain",)))
    with pytest.raises(ValueError, match="modifiers: unknown modifier code"):
        engine.assess(adult(modifiers=frozenset({"feels_bad"})))
