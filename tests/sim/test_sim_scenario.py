"""Scenario files: defaults, validation with errors naming the field, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario, scenario_path
from sim.site import Site


def test_shipped_default_equals_built_in_defaults() -> None:
    """default.yaml spells out exactly the built-in defaults, so a missing key means the same thing."""
    shipped = load_scenario(scenario_path("default"))
    built_in = Scenario(name="default", description=shipped.description)
    assert shipped.model_dump() == built_in.model_dump()


def test_missing_sections_fall_back_to_defaults() -> None:
    """A file with one section keeps every other section at its default."""
    sc = parse_scenario({"fleet": {"robots": 12}})
    assert sc.fleet.robots == 12
    assert sc.fleet.speed_mps == Scenario().fleet.speed_mps
    assert sc.demand == Scenario().demand


def test_misspelt_key_is_an_error_with_a_suggestion() -> None:
    """An unknown (misspelt) key is refused, named with its path, and the nearest valid key suggested."""
    with pytest.raises(ScenarioError, match=r"fleet\.robtos: unknown key — did you mean 'robots'"):
        parse_scenario({"fleet": {"robtos": 40}}, source="x.yaml")


def test_unknown_top_level_key_refused() -> None:
    """A key the scenario does not know at the top level is an error too."""
    with pytest.raises(ScenarioError, match=r"horizon: unknown key — did you mean 'horizon_h'"):
        parse_scenario({"horizon": 24})


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"fleet": {"robots": -1}}, r"fleet\.robots: .*greater than or equal to 0"),
        ({"demand": {"ed": {"acuity_mix": [0.5, 0.5, 0, 0, 0.1]}}}, r"demand\.ed\.acuity_mix: shares must sum to 1"),
        ({"demand": {"outpatients": {"hourly_profile": [1] * 23}}}, r"hourly_profile: needs 24 hourly weights"),
        ({"demand": {"lab": {"priority": {"stat": 0.8, "urgent": 0.5}}}}, r"demand\.lab\.priority: stat \+ urgent"),
        ({"start_time": "25:00"}, r"start_time: expected a time as HH:MM"),
        ({"kiosks": {"face_s": {"dist": "weibull", "mean": 3}}}, r"kiosks\.face_s\.dist"),
        ({"kiosks": {"face_s": {"dist": "lognormal", "mean": 0}}}, r"kiosks\.face_s.*positive mean"),
        ({"fleet": {"battery": {"low_pct": 95, "resume_pct": 90}}}, r"resume_pct .* must be above low_pct"),
        ({"planner": {"min_replan_interval_s": 600, "max_replan_interval_s": 60}}, r"max_replan_interval_s"),
        (
            {"faults": {"lift_outages": [{"lift": "T1-L1", "start_h": 1, "duration_h": 0}]}},
            r"lift_outages\[0\]\.duration_h",
        ),
        ({"campus": "a.yaml", "campus_beds": 1000}, r"give one or the other"),
        ([1, 2], r"must contain a mapping"),
    ],
)
def test_bad_values_name_the_field(data: object, pattern: str) -> None:
    """Each bad value is refused with a message naming the field and the reason."""
    with pytest.raises(ScenarioError, match=pattern):
        parse_scenario(data, source="bad.yaml")


def test_unknown_lift_in_outage_named() -> None:
    """A lift outage naming a lift the campus does not have is refused, naming the entry."""
    sc = parse_scenario(
        {"campus_beds": 1000, "faults": {"lift_outages": [{"lift": "T9-L7", "start_h": 1, "duration_h": 1}]}}
    )
    with pytest.raises(ScenarioError, match=r"faults\.lift_outages\[0\]\.lift: unknown lift 'T9-L7'"):
        Site.build(sc)


def test_file_errors_are_scenario_errors(tmp_path: Path) -> None:
    """Missing file, invalid YAML, and a campus file that does not exist give clear errors."""
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("fleet: [robots: 3\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
    ref = tmp_path / "ref.yaml"
    ref.write_text("campus: no_such_campus.yaml\n", encoding="utf-8")
    sc = load_scenario(ref)
    with pytest.raises(ScenarioError, match=r"campus: .*no_such_campus\.yaml: cannot read"):
        Site.build(sc)


def test_replace_reaches_into_sections(small: Scenario) -> None:
    """``replace`` changes one nested field and validates the result like a file."""
    assert small.replace(**{"fleet.robots": 7}).fleet.robots == 7
    with pytest.raises(ScenarioError, match="unknown field"):
        small.replace(**{"fleet.robtos": 7})
    with pytest.raises(ScenarioError, match=r"fleet\.robots"):
        small.replace(**{"fleet.robots": -3})
