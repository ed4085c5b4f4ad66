"""`hospital-ops` CLI: golden output of `campus show`, routes, version and help at every level.

Regenerate the golden file after an intended change with `UPDATE_GOLDEN=1 pytest tests/core/test_cli.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hospital_ops.cli import app

GOLDEN = Path(__file__).parent / "golden"
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}


def _run(*args: str):
    return CliRunner().invoke(app, list(args), env=ENV)


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} missing: run with UPDATE_GOLDEN=1 once"
    assert text == path.read_text(encoding="utf-8")


def test_campus_show_matches_golden_output() -> None:
    result = _run("campus", "show")
    assert result.exit_code == 0, result.output
    _check_golden("campus_show.txt", result.output)


def test_campus_show_names_the_5037_beds_and_every_tower() -> None:
    out = _run("campus", "show").output
    assert "5,037" in out
    for tower in ("T1", "T2", "T3", "T4", "T5", "T6", "T7"):
        assert f"{tower} Inpatient" in out


def test_campus_route_lists_lifts_and_seconds() -> None:
    result = _run("campus", "route", "MT-01-PHARMACY", "T3-15-NS")
    assert result.exit_code == 0, result.output
    assert "lift" in result.output.lower()
    assert "s" in result.output


def test_campus_route_to_an_unknown_point_is_a_clear_error_not_a_traceback() -> None:
    result = _run("campus", "route", "MT-01-PHARMACY", "NOWHERE")
    assert result.exit_code != 0
    assert "NOWHERE" in result.output
    assert "Traceback" not in result.output


def test_bad_campus_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("buildings: [", encoding="utf-8")
    result = _run("campus", "show", "--campus", str(bad))
    assert result.exit_code == 2
    assert "bad.yaml" in result.output


def test_version() -> None:
    result = _run("--version")
    assert result.exit_code == 0
    assert result.output.startswith("hospital-ops ")


@pytest.mark.parametrize(
    "path",
    [
        (),
        ("campus",),
        ("campus", "show"),
        ("campus", "route"),
        ("db",),
        ("db", "upgrade"),
        ("triage",),
        ("sim",),
        ("robots",),
    ],
)
def test_help_at_every_level(path: tuple[str, ...]) -> None:
    result = _run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOSPITAL_OPS_TIMEZONE": "Mars/Base"}, "HOSPITAL_OPS_TIMEZONE: unknown time zone 'Mars/Base'"),
        ({"HOSPITAL_OPS_TIME_SCALE": "-3"}, "HOSPITAL_OPS_TIME_SCALE: must be positive"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    """`hospital-ops serve` with a bad HOSPITAL_OPS_* setting exits 2 with one line naming the
    setting and the reason, never a traceback."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "from hospital_ops.cli import main; main()", "serve", "--port", "1"],
        env={**os.environ, **ENV, **env, "HOSPITAL_OPS_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
