"""Staging of idle robots: apportionment by demand, stability, closest robots move."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler import MatrixTravel
from scheduler.staging import apportion, staging_targets

POINTS = {"PH": (0, 0), "LAB": (100, 0), "W1": (0, 200), "W2": (200, 200), "W3": (300, 0), "ED": (400, 400)}
GRID = MatrixTravel.grid(POINTS)
_M = GRID.matrix(list(POINTS), 1.0)


def travel(a: str, b: str) -> int:
    return int(_M.seconds[_M.index[a], _M.index[b]])


def test_apportion_is_proportional_and_complete() -> None:
    """Largest remainder: quotas add up to n, follow the weights, ties broken by name."""
    assert apportion(10, {"ED": 3.0, "W1": 1.0, "W2": 1.0}) == {"ED": 6, "W1": 2, "W2": 2}
    assert apportion(1, {"B": 1.0, "A": 1.0}) == {"A": 1, "B": 0}
    assert apportion(0, {"A": 1.0}) == {"A": 0}
    assert apportion(3, {"A": 0.0}) == {"A": 0}
    with pytest.raises(ValueError, match="weights"):
        apportion(2, {"A": -1.0})


def test_idle_robots_go_to_the_demand_closest_first() -> None:
    """Two robots idle at the lab, demand only at the ED and W1: each point gets one robot; a robot
    already at a point stays; robots are never sent when there is no point short of robots."""
    out = staging_targets({"R1": "LAB", "R2": "LAB"}, {"ED": 1.0, "W1": 1.0}, travel)
    assert sorted(out.values()) == ["ED", "W1"]
    out = staging_targets({"R1": "ED", "R2": "LAB", "R3": "W3"}, {"ED": 1.0, "W1": 2.0}, travel)
    assert out["R1"] == "ED"
    # W1 is short of 2 robots: both others go, the closer one first
    assert out["R2"] == "W1" and out["R3"] == "W1"
    out = staging_targets({"R1": "ED", "R2": "ED", "R3": "LAB"}, {"ED": 1.0}, travel)
    assert out == {"R1": "ED", "R2": "ED", "R3": "ED"}
    assert staging_targets({"R1": "LAB"}, {}, travel) == {"R1": "LAB"}


@given(
    idle=st.dictionaries(st.sampled_from([f"R{i}" for i in range(8)]), st.sampled_from(list(POINTS)), max_size=8),
    points=st.dictionaries(st.sampled_from(list(POINTS)), st.integers(0, 5).map(float), max_size=4),
)
def test_staging_is_stable_and_only_moves_robots_not_at_a_point(idle: dict[str, str], points: dict[str, float]) -> None:
    """Every idle robot gets a target; robots at a staging point never move; once the robots are
    where they were sent, asking again moves nobody (no shuttling)."""
    out = staging_targets(idle, points, travel)
    assert set(out) == set(idle)
    for rid, loc in idle.items():
        if loc in points:
            assert out[rid] == loc
        assert out[rid] == loc or out[rid] in points
    assert staging_targets(out, points, travel) == out
