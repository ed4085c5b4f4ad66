"""Invariants with many simulated robots on the real campus sharing managed lifts (fake clock)."""

from __future__ import annotations

import random

import pytest
from robots_testkit import PIN, FakeClock

from hospital_ops.campus import Campus, LocationKind, default_campus
from hospital_ops.domain import CustodyKind, StopKind
from robots.driver_core import DriverConfig, LegOutcome, LegStop, Phase, RobotDriverCore
from robots.lifts import LiftManager


@pytest.fixture(scope="module")
def campus() -> Campus:
    return default_campus()


def test_ten_robots_share_lifts_without_deadlock(campus: Campus, pin_hash: str) -> None:
    """Ten robots leave one basement dock together (queues at its lift), then three deliveries each
    across the campus: every leg done, lifts empty afterwards, two custody events per task."""
    clock = FakeClock()
    lifts = LiftManager.from_campus(campus, clock=clock)
    rng = random.Random(20261125)
    pharmacy = campus.by_kind(LocationKind.PHARMACY)[0].id
    wards = [w.station for w in campus.wards]
    dock = campus.by_kind(LocationKind.DOCK)[0].id
    robots = [
        RobotDriverCore(DriverConfig(f"R{i}", dock, dwell_s=5.0), campus, lift=lifts, clock=clock, start_at_s=0)
        for i in range(10)
    ]
    for r in robots:
        rid = r.config.robot_id
        stops = [LegStop(StopKind.PICKUP, pharmacy, f"{rid}-T{j}", pin_hash=pin_hash) for j in range(3)]
        stops += [LegStop(StopKind.DROPOFF, ward, f"{rid}-T{j}") for j, ward in enumerate(rng.sample(wards, 3))]
        r.start_leg("L1", stops)

    busiest_queue = 0
    for _ in range(20_000):  # 2 s steps: at most ~11 simulated hours
        clock.tick(2.0)
        for r in robots:
            r.advance(2.0)
            if r.snapshot().phase is Phase.AWAITING_HANDOVER:
                progress = r.progress()
                assert progress is not None
                r.open_drawer("pin", task_id=progress.current_task_id, pin=PIN)
        busiest_queue = max(busiest_queue, *(len(v.queue) for v in lifts.views()))
        if not any(r.busy for r in robots):
            break
    results = [r.result_of("L1") for r in robots]
    assert all(res is not None and res.outcome is LegOutcome.DONE for res in results), results
    assert all(v.riders == () and v.queue == () for v in lifts.views())
    for r in robots:
        events = r.drain_custody()
        assert sorted(e.kind for e in events) == sorted([CustodyKind.LOADED] * 3 + [CustodyKind.DELIVERED] * 3)
        snap = r.snapshot()
        assert snap.on_board == () and snap.battery_pct == pytest.approx(100.0 - 4.0 * snap.odometer_m / 1000.0)
    assert busiest_queue >= 1  # the robots really did wait for each other
    assert sum(s.granted for s in lifts.wait_stats()) >= 20  # down-and-up rides, at least two each
