"""The ROS → web bridge against the real web app (served in this process, not a ROS node): a robot's
state reaches POST /api/v1/fleet/report with the bridge's device token, and the app's ``open_drawer``
over Socket.IO /bridge is answered by the robot's OpenDrawer service."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")

from argon2 import PasswordHasher
from ros_fleet_kit import FleetStack
from werkzeug.serving import make_server

from hospital_ops.config import Settings
from hospital_ops.store import Store
from ops_dashboard import create_app, live

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, object, Store]]:
    store = Store.open(
        f"sqlite:///{tmp_path / 'web.db'}", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    app = create_app(Settings(data_dir=tmp_path, secret_key="k" * 44), store=store, watch=False, testing=True)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", app, store
    finally:
        server.shutdown()
        thread.join(timeout=5)
        store.close()


def test_bridge_reports_fleet_and_answers_drawer_commands(tmp_path: Path, web: tuple[str, object, Store]) -> None:
    """The dashboard learns R1's state without being a ROS node; its open_drawer reaches the robot."""
    url, app, store = web
    token, _ = store.issue_device_token("ros-bridge", "bridge", actor="test")
    commands = {
        "R1": [sys.executable, "-m", "robots.nodes.robot_driver", "--robot-id", "R1", "--start", "T1-B1-DOCK1",
               "--no-lift-manager"],
        "bridge": [sys.executable, "-m", "robots.nodes.bridge", "--url", url, "--report-s", "0.5"],
    }  # fmt: skip
    os.environ["HOSPITAL_OPS_BRIDGE_TOKEN"] = token  # read by the bridge process (FleetStack copies os.environ)
    try:
        stack_cm = FleetStack(tmp_path, robots=0, commands=commands)
    finally:
        del os.environ["HOSPITAL_OPS_BRIDGE_TOKEN"]
    with stack_cm as stack:
        ctx = app.extensions["hospital_ops"]  # type: ignore[attr-defined]
        stack.wait_until(lambda: "R1" in ctx.fleet, "R1 in the dashboard's fleet")
        robot = ctx.fleet["R1"]
        assert robot["mode"] == "idle" and robot["location"] == "T1-B1-DOCK1" and robot["building"] == "T1"
        stack.wait_until(lambda: bool(live._bridge_sids), "the bridge on Socket.IO /bridge")
        with app.app_context():  # type: ignore[attr-defined]
            answer = live.bridge_call(
                "open_drawer",
                {"robot_id": "R1", "task_id": "T9", "end": "dropoff", "method": "pin", "secret": "1234", "actor": "n"},
            )
        assert answer is not None and answer["ok"] is False
        assert answer["outcome"] == "not_found" and "no drawer for this task" in answer["reason"]
