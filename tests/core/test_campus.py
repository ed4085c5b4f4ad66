"""The campus model: the default campus, the loader's refusals, and travel times."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hospital_ops.campus import (
    CampusError,
    LocationKind,
    default_campus,
    default_campus_path,
    load_campus,
    parse_campus,
)
from hospital_ops.campus_gen import generate_campus


@pytest.fixture(scope="module")
def campus_data() -> dict[str, Any]:
    return yaml.safe_load(default_campus_path().read_text(encoding="utf-8"))


def _bad(data: dict[str, Any], tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CampusError) as info:
        load_campus(path)
    msg = str(info.value)
    assert str(path) in msg, "the error names the file"
    return msg


def test_default_campus_has_exactly_5037_beds_in_wards_of_30_to_50() -> None:
    """The shipped campus is the size of the Xi'an International Medical Center, in realistic wards."""
    campus = default_campus()
    assert campus.total_beds == 5037
    assert all(30 <= w.beds <= 50 for w in campus.wards)
    assert all(campus.locations[w.station].kind is LocationKind.NURSE_STATION for w in campus.wards)


def test_default_campus_has_the_buildings_the_hospital_needs() -> None:
    """≥ 6 towers of 15+ floors with lifts, ≥ 20 outpatient kiosks, ED kiosks and triage, pharmacy, lab, docks."""
    campus = default_campus()
    towers = [b for b in campus.buildings.values() if b.kind == "inpatient_tower"]
    assert len(towers) >= 6
    assert all(len(b.floors) >= 15 and b.lifts for b in towers)
    kiosks = campus.by_kind(LocationKind.KIOSK)
    assert sum(1 for k in kiosks if k.building == "OP") >= 20
    assert any(k.building == "ED" for k in kiosks)
    assert campus.by_kind(LocationKind.ED_TRIAGE)
    assert campus.by_kind(LocationKind.PHARMACY) and campus.by_kind(LocationKind.LAB)
    assert len(campus.by_kind(LocationKind.DOCK)) >= 6


def test_generator_hits_any_bed_count() -> None:
    """The twin's smaller campuses are built the same way and have exactly the beds asked for."""
    for beds in (1000, 2500, 5037):
        campus = parse_campus(generate_campus(beds))
        assert campus.total_beds == beds


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["wards"][0].update(station="NOWHERE"), "unknown location 'NOWHERE'"),
        (lambda d: d["locations"].append(copy.deepcopy(d["locations"][0])), "duplicate id"),
        (lambda d: d["wards"][0].update(beds=0), "positive number of beds"),
        (lambda d: d["buildings"][0]["lifts"][0].update(floors=[]), "serves no floor"),
        (lambda d: d["buildings"][0]["lifts"][0].update(floors=["1", "99"]), "does not have"),
        (lambda d: d["locations"][0].update(building="T99"), "unknown building 'T99'"),
        (lambda d: d["locations"][0].update(kind="spaceport"), "unknown kind"),
        (lambda d: d["links"][0].update(to="T99@B1"), "unknown building 'T99'"),
        (lambda d: d["links"][0].update(metres=-5), "must be positive"),
        (lambda d: d.update(extra_section=[]), "unknown top-level section"),
        (lambda d: d.pop("wards"), "missing top-level section 'wards'"),
    ],
    ids=[
        "unknown-station",
        "duplicate-id",
        "ward-without-beds",
        "lift-serving-no-floor",
        "lift-floor-missing",
        "unknown-building",
        "unknown-kind",
        "link-to-unknown",
        "negative-metres",
        "unknown-section",
        "missing-wards",
    ],
)
def test_loader_refuses_bad_files_naming_entry_and_reason(
    campus_data: dict[str, Any], tmp_path: Path, mutate: Any, expected: str
) -> None:
    """Each kind of bad file is refused with a message naming the file, the entry and the reason."""
    data = copy.deepcopy(campus_data)
    mutate(data)
    assert expected in _bad(data, tmp_path)


