"""`hospital-ops up` for real: the stack from launch/hospital.yaml in separate processes, one log per
node; Ctrl-C (SIGINT) and SIGTERM stop every node cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")

from ros_fleet_kit import ROOT

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]

MARKERS = {
    "lift_manager": "managing",
    "robot_R01": "robot R01 at",
    "fleet_manager": "fleet manager:",
    "scheduler": "scheduler started",
}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_starts_the_stack_and_stops_it_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    """Every node runs in its own process with its own log; the signal stops them all with status 0."""
    env = {
        **os.environ,
        "ROS_DOMAIN_ID": str(1 + (os.getpid() * 3 + sig) % 101),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "HOSPITAL_OPS_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}",
    }
    logs = tmp_path / "logs"
    cmd = [
        sys.executable,
        "-m",
        "hospital_ops.cli",
        "up",
        "--robots",
        "1",
        "--time-scale",
        "10",
        "--log-dir",
        str(logs),
    ]
    with (tmp_path / "up.out").open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            texts = {n: (logs / f"{n}.log").read_text() if (logs / f"{n}.log").exists() else "" for n in MARKERS}
            if all(m in texts[n] for n, m in MARKERS.items()):
                break
            assert proc.poll() is None, (tmp_path / "up.out").read_text()
            time.sleep(0.2)
        else:
            pytest.fail(f"stack not up:\n{(tmp_path / 'up.out').read_text()}\n{texts}")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 4
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0, (tmp_path / "up.out").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
    output = (tmp_path / "up.out").read_text()
    assert "stopped 4 processes" in output and "non-zero" not in output
    assert sorted(p.name for p in logs.glob("*.log")) == sorted(f"{n}.log" for n in MARKERS)
    assert not any("Traceback" in p.read_text() for p in logs.glob("*.log"))
