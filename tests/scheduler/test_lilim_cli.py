"""``bench lilim`` command line: help, clear errors on bad input, JSON report on a tiny data set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.lilim.cli import app
from scheduler.lilim.read import truncate_instance_text

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "lilim" / "100"
runner = CliRunner()


def test_help_lists_the_options() -> None:
    """--help exits 0 and documents every option of the issue."""
    res = runner.invoke(app, ["lilim", "--help"])
    assert res.exit_code == 0
    for opt in ("--data", "--instances", "--time-limit", "--json"):
        assert opt in res.output


def test_command_function_mounts_on_another_app() -> None:
    """The plain ``lilim`` function can be registered as a command elsewhere (``hospital-ops bench``)."""
    import typer

    from scheduler.lilim.cli import lilim

    bench = typer.Typer()
    bench.command("lilim")(lilim)
    bench.command("other")(lambda: None)
    res = runner.invoke(bench, ["lilim", "--help"])
    assert res.exit_code == 0
    assert "--time-limit" in res.output


def test_bad_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    """A missing directory gives exit code 2 and a one-line reason, no traceback."""
    res = runner.invoke(app, ["lilim", "--data", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "is not a directory" in res.output
    assert "Traceback" not in res.output
    assert isinstance(res.exception, SystemExit)


def test_directory_without_bks_is_a_clear_error(tmp_path: Path) -> None:
    """Instance files without a bks.csv beside them are refused before any solving."""
    (tmp_path / "a.txt").write_text("1 10 1\n0 0 0 0 0 100 0 0 0\n")
    res = runner.invoke(app, ["lilim", "--data", str(tmp_path)])
    assert res.exit_code == 2
    assert "no bks.csv" in res.output


def test_malformed_instance_is_a_clear_error(tmp_path: Path) -> None:
    """A malformed instance file is named with its line and field."""
    (tmp_path / "a.txt").write_text("1 10 1\n0 0 zero 0 0 100 0 0 0\n")
    (tmp_path / "bks.csv").write_text("instance,vehicles,distance\na,1,1.0\n")
    res = runner.invoke(app, ["lilim", "--data", str(tmp_path)])
    assert res.exit_code == 2
    assert "field y" in res.output
    assert "Traceback" not in res.output


@pytest.mark.skipif(not (DATA / "lc101.txt").is_file(), reason="shared Li & Lim data absent")
def test_unknown_instance_is_a_clear_error() -> None:
    """--instances naming a file that is not there says which one."""
    res = runner.invoke(app, ["lilim", "--instances", "lc101,zz999"])
    assert res.exit_code == 2
    assert "zz999" in res.output
    assert "Traceback" not in res.output


def test_time_limit_must_be_positive() -> None:
    """A non-positive time limit is a usage error."""
    res = runner.invoke(app, ["lilim", "--time-limit", "0"])
    assert res.exit_code == 2
    assert "--time-limit" in res.output


@pytest.mark.skipif(not (DATA / "lc101.txt").is_file(), reason="shared Li & Lim data absent")
def test_runs_both_planners_and_writes_json(tmp_path: Path) -> None:
    """On a two-instance directory the JSON holds both planners' rows, all checker-feasible."""
    data = tmp_path / "mini"
    data.mkdir()
    for name in ("lc101", "lr201"):
        (data / f"{name}.txt").write_text(truncate_instance_text((DATA / f"{name}.txt").read_text(), 5))
    (data / "bks.csv").write_text("instance,vehicles,distance\nlc101,1,100.0\nlr201,1,100.0\n")
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["lilim", "--data", str(data), "--time-limit", "0.3", "--jobs", "1", "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert [r["name"] for r in report["instances"]] == ["lc101", "lr201"]
    assert [r["name"] for r in report["baseline"]] == ["lc101", "lr201"]
    fields = {"name", "vehicles", "distance", "bks_vehicles", "bks_distance", "gap_pct", "seconds", "feasible"}
    for row in report["instances"] + report["baseline"]:
        assert fields <= row.keys()
        assert row["feasible"] is True
    summary = report["summary"]
    assert summary["instances"] == 2 and summary["infeasible"] == 0
    assert summary["time_limit_s"] == 0.3
    assert {"at_bks_vehicles", "total_vehicles", "mean_gap_pct", "median_gap_pct"} <= summary.keys()
    assert "baseline" in summary
