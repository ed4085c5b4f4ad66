"""Property tests (hypothesis) of invariants that hold for the shipped rules by construction:

* worsening a vital sign (further from the age band's normal middle; SpO2 lower) never makes the
  level less urgent;
* a missing vital sign (or consciousness, or pain score) never gives a less urgent level than the
  same case with that value normal;
* more pain, a worse AVPU state or an extra "yes" to a kiosk question never makes it less urgent;
* every result explains itself in both languages, its level is its most urgent reason, levels 1–2
  always escalate, and the destination matches the level.
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hospital_ops.domain import Mental, Sex, TriageLevel, Vitals
from triage_kiosk.triage import TriageEngine, TriageInput
from triage_kiosk.triage.model import MENTAL_ORDER, VITAL_FIELDS, ArrivalMode
from triage_kiosk.triage.ruleset import INPUT_LABELS

ENGINE = TriageEngine()
RULES = ENGINE.ruleset
COMPLAINT_CODES = sorted(RULES.catalog.complaints)
MODIFIER_CODES = sorted(RULES.modifiers)
TEXTS = ["", "abd pain", "胸痛", "dizziness", "ankle injury", "fever & chill", "??", "headache", "open wound"]

#: Values drawn for each vital sign (wide but physically possible).
VITAL_VALUES = {
    "heart_rate": st.floats(20, 250),
    "resp_rate": st.floats(4, 70),
    "systolic_bp": st.floats(40, 260),
    "diastolic_bp": st.floats(20, 160),
    "temperature_c": st.floats(30, 43),
    "spo2": st.floats(50, 100),
}

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def inputs(draw: st.DrawFn) -> TriageInput:
    age = draw(st.one_of(st.floats(0, 15), st.floats(15, 100)))
    sex = draw(st.sampled_from(list(Sex)))
    vitals = Vitals(**{name: draw(st.none() | strategy) for name, strategy in VITAL_VALUES.items()})
    return TriageInput(
        age=age,
        sex=sex,
        complaints=tuple(draw(st.lists(st.sampled_from(COMPLAINT_CODES), max_size=2))),
        complaint_text=draw(st.sampled_from(TEXTS)),
        onset_hours=draw(st.none() | st.floats(0, 500)),
        pain=draw(st.none() | st.integers(0, 10)),
        mental=draw(st.none() | st.sampled_from(list(Mental))),
        vitals=vitals,
        arrival=draw(st.none() | st.sampled_from(list(ArrivalMode))),
        injury=draw(st.none() | st.booleans()),
        pregnant=None if sex is Sex.MALE else draw(st.none() | st.booleans()),
        modifiers=frozenset(draw(st.lists(st.sampled_from(MODIFIER_CODES), max_size=2))),
    )


def level(inp: TriageInput) -> int:
    return int(ENGINE.assess(inp).level)


def with_vital(inp: TriageInput, name: str, value: float | None) -> TriageInput:
    return dataclasses.replace(inp, vitals=dataclasses.replace(inp.vitals, **{name: value}))


@SETTINGS
@given(inp=inputs(), name=st.sampled_from(VITAL_FIELDS), step=st.floats(0.1, 80), start=st.data())
def test_worse_vital_sign_is_never_less_urgent(inp: TriageInput, name: str, step: float, start: st.DataObject) -> None:
    """Moving a vital sign further from the age band's normal middle (SpO2: lower) never lowers urgency."""
    value = getattr(inp.vitals, name)
    if value is None:
        value = start.draw(VITAL_VALUES[name])
        inp = with_vital(inp, name, value)
    low, high = {"spo2": (0.0, 100.0), "temperature_c": (20.0, 45.0)}.get(name, (0.0, 300.0))
    mid = RULES.band(inp.age).mid(name)
    if name == "spo2" or value < mid:
        worse = max(low, value - step)
    else:
        worse = min(high if name != "resp_rate" else 80.0, value + step)
    if name == "diastolic_bp":
        worse = min(worse, 250.0)
    assert level(with_vital(inp, name, worse)) <= level(inp)


