"""Reproducibility, common random numbers, faults and invariants under extreme settings."""

from __future__ import annotations

import math

import pytest

from sim.model import Model
from sim.runner import run_replications
from sim.scenario import Scenario

FRACTIONS = ("robot_utilisation", "robot_idle_fraction", "robot_charging_fraction", "robot_fault_fraction")


def test_same_seed_same_results(tiny: Scenario) -> None:
    """Two runs of the same scenario, seed and replication give identical KPIs and time series."""
    a = Model(tiny, 1).run()
    b = Model(tiny, 1).run()
    assert a.kpis.keys() == b.kpis.keys()
    for k in a.kpis:
        x, y = a.kpis[k], b.kpis[k]
        assert x == y or (math.isnan(x) and math.isnan(y)), k
    assert a.series == b.series
    assert a.perf["events"] == b.perf["events"]


def test_replications_differ(tiny: Scenario) -> None:
    """Different replication numbers draw different random numbers."""
    a = Model(tiny, 0).run()
    b = Model(tiny, 1).run()
    assert a.kpis["requests_per_day"] != b.kpis["requests_per_day"]


def test_common_random_numbers_across_policies(tiny: Scenario) -> None:
    """Both policies face the very same demand and patients in a replication: requests, kiosk waits
    and triage outcomes are equal; only the logistics differ."""
    a = Model(tiny.replace(**{"planner.policy": "ortools"}), 2).run()
    b = Model(tiny.replace(**{"planner.policy": "greedy"}), 2).run()
    for k in (
        "requests_per_day",
        "op_arrivals_per_day",
        "ed_arrivals_per_day",
        "wait_op_kiosk_mean_s",
        "triage_agreement_pct",
    ):
        assert a.kpis[k] == b.kpis[k], k
    assert (a.policy, b.policy) == ("ortools", "greedy")


def test_idle_robots_are_staged_where_stat_pickups_start(tiny: Scenario) -> None:
    """With staging on, idle robots drive to the STAT pickup points (the dispatcher is told where
    they will be); with it off they never move without work. Same demand either way, and no robot
    ever runs its battery flat."""
    on = Model(tiny, 0)
    r_on = on.run()
    r_off = Model(tiny.replace(**{"planner.staging": False}), 0).run()
    assert r_on.kpis["staging_moves_per_day"] > 0 and r_off.kpis["staging_moves_per_day"] == 0
    assert r_on.kpis["requests_per_day"] == r_off.kpis["requests_per_day"]
    assert r_on.kpis["battery_empty_per_day"] == 0 == r_off.kpis["battery_empty_per_day"]
    points = {p for zone in on._staging_points.values() for p in zone}
    assert points and points <= {p for zone in on._stat_pickups.values() for p in zone}
    idle = [x for x in on.robots.values() if x.state == "idle" and not x.commit and x.stage_to is None]
    assert idle and all(on.dispatcher.robots[x.id].location == x.loc for x in idle)


def test_real_triage_engine_and_scheduler_in_the_loop(tiny: Scenario) -> None:
    """Patients are triaged by the product's engine and deliveries planned by the product's dispatcher."""
    from scheduler.dispatcher import Dispatcher
    from triage_kiosk.triage.engine import TriageEngine

    m = Model(tiny, 0)
    r = m.run()
    assert isinstance(m.engine, TriageEngine) and isinstance(m.dispatcher, Dispatcher)
    assert m.counts["triaged"] > 50 and 50 <= r.kpis["triage_agreement_pct"] <= 100
    assert m.rate_policy.calls["full"] > 0 and m.rate_policy.calls["insert"] > 0
    assert r.kpis["deliveries_per_day"] > 0 and r.perf["replans_full"] > 0


def _lift_stress(small: Scenario, outages: list[dict]) -> Scenario:
    return small.replace(
        **{
            "lifts.capacity": 1,
            "fleet.robots": 30,
            "demand.multiplier": 2.0,
            "faults.robot_mtbf_h": None,
            "faults.lift_outages": outages,
            "stages.patients": False,
        }
    )


def test_lift_outage_raises_lift_waits(small: Scenario) -> None:
    """Taking two of a tower's three lifts out for the measured hours raises the robots' lift waits
    (same replications, common random numbers)."""
    out = [{"lift": lift, "start_h": 1.0, "duration_h": 5.0} for lift in ("T1-L1", "T1-L2", "T2-L1", "T2-L2")]
    base = run_replications(_lift_stress(small, []), 2, workers=1)
    down = run_replications(_lift_stress(small, out), 2, workers=1)
    for b, d in zip(base, down, strict=True):
        assert d.kpis["lift_wait_mean_s"] > b.kpis["lift_wait_mean_s"]
        assert d.kpis["queue_lift_mean"] > b.kpis["queue_lift_mean"]


