"""`make demo`'s command brings the whole hospital up and down by itself: the logins are printed
once the web app answers, the twin's requests are accepted and planned onto ROS robots, and
everything stops cleanly (status 0) when asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")

from ops_dashboard.devserver import free_port, store_url

pytestmark = [pytest.mark.ros, pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]


def test_demo_starts_the_stack_prints_logins_serves_demand_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITAL_OPS_")}
    env.update({"ROS_DOMAIN_ID": str(100 + os.getpid() % 50), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"})
    data = tmp_path / "demo"
    cmd = [sys.executable, "-m", "hospital_ops.cli", "demo", "--robots", "2", "--time-scale", "30"]
    cmd += ["--http-port", str(free_port()), "--data-dir", str(data), "--duration-s", "90"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "hospital-ops demo: http://127.0.0.1:" in out
    for login in ("nurse.t3-15", "manager", "pharmacist", "lab", "admin"):
        assert login in out
    assert "non-zero exits" not in out, out[-3000:]
    logs = next((data / "log").iterdir())
    assert {p.stem for p in logs.glob("*.log")} >= {"lift_manager", "robot_R01", "robot_R02", "fleet_manager"} | {
        "scheduler",
        "bridge",
        "web",
        "twin_live",
    }
    from hospital_ops.store import Store

    with Store.open(store_url(data)) as store:
        tasks = store.list_tasks()
    assert tasks, (logs / "twin_live.log").read_text()[-2000:]
    assert any(t.robot_id for t in tasks), "no request was planned onto a robot"
