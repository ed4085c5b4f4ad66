"""The shared campus clock: time scale, origin, environment, conversions."""

from __future__ import annotations

import pytest

from hospital_ops.clock import ORIGIN_ENV, SCALE_ENV, CampusClock


class Wall:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_scale_one_is_the_wall_clock() -> None:
    """At scale 1 the campus clock shows the wall clock whatever the origin."""
    wall = Wall(1_800_000_000.0)
    clock = CampusClock(1.0, 1_700_000_000.0, wall)
    assert clock.now() == 1_800_000_000.0
    wall.t += 10
    assert clock.now_s() == 1_800_000_010


def test_scaled_clock_runs_k_times_faster_from_its_origin() -> None:
    """With scale 20 the campus moves 20 s per wall second, starting at the wall time of the origin."""
    wall = Wall(1_800_000_000.0)
    clock = CampusClock.starting_now(20.0, wall)
    assert clock.now() == 1_800_000_000.0
    wall.t += 3.0
    assert clock.now() == pytest.approx(1_800_000_060.0)
    assert clock.wall_at(clock.now()) == pytest.approx(wall.t)
    assert clock.campus_duration(2.0) == 40.0 and clock.wall_duration(40.0) == 2.0


def test_two_processes_with_the_same_origin_agree() -> None:
    """Clocks built from the same (scale, origin) show the same campus time (what the launcher relies on)."""
    wall = Wall(1_800_000_100.0)
    a = CampusClock(10.0, 1_800_000_000.0, wall)
    b = CampusClock.from_env(a.env(), wall)
    assert b == a and b.now() == a.now() == pytest.approx(1_800_001_000.0)
    assert a.args() == ["--time-scale", "10", "--clock-origin", "1800000000.0"]


def test_from_env_defaults_to_now_at_scale_one() -> None:
    """No variables: scale 1 from now."""
    wall = Wall(1_800_000_000.0)
    clock = CampusClock.from_env({}, wall)
    assert (clock.scale, clock.origin_s) == (1.0, 1_800_000_000.0)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({SCALE_ENV: "fast"}, SCALE_ENV),
        ({SCALE_ENV: "0"}, SCALE_ENV),
        ({SCALE_ENV: "-2"}, SCALE_ENV),
        ({ORIGIN_ENV: "yesterday"}, ORIGIN_ENV),
        ({ORIGIN_ENV: "-1"}, ORIGIN_ENV),
    ],
)
def test_bad_environment_names_the_variable(env: dict[str, str], match: str) -> None:
    """A bad scale or origin is a ValueError naming the variable, never a traceback deeper down."""
    with pytest.raises(ValueError, match=match):
        CampusClock.from_env(env, Wall(1.0))


def test_bad_constructor_arguments() -> None:
    """Zero, negative and non-finite scales are refused with the field name."""
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="time_scale"):
            CampusClock(bad)
