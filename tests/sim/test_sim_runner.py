"""Replications in parallel (processes, Dask), confidence intervals, paired comparison, capacity sweep."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from sim.report import write_capacity_report
from sim.runner import capacity_sweep, estimate, paired_differences, parse_range, run_replications, summarise
from sim.scenario import Scenario


def test_estimate_is_a_student_t_interval() -> None:
    """The CI is mean ± t(0.975, n−1)·s/√n; NaNs are ignored; one value has no interval."""
    x = [3.0, 5.0, 4.0, 6.0, float("nan")]
    e = estimate(x)
    arr = np.array(x[:4])
    half = stats.t.ppf(0.975, 3) * arr.std(ddof=1) / 2
    assert e.n == 4 and e.mean == pytest.approx(4.5)
    assert (e.ci95_low, e.ci95_high) == pytest.approx((4.5 - half, 4.5 + half))
    one = estimate([2.0])
    assert one.mean == 2.0 and one.ci95_low is None and one.as_json()["ci95_high"] is None
    assert math.isnan(estimate([]).mean)


def test_parallel_runs_equal_serial_runs(tiny: Scenario) -> None:
    """Replications give the same numbers in a process pool as in this process."""
    serial = run_replications(tiny, 2, workers=1)
    pooled = run_replications(tiny, 2, workers=2)
    assert [r.replication for r in pooled] == [0, 1]
    for a, b in zip(serial, pooled, strict=True):
        assert a.series == b.series
        assert a.kpis["deliveries_per_day"] == b.kpis["deliveries_per_day"]


def test_dask_local_cluster_runs_replications(tiny: Scenario, tmp_path: Path) -> None:
    """With a Dask cluster (a distributed.LocalCluster here) the replications match the local ones,
    through the runner and through `sim run --dask ADDRESS`, with the progress bar advancing per
    replication."""
    import json

    from distributed import LocalCluster
    from typer.testing import CliRunner

    from sim.cli import app

    scenario_file = tmp_path / "tiny.yaml"
    scenario_file.write_text(yaml.safe_dump(tiny.model_dump(mode="json", exclude={"base_dir"})), encoding="utf-8")
    done: list[int] = []
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster:
        remote = run_replications(
            tiny, 2, dask=cluster.scheduler_address, progress=lambda r: done.append(r.replication)
        )
        out = tmp_path / "rep"
        args = ["run", "-s", str(scenario_file), "-n", "2", "--dask", cluster.scheduler_address, "--report", str(out)]
        res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert sorted(done) == [0, 1]
    local = run_replications(tiny, 2, workers=1)
    assert [r.replication for r in remote] == [0, 1]
    for a, b in zip(local, remote, strict=True):
        assert a.kpis["requests_per_day"] == b.kpis["requests_per_day"]
        assert a.series["backlog_tasks"] == b.series["backlog_tasks"]
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    expected = summarise(local)
    assert data["replications"] == 2
    for key in ("requests_per_day", "deliveries_per_day", "stat_on_time_pct"):
        assert data["kpis"][key]["mean"] == pytest.approx(expected[key].mean)


def test_paired_differences_of_a_policy_with_itself_are_zero(tiny: Scenario) -> None:
    """Common random numbers: the same policy on the same replications differs by exactly 0."""
    a = run_replications(tiny, 2, workers=1)
    d = paired_differences(a, a)
    assert d["deliveries_per_day"].mean == 0.0 and d["deliveries_per_day"].ci95_low == 0.0
    s = summarise(a)
    assert s["deliveries_per_day"].n == 2


def test_capacity_sweep_finds_unstable_corner(tiny: Scenario, tmp_path: Path) -> None:
    """A 2×2 sweep: many robots at low demand are stable; two robots at high demand are not; the
    heatmap and table are written."""
    sc = tiny.replace(**{"stages.patients": False, "horizon_h": 1.0})
    cells = capacity_sweep(sc, [0.5, 3.0], [2, 20], 1, workers=2)
    by = {(c.demand, c.robots): c for c in cells}
    assert by[(0.5, 20)].stable
    assert not by[(3.0, 2)].stable
    assert by[(3.0, 2)].utilisation.mean > by[(0.5, 20)].utilisation.mean
    data = write_capacity_report(tmp_path, sc, cells, 1, 95.0)
    assert (tmp_path / "capacity.png").stat().st_size > 1000 and (tmp_path / "capacity.html").exists()
    assert len(data["cells"]) == 4 and {c["stable"] for c in data["cells"]} == {True, False}


def test_parse_range() -> None:
    """LOW:HIGH gives evenly spaced values, LOW:HIGH:STEP a step, lists pass; bad text is refused."""
    assert parse_range("0.5:3.0", integer=False, steps=6, name="demand") == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert parse_range("20:120:50", integer=True, steps=6, name="robots") == [20, 70, 120]
    assert parse_range("10,40", integer=True, steps=6, name="robots") == [10, 40]
    with pytest.raises(ValueError, match="--robots"):
        parse_range("a:b", integer=True, steps=3, name="robots")
    with pytest.raises(ValueError, match="at least one robot"):
        parse_range("0:2", integer=True, steps=3, name="robots")
