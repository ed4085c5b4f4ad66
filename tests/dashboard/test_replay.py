"""The twin-run export the dashboard replays (sim/replay_export.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sim.model import RunResult
from sim.replay_export import FORMAT, main, replay_json
from sim.scenario import load_scenario, scenario_path


def _result(rep: int, backlog: list[float]) -> RunResult:
    return RunResult(
        "small", rep, "greedy", {"stat_on_time_pct": 90.0 + rep}, {"backlog_tasks": backlog}, {}, {"wall_s": 1.0}
    )


def test_series_are_hourly_means_across_replications() -> None:
    """Each series is the mean across replications hour by hour (cut to the shortest), NaN
    becomes null, and the KPIs carry their mean and interval."""
    sc = load_scenario(scenario_path("small"))
    data = replay_json(sc, [_result(0, [1.0, 3.0, math.nan]), _result(1, [3.0, 5.0, 1.0, 9.0])])
    assert data["format"] == FORMAT and data["step_s"] == 3600
    assert data["series"]["backlog_tasks"] == [2.0, 4.0, None]
    assert data["kpis"]["stat_on_time_pct"]["mean"] == pytest.approx(90.5)
    assert data["start_h"] == (sc.start_offset_s + sc.warmup_s) / 3600
    json.dumps(data, allow_nan=False)


def test_export_refuses_an_empty_run() -> None:
    """No replications, no replay: a clear error."""
    with pytest.raises(ValueError, match="results: need at least one replication"):
        replay_json(load_scenario(scenario_path("small")), [])


@pytest.mark.slow
def test_command_line_writes_a_replay_of_the_small_scenario(tmp_path: Path) -> None:
    """`python -m sim.replay_export --scenario small` writes a replay with the robot and queue
    series the dashboard plays (one value per simulated hour)."""
    out = tmp_path / "replay.json"
    assert main(["--scenario", "small", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    for name in ("backlog_tasks", "robots_busy", "queue_lift"):
        assert len(data["series"][name]) >= 1, name
    assert data["kpis"]["deliveries_per_day"]["mean"] > 0


def test_command_line_names_a_bad_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown scenario exits 2 with the reason, not a traceback."""
    assert main(["--scenario", "no-such-scenario"]) == 2
    assert "error:" in capsys.readouterr().err
