"""Launch description and supervisor: parsing with clear errors, expansion per robot, supervised
processes with one log each, no silent restarts, clean stop. (No ROS: the supervised processes
here are tiny Python scripts.)"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hospital_ops.campus import default_campus
from hospital_ops.clock import CampusClock
from robots.launcher import (
    DEFAULT_LAUNCH,
    LaunchError,
    ProcessSpec,
    Supervisor,
    child_env,
    expand,
    load_launch,
    parse_launch,
)

CLOCK = CampusClock(20.0, 1_800_000_000.0)


def raw() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_LAUNCH.read_text())


def test_shipped_description_expands_one_process_per_robot() -> None:
    """The shipped file: lift manager, N robots, fleet manager, scheduler; web/bridge/twin only on request;
    robot starts are campus docks; the clock goes to the nodes that need it."""
    desc = load_launch()
    specs = expand(desc, CLOCK, robots=3)
    names = [s.name for s in specs]
    assert names == ["lift_manager", "robot_R01", "robot_R02", "robot_R03", "fleet_manager", "scheduler"]
    robot = specs[1].argv
    assert robot[1:3] == ("-m", "robots.nodes.robot_driver")
    assert robot[robot.index("--robot-id") + 1] == "R01" and robot[robot.index("--start") + 1] == "T1-B1-DOCK1"
    assert robot[-4:] == ("--time-scale", "20", "--clock-origin", "1800000000.0")
    assert "--time-scale" not in specs[0].argv
    campus = default_campus()
    assert all(s in campus.locations for s in desc.starts)
    more = [s.name for s in expand(desc, CLOCK, robots=0, with_nodes=["web", "twin_live"], without_nodes=["scheduler"])]
    assert more == ["lift_manager", "fleet_manager", "web", "twin_live"]
    web = expand(desc, CLOCK, robots=0, with_nodes=["web"], http_port=9001)[-1]
    assert web.argv[1:] == ("-m", "hospital_ops.cli", "serve", "--port", "9001")
    twin = expand(desc, CLOCK, robots=0, with_nodes=["twin_live"])[-1]
    assert twin.argv[-4:] == ("--speed", "20", "--target", "http://127.0.0.1:8080") and not twin.required


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update(extra=1), r"unknown section\(s\) \['extra'\]"),
        (lambda d: d["clock"].update(time_scale=0), "clock.time_scale"),
        (lambda d: d["fleet"].update(robots=-1), "fleet.robots"),
        (lambda d: d["fleet"].update(starts=[]), "fleet.starts"),
        (lambda d: d["nodes"][0].update(kind="docker"), r"nodes\[lift_manager\].kind"),
        (lambda d: d["nodes"][0].update(colour="red"), r"nodes\[0\]: unknown key"),
        (lambda d: d["nodes"][1].update(name="lift_manager"), "duplicate node name"),
        (lambda d: d["nodes"][0].pop("module"), r"nodes\[lift_manager\].module"),
        (lambda d: d["nodes"][0].update(enabled="yes"), r"nodes\[lift_manager\].enabled"),
    ],
)
def test_bad_descriptions_name_the_field(change: Any, match: str) -> None:
    """A misspelt or wrong entry is refused with the field named (not ignored)."""
    data = raw()
    change(data)
    with pytest.raises(LaunchError, match=match):
        parse_launch(data)


def test_unknown_node_and_placeholder() -> None:
    """--with of an unknown node, or an unknown {placeholder}, is a LaunchError."""
    desc = load_launch()
    with pytest.raises(LaunchError, match="unknown node 'nope'"):
        expand(desc, CLOCK, with_nodes=["nope"])
    data = raw()
    data["nodes"][0]["args"] = {"x": "{nope}"}
    with pytest.raises(LaunchError, match="unknown placeholder 'nope'"):
        expand(parse_launch(data), CLOCK)


def script(tmp_path: Path, name: str, body: str) -> tuple[str, ...]:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return (sys.executable, str(path))


SLEEPER = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *a: (print("clean stop", flush=True), sys.exit(0)))
print("up", flush=True)
while True:
    time.sleep(0.1)
"""


def wait_for(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_supervisor_logs_reports_and_stops(tmp_path: Path) -> None:
    """One log per process; an optional process that exits is reported once, not restarted; a required
    one ends the watch with status 1; stop() sends SIGINT and every process exits cleanly."""
    said: list[str] = []
    specs = [
        ProcessSpec("a", script(tmp_path, "a", SLEEPER)),
        ProcessSpec("b", script(tmp_path, "b", "print('bye')"), required=False),
        ProcessSpec("c", script(tmp_path, "c", SLEEPER)),
    ]
    sup = Supervisor(specs, tmp_path / "logs", child_env(CLOCK), say=said.append)
    with sup:
        wait_for(lambda: "up" in (tmp_path / "logs" / "c.log").read_text().splitlines())
        wait_for(lambda: sup.running["b"].proc.poll() is not None)
        assert sup.check() and sup.check()
        assert len(said) == 1 and said[0].startswith("node b exited with status 0 (not restarted)")
        assert sup.wait(poll_s=0.05, until=lambda: True) == 0
        sup.running["c"].proc.kill()
        assert sup.wait(poll_s=0.05) == 1 and sup.failed == ["c"]
    assert sup.running["a"].proc.returncode == 0
    assert "clean stop" in (tmp_path / "logs" / "a.log").read_text()
    assert len(sup.running) == 3  # nothing was restarted
    env = child_env(CLOCK, {"PATH": "/bin"})
    assert env["HOSPITAL_OPS_TIME_SCALE"] == "20.0" and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"


def test_supervisor_kills_a_node_that_ignores_sigint(tmp_path: Path) -> None:
    """A node that does not stop on SIGINT is killed after the timeout (and said so)."""
    stubborn = (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)"
    )
    said: list[str] = []
    sup = Supervisor(
        [ProcessSpec("s", script(tmp_path, "s", stubborn))],
        tmp_path,
        child_env(CLOCK),
        stop_timeout_s=1,
        say=said.append,
    )
    with sup:
        wait_for(lambda: "up" in (tmp_path / "s.log").read_text().splitlines())
    assert sup.running["s"].proc.returncode == -9 and "did not stop" in said[0]


def test_up_print_and_bad_options() -> None:
    """`hospital-ops up --print` lists the commands; a bad --with is a clear error (exit 2)."""
    import typer

    from robots.fleet_cli import up

    app = typer.Typer()
    app.command()(up)
    runner = CliRunner()
    res = runner.invoke(app, ["--print", "--robots", "2", "--time-scale", "10", "--with", "web"])
    assert res.exit_code == 0, res.output
    assert "robot_R02:" in res.output and "web:" in res.output and "--time-scale 10" in res.output
    res = runner.invoke(app, ["--print", "--with", "nope"])
    assert res.exit_code == 2 and "unknown node 'nope'" in res.output