@SETTINGS
@given(inp=inputs(), names=st.sets(st.sampled_from(VITAL_FIELDS), min_size=1))
def test_missing_vitals_never_less_urgent_than_normal(inp: TriageInput, names: set[str]) -> None:
    """Leaving vital signs out never gives a less urgent level than giving them as normal for age."""
    band = RULES.band(inp.age)
    normal = dataclasses.replace(inp.vitals, **{n: band.mid(n) for n in names})
    missing = dataclasses.replace(inp.vitals, **dict.fromkeys(names))
    with_normal = dataclasses.replace(inp, vitals=normal)
    without = dataclasses.replace(inp, vitals=missing)
    assert level(without) <= level(with_normal)
    assert set(names) <= set(ENGINE.assess(without).missing)


@SETTINGS
@given(inp=inputs())
def test_missing_consciousness_or_pain_never_less_urgent_than_normal(inp: TriageInput) -> None:
    """An unassessed AVPU is never less urgent than 'alert'; an unasked pain score never less than 0."""
    assert level(dataclasses.replace(inp, mental=None)) <= level(dataclasses.replace(inp, mental=Mental.ALERT))
    assert level(dataclasses.replace(inp, pain=None)) <= level(dataclasses.replace(inp, pain=0))


@SETTINGS
@given(inp=inputs(), extra=st.integers(1, 10))
def test_more_pain_is_never_less_urgent(inp: TriageInput, extra: int) -> None:
    """A higher pain score never gives a less urgent level."""
    base = dataclasses.replace(inp, pain=inp.pain if inp.pain is not None else 0)
    more = dataclasses.replace(base, pain=min(10, (base.pain or 0) + extra))
    assert level(more) <= level(base)


@SETTINGS
@given(inp=inputs())
def test_worse_consciousness_is_never_less_urgent(inp: TriageInput) -> None:
    """Alert → voice → pain → unresponsive never lowers urgency."""
    levels = [level(dataclasses.replace(inp, mental=m)) for m in MENTAL_ORDER]
    assert levels == sorted(levels, reverse=True)


@SETTINGS
@given(inp=inputs(), modifier=st.sampled_from(MODIFIER_CODES))
def test_answering_yes_is_never_less_urgent(inp: TriageInput, modifier: str) -> None:
    """Adding a 'yes' to any kiosk question never lowers urgency."""
    assert level(dataclasses.replace(inp, modifiers=inp.modifiers | {modifier})) <= level(inp)


@SETTINGS
@given(inp=inputs(), code=st.sampled_from(COMPLAINT_CODES))
def test_another_complaint_is_never_less_urgent(inp: TriageInput, code: str) -> None:
    """Once a complaint is recognised, adding another never lowers urgency (the most urgent counts).
    (Not true from *no* recognised complaint: the fallback is deliberately urgent until a nurse reads it.)"""
    before = ENGINE.assess(inp)
    if any(x.code == f"complaint:{RULES.catalog.fallback.code}" for x in before.reasons):
        return
    assert level(dataclasses.replace(inp, complaints=(*inp.complaints, code))) <= before.level


@SETTINGS
@given(inp=inputs())
def test_every_result_explains_itself(inp: TriageInput) -> None:
    """At least one reason, each in English and Chinese; level = most urgent reason; 1–2 escalate;
    destination follows the level; missing names only known inputs; the ruleset is recorded."""
    r = ENGINE.assess(inp)
    assert r.reasons
    assert all(x.en.strip() and x.zh.strip() and x.code for x in r.reasons)
    assert all(1 <= x.level <= 5 for x in r.reasons)
    assert r.level == min(x.level for x in r.reasons)
    if r.level <= TriageLevel.EMERGENT:
        assert r.escalate
    expected = RULES.level_destinations[int(r.level)]
    if expected == "outpatient":
        assert r.destination.startswith("opd_")
        ENGINE.destination_names(r.destination)
    else:
        assert r.destination == expected
    assert set(r.missing) <= set(INPUT_LABELS)
    assert r.ruleset == RULES.label


@SETTINGS
@given(inp=inputs())
def test_complaint_order_does_not_matter(inp: TriageInput) -> None:
    """The same complaints in another order give the same level and alert."""
    a = ENGINE.assess(inp)
    b = ENGINE.assess(dataclasses.replace(inp, complaints=tuple(reversed(inp.complaints))))
    assert (a.level, a.escalate) == (b.level, b.escalate)
