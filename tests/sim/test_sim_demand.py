"""Demand generators: hourly profiles, weekday volumes, rounds, and the twin's random streams."""

from __future__ import annotations

import numpy as np
import pytest

from sim.demand import hourly_arrivals, ward_requests
from sim.scenario import Scenario
from sim.site import Site
from sim.streams import STREAMS, Streams


def test_hourly_arrivals_follow_volume_and_profile() -> None:
    """Counts match the daily volume, and the peak hours carry their share of it."""
    rng = np.random.default_rng(1)
    profile = [0.0] * 24
    profile[8] = profile[9] = 3.0
    profile[14] = 2.0
    t = hourly_arrivals(rng, lambda wd: 8000.0 if wd < 5 else 0.0, profile, 0, 7 * 86400)
    assert len(t) == pytest.approx(5 * 8000, rel=0.03)
    hours = (t // 3600 % 24).astype(int)
    assert set(np.unique(hours)) == {8, 9, 14}
    assert np.mean(hours == 14) == pytest.approx(0.25, abs=0.02)
    assert (t // 86400 >= 5).sum() == 0  # nothing at the weekend


def test_ward_requests_have_rounds_and_valid_places(small: Scenario) -> None:
    """Every request names real campus places; rounds arrive per ward; STAT share as configured."""
    site = Site.build(small)
    reqs = ward_requests(small, site, Streams(small.seed, 0))
    places = set(site.campus.locations)
    assert all(r.pickup in places and r.dropoff in places and r.deadline_s >= r.at_s for r in reqs)
    draws = [r for r in reqs if r.source == "draw"]
    assert len(draws) == len(site.wards)  # one 06:00 phlebotomy box per ward in the window
    lab = [r for r in reqs if r.source == "lab"]
    stat = np.mean([r.priority.value == "stat" for r in lab])
    assert stat == pytest.approx(small.demand.lab.priority.stat, abs=0.08)


def test_streams_are_independent_and_reproducible() -> None:
    """One generator per named stream; same seed and replication → same numbers; new replication → new ones."""
    a, b, c = Streams(5, 0), Streams(5, 0), Streams(5, 1)
    assert len(STREAMS) == len(set(STREAMS))
    assert a["op_arrivals"].random() == b["op_arrivals"].random()
    assert a["lift_car"].random() != c["lift_car"].random()
    with pytest.raises(KeyError, match="unknown random stream"):
        a["nope"]