def test_unreachable_delivery_point_is_refused(campus_data: dict[str, Any], tmp_path: Path) -> None:
    """A building cut off from the campus (no link) makes its delivery points unreachable: refused."""
    data = copy.deepcopy(campus_data)
    data["links"] = [lk for lk in data["links"] if "ED@" not in lk["from"] and "ED@" not in lk["to"]]
    msg = _bad(data, tmp_path)
    assert "unreachable" in msg and "ED" in msg


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    """A file that is not there, or not YAML, gets a one-line reason."""
    with pytest.raises(CampusError, match="cannot read"):
        load_campus(tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("buildings: [\n", encoding="utf-8")
    with pytest.raises(CampusError, match="not valid YAML"):
        load_campus(bad)


def test_route_to_an_upper_ward_rides_a_lift_and_adds_its_time() -> None:
    """Pharmacy → 15th-floor ward uses a tower lift; the lift time is part of the total."""
    campus = default_campus()
    r = campus.route("MT-01-PHARMACY", "T3-15-NS")
    assert r.lifts and all(lift.startswith("T3-") for lift in r.lifts)
    lift_s = sum(leg.seconds for leg in r.legs if leg.kind == "lift")
    lift = next(lf for lf in campus.lifts if lf.id == r.lifts[0])
    assert lift_s >= lift.mean_wait_s + 2 * lift.door_s + 14 * lift.seconds_per_floor
    assert r.seconds == sum(leg.seconds for leg in r.legs) == campus.travel_s("MT-01-PHARMACY", "T3-15-NS")
    assert r.metres == campus.distance_m("MT-01-PHARMACY", "T3-15-NS")


def test_same_floor_route_uses_no_lift() -> None:
    """Moving along one floor of a building never calls a lift."""
    campus = default_campus()
    r = campus.route("ED-01-NS", "ED-01-RESUS")
    assert r.lifts == ()


def test_matrix_is_symmetric_with_two_way_corridors_and_zero_diagonal() -> None:
    """All corridors of the default campus are two-way and lifts ride both ways alike."""
    m = default_campus().matrix(default_campus().delivery_points())
    assert (m.seconds == m.seconds.T).all()
    assert (m.seconds.diagonal() == 0).all()
    assert (m.seconds[~(m.seconds == 0)] > 0).all()


def test_matrix_obeys_the_triangle_inequality() -> None:
    """Integer edge times make shortest paths exact: a detour is never faster."""
    m = default_campus().matrix(default_campus().delivery_points()).seconds
    via = (m[:, :, None] + m[None, :, :]).min(axis=1)
    assert (m <= via).all()


def test_one_way_link_is_one_way(campus_data: dict[str, Any]) -> None:
    """A one-way corridor makes travel asymmetric (so the symmetry above is not vacuous)."""
    data = copy.deepcopy(campus_data)
    data["links"].append({"from": "ED-01-NS", "to": "MT-02-LAB", "metres": 1, "one_way": True})
    campus = parse_campus(data)
    assert campus.travel_s("ED-01-NS", "MT-02-LAB") < campus.travel_s("MT-02-LAB", "ED-01-NS")


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_route_and_matrix_agree(data: st.DataObject) -> None:
    """The route's legs add up to the matrix's seconds and metres for any pair."""
    campus = default_campus()
    points = campus.delivery_points()
    a = data.draw(st.sampled_from(points))
    b = data.draw(st.sampled_from(points))
    r = campus.route(a, b)
    assert r.seconds == campus.travel_s(a, b)
    assert r.metres == campus.distance_m(a, b)
    assert all(leg.seconds >= 0 for leg in r.legs)


def test_unknown_point_is_a_clear_error() -> None:
    """Asking for travel to a place that does not exist names the place."""
    with pytest.raises(KeyError, match="NOWHERE"):
        default_campus().travel_s("MT-01-PHARMACY", "NOWHERE")


def test_faster_robot_is_never_slower() -> None:
    """Speed only shortens the walking part; lift time stays."""
    campus = default_campus()
    pts = campus.delivery_points()[:30]
    slow = campus.matrix(pts, 0.8).seconds
    fast = campus.matrix(pts, 1.5).seconds
    assert (fast <= slow).all()
