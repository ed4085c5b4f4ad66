"""Small named scenarios for the twin's tests (session fixtures; variants via ``.replace``)."""

from __future__ import annotations

import pytest

from sim.scenario import Scenario, load_scenario, parse_scenario, scenario_path

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def flat_week(per_day: float) -> dict[str, float]:
    return dict.fromkeys(WEEK, per_day)


@pytest.fixture(scope="session")
def small() -> Scenario:
    """The shipped small scenario (1,000-bed campus, Monday morning)."""
    return load_scenario(scenario_path("small"))


@pytest.fixture(scope="session")
def tiny() -> Scenario:
    """The small scenario cut to 2.5 simulated hours: everything on, a couple of seconds to run."""
    return load_scenario(scenario_path("small")).replace(
        **{"warmup_h": 0.5, "horizon_h": 2.0, "start_time": "06:30", "faults.lift_outages": []}
    )


@pytest.fixture(scope="session")
def kiosk_only() -> Scenario:
    """M/M/3 at the outpatient kiosks: Poisson arrivals at a constant 67.5/h, exponential
    check-in (mean 120 s, face always recognised), nothing else running."""
    return parse_scenario(
        {
            "name": "mmc",
            "seed": 3,
            "start_weekday": "mon",
            "start_time": "00:00",
            "warmup_h": 5,
            "horizon_h": 200,
            "stages": {"triage": False, "logistics": False},
            "demand": {
                "outpatients": {"per_weekday": flat_week(67.5 * 24), "hourly_profile": [1] * 24, "kiosk_share": 1.0},
                "ed": {"arrivals_per_day": 0},
            },
            "kiosks": {
                "outpatient": 3,
                "emergency": 1,
                "face_success": 1.0,
                "face_s": {"dist": "exponential", "mean": 120},
            },
        }
    )