def test_doubling_robots_does_not_lower_throughput(small: Scenario) -> None:
    """With the same demand (common random numbers), twice the robots deliver at least as much."""
    stressed = small.replace(**{"demand.multiplier": 2.5, "stages.patients": False, "horizon_h": 4.0})
    for rep in (0, 1):
        few = Model(stressed.replace(**{"fleet.robots": 8}), rep).run()
        many = Model(stressed.replace(**{"fleet.robots": 16}), rep).run()
        assert few.kpis["requests_per_day"] == many.kpis["requests_per_day"]
        assert many.kpis["deliveries_per_day"] >= few.kpis["deliveries_per_day"]


def _check_invariants(kpis: dict[str, float]) -> None:
    assert kpis["capacity_violations"] == 0  # robots carry within their drawers
    for key, value in kpis.items():
        if math.isnan(value):
            continue
        assert math.isfinite(value), key
        if key in FRACTIONS:
            assert 0.0 <= value <= 1.0 + 1e-9, (key, value)
        if key.endswith("_pct"):
            assert 0.0 <= value <= 100.0 + 1e-9, (key, value)
        if "wait" in key or key.startswith("queue_") or key.startswith("turnaround") or key.endswith("_per_day"):
            assert value >= 0.0, (key, value)


@pytest.mark.parametrize(
    "changes",
    [
        # overload everything: double demand, 4 robots, one kiosk each, one nurse, two bays, robots break often
        {
            "demand.multiplier": 2.0,
            "fleet.robots": 4,
            "kiosks.outpatient": 1,
            "kiosks.emergency": 1,
            "triage.nurses": 1,
            "emergency.bays": 2,
            "clinics.doctors_per_clinic": 1,
            "faults.robot_mtbf_h": 1.0,
            "faults.robot_mttr_h": 2.0,
            "lifts.capacity": 1,
            "warmup_h": 0.25,
            "horizon_h": 1.0,
        },
        # nothing to do
        {"demand.multiplier": 0.0},
        # no robots at all: deliveries pile up, nothing breaks
        {"fleet.robots": 0},
        # tiny batteries: robots charge all the time
        {"fleet.battery.consumption_pct_per_km": 40.0, "fleet.battery.charge_pct_per_h": 5.0},
    ],
    ids=["overload", "no-demand", "no-robots", "flat-batteries"],
)
def test_invariants_under_extreme_settings(tiny: Scenario, changes: dict) -> None:
    """Utilisation and other shares stay in [0, 1], percentages in [0, 100], waits and queues ≥ 0."""
    r = Model(tiny.replace(**changes), 0).run()
    _check_invariants(r.kpis)
    for name, series in r.series.items():
        assert all(v >= -1e-9 for v in series), name


def test_dispatch_zones_keep_each_task_on_its_zones_robots(tiny: Scenario) -> None:
    """With the fleet split into dispatch zones, the demand is the same, every task is carried by a
    robot of its own zone, each robot is in exactly one zone, and its home dock is in its zone."""
    zoned = tiny.replace(**{"planner.robots_per_zone": 5})
    m = Model(zoned, 0)
    r = m.run()
    base = Model(tiny.replace(**{"planner.robots_per_zone": 0}), 0).run()
    assert m.zoning is not None and len(m.zoning.zones) >= 2
    assert r.kpis["requests_per_day"] == base.kpis["requests_per_day"]
    carried = [rec for rec in m.tasks.values() if rec.carrier is not None]
    assert carried and all(rec.carrier_zone == rec.zone for rec in carried)
    for zone in m.zoning.zones:
        assert all(m.robots[rid].home_dock in zone.docks for rid in m.zoned.members(zone.id))
    assert sorted(r for z in m.zoning.ids for r in m.zoned.members(z)) == sorted(m.robots)
    assert r.kpis["capacity_violations"] == 0 and r.kpis["stat_on_time_pct"] > 50
    assert r.zones == {z.id: list(z.buildings) for z in m.zoning.zones}
    for zone in m.zoning.zones:  # per-zone figures add up to the whole
        assert r.kpis[f"zone_{zone.id}_robots"] == len(zone.robots)
    total = sum(r.kpis[f"zone_{z}_requests_per_day"] for z in m.zoning.ids)
    assert total == pytest.approx(r.kpis["requests_per_day"])
    other = Model(zoned, 1)
    other.run()
    assert other.zoning.zones == m.zoning.zones  # zones are the scenario's, not the replication's


def test_zoned_runs_are_identical_across_processes(tiny: Scenario, tmp_path) -> None:
    """Same seed, same results with dispatch zones too, in processes whose string hashing (and so
    set order) differs: nothing in the run depends on set iteration order."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, sys; from sim.model import Model; from sim.scenario import load_scenario;"
        "sc = load_scenario(sys.argv[1]).replace(**{'planner.robots_per_zone': 5});"
        "r = Model(sc, 0).run(); print(json.dumps({k: repr(v) for k, v in sorted(r.kpis.items())}))"
    )
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(tiny.model_dump(mode="json", exclude={"base_dir"})))
    outs = []
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert outs[0] == outs[1]
