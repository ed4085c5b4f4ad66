"""The dispatch benchmark command, the service metrics and the charge report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hospital_ops.domain import DeliveryTask, Priority, Robot
from scheduler import MatrixTravel, Problem, charge_report, delivery_metrics, plan_greedy, plan_metrics
from scheduler.cli import app

NOW = 1_000_000


def _task(tid: str, priority: Priority, deadline: int) -> DeliveryTask:
    return DeliveryTask(id=tid, pickup="A", dropoff="B", priority=priority, earliest_s=NOW, deadline_s=NOW + deadline)


def test_dispatch_benchmark_runs_small_and_writes_json(tmp_path: Path) -> None:
    """`dispatch` prints the comparison table and writes the JSON result with every section."""
    out = tmp_path / "sub" / "dispatch.json"
    result = CliRunner().invoke(
        app,
        [
            "dispatch",
            "--tasks",
            "12",
            "--robots",
            "4",
            "--instances",
            "1",
            "--stat-trials",
            "2",
            "--time-limit",
            "0.2",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "STAT on time" in result.output and "greedy" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) >= {"insert_stat_ms", "replan_s", "quality", "checker", "config", "machine"}
    assert data["checker"]["violations"] == []
    assert data["insert_stat_ms"]["n"] == 2
    assert set(data["quality"]) == {"ortools", "ortools_warm", "greedy"}


def test_dispatch_benchmark_refuses_bad_options() -> None:
    """A bad option is a one-line error naming it (exit 2), not a traceback."""
    result = CliRunner().invoke(app, ["dispatch", "--tasks", "0"])
    assert result.exit_code == 2
    assert "tasks: must be at least 1" in result.output


def test_delivery_metrics_count_stat_on_time_lateness_and_km() -> None:
    """STAT on time counts undelivered STAT as late; lateness sums delivered tasks only."""
    tasks = [
        _task("S1", Priority.STAT, 900),
        _task("S2", Priority.STAT, 900),
        _task("S3", Priority.STAT, 900),
        _task("R", Priority.ROUTINE, 3600),
    ]
    m = delivery_metrics(tasks, {"S1": NOW + 800, "S2": NOW + 1000, "R": NOW + 3700}, robot_metres=12_345)
    assert (m.stat_tasks, m.stat_on_time) == (3, 1)
    assert m.stat_on_time_pct == 33.33
    assert m.total_lateness_s == 100 + 100
    assert m.lateness_by_priority_s == {"stat": 100, "urgent": 0, "routine": 100}
    assert m.not_delivered == 1 and m.robot_km == 12.345 and m.on_time_pct == 25.0
    assert delivery_metrics([], {}, 0).stat_on_time_pct == 100.0


def test_plan_metrics_and_charge_report() -> None:
    """Plan metrics read ETAs and route distances; the charge report names low robots and why."""
    travel = MatrixTravel.grid({"A": (0, 0), "B": (0, 500), "DOCK": (10, 0)})
    robots = (
        Robot(id="OK", location="A", available_s=NOW),
        Robot(id="LOW", location="A", available_s=NOW, battery_pct=12.0),
        Robot(id="TIRED", location="B", available_s=NOW, battery_pct=31.0, consumption_pct_per_km=10.0),
    )
    p = Problem((_task("T", Priority.URGENT, 2700),), robots, NOW, travel, docks=("DOCK",))
    result = plan_greedy(p)
    m = plan_metrics(p, result)
    assert m.delivered == 1 and m.robot_km == sum(r.distance_m for r in result.routes) / 1000
    report = charge_report(p, result)
    assert "below its battery reserve" in report["LOW"]
    assert "OK" not in report
