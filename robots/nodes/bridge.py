"""ROS 2 → web bridge: fleet state to the dashboard, drawer commands from it; the web app stays a
plain Flask/Socket.IO app (no ROS inside it).

::

    HOSPITAL_OPS_BRIDGE_TOKEN=... python -m robots.nodes.bridge --url http://127.0.0.1:8080 [--report-s 1]

- Every ``--report-s`` it POSTs the robots' latest states and the lifts to
  ``/api/v1/fleet/report`` with the device token (kind ``bridge``; ``hospital-ops users token``).
- It connects to the web app's Socket.IO namespace ``/bridge`` with the same token and answers
  ``open_drawer`` by calling the robot's OpenDrawer service (PIN or badge), acknowledging
  ``{"ok": ..., "reason": ...}`` within the app's 5 s.

The mapping is plain code in robots.bridge_core; this shell only does ROS, HTTP and Socket.IO.
Robots declared lost by the fleet manager are reported with mode ``lost``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import rclpy
import requests
import socketio
from hospital_ops_interfaces.msg import Alert as AlertMsg
from hospital_ops_interfaces.msg import LiftState, RobotState
from hospital_ops_interfaces.srv import OpenDrawer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.client import Client
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from robots.alerts import AlertCode, Severity
from robots.bridge_core import DrawerCommand, drawer_answer, drawer_command, lift_report, robot_report
from robots.driver_core import OpenOutcome
from robots.lifts import LiftView
from robots.nodes import convert
from robots.nodes.spin import spin_node

TOKEN_ENV = "HOSPITAL_OPS_BRIDGE_TOKEN"
#: Answer the web app before its own 5 s timeout.
DRAWER_TIMEOUT_S = 4.0


class BridgeNode(Node):
    def __init__(self, url: str, token: str, *, report_s: float = 1.0, http_timeout_s: float = 3.0) -> None:
        super().__init__("bridge")
        self._url = url.rstrip("/")
        self._token = token
        self._http_timeout_s = http_timeout_s
        self._lock = threading.Lock()
        self._robots: dict[str, dict[str, Any]] = {}
        self._lifts: dict[str, dict[str, Any]] = {}
        self._lost: set[str] = set()
        self._drawer_clients: dict[str, Client[OpenDrawer.Request, OpenDrawer.Response]] = {}
        self._group = ReentrantCallbackGroup()
        self._closing = threading.Event()
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self.reports_ok = 0
        self.create_subscription(RobotState, convert.ROBOT_STATE_TOPIC, self._on_state, convert.STATE_SUB_QOS)
        self.create_subscription(LiftState, convert.LIFT_STATE_TOPIC, self._on_lift, convert.LIFT_STATE_QOS)
        self.create_subscription(AlertMsg, convert.ALERTS_TOPIC, self._on_alert, convert.EVENTS_QOS)
        self.create_timer(report_s, self._report, callback_group=self._group)
        self.sio = socketio.Client(reconnection=True, reconnection_delay=1, reconnection_delay_max=10)
        self.sio.on("open_drawer", self._on_open_drawer, namespace="/bridge")
        self.get_logger().info(f"bridge to {self._url} (report every {report_s:g} s)")

    # ---- Socket.IO ------------------------------------------------------------------------------
    def connect(self, retry_s: float = 3.0) -> None:
        """Connect to /bridge in the background, retrying until it works or the node closes; the
        fleet report works without it. (Long-polling unless websocket-client is installed.)"""

        def run() -> None:
            warned = False
            while not self._closing.is_set() and not self.sio.connected:
                try:
                    self.sio.connect(self._url, namespaces=["/bridge"], auth={"token": self._token}, wait_timeout=5)
                    self.get_logger().info("connected to Socket.IO /bridge: drawer commands enabled")
                    return
                except socketio.exceptions.ConnectionError as exc:
                    if not warned:
                        self.get_logger().warning(f"Socket.IO /bridge not connected yet ({exc}); retrying")
                        warned = True
                self._closing.wait(retry_s)

        threading.Thread(target=run, daemon=True).start()

    def close(self) -> None:
        self._closing.set()
        if self.sio.connected:
            self.sio.disconnect()
        self._http.close()

    def _on_open_drawer(self, data: Any) -> dict[str, Any]:
        try:
            cmd = drawer_command(data)
        except ValueError as exc:
            return {"ok": False, "reason": str(exc)}
        return self.open_drawer(cmd)

    def open_drawer(self, cmd: DrawerCommand) -> dict[str, Any]:
        client = self._drawer_clients.get(cmd.robot_id)
        if client is None:
            client = self.create_client(
                OpenDrawer, convert.open_drawer_service(cmd.robot_id), callback_group=self._group
            )
            self._drawer_clients[cmd.robot_id] = client
        if not client.wait_for_service(timeout_sec=1.0):
            return {"ok": False, "reason": f"robot {cmd.robot_id} is not reachable"}
        req = OpenDrawer.Request(
            robot_id=cmd.robot_id, task_id=cmd.task_id, drawer=-1, method=cmd.method, pin=cmd.pin,
            badge_id=cmd.badge, actor=cmd.actor,
        )  # fmt: skip
        done = threading.Event()
        future = client.call_async(req)
        future.add_done_callback(lambda _f: done.set())
        r = future.result() if done.wait(DRAWER_TIMEOUT_S) else None
        if r is None:
            client.remove_pending_request(future)
            return {"ok": False, "reason": f"robot {cmd.robot_id} did not answer in time"}
        return drawer_answer(OpenOutcome(r.result), r.custody_kind, int(r.drawer), int(r.attempts_left), r.message)

    # ---- ROS ------------------------------------------------------------------------------------
    def _on_state(self, msg: RobotState) -> None:
        try:
            snap = convert.snapshot_from_msg(msg)
        except ValueError:
            return
        with self._lock:
            self._lost.discard(snap.robot_id)
            self._robots[snap.robot_id] = robot_report(snap)

    def _on_lift(self, msg: LiftState) -> None:
        view = LiftView(
            msg.lift_id, msg.building, msg.in_service, msg.reason, int(msg.capacity), tuple(msg.floors),
            tuple(msg.riders), tuple(msg.queue),
        )  # fmt: skip
        with self._lock:
            self._lifts[msg.lift_id] = lift_report(view)

    def _on_alert(self, msg: AlertMsg) -> None:
        if msg.code == AlertCode.ROBOT_LOST.value and not msg.task_id and msg.severity == int(Severity.CRITICAL):
            with self._lock:
                self._lost.add(msg.robot_id)
                if msg.robot_id in self._robots:
                    self._robots[msg.robot_id] = {**self._robots[msg.robot_id], "mode": "lost"}

    def report_body(self) -> dict[str, Any]:
        with self._lock:
            return {"robots": list(self._robots.values()), "lifts": list(self._lifts.values())}

    def _report(self) -> None:
        body = self.report_body()
        if not body["robots"] and not body["lifts"]:
            return
        try:
            r = self._http.post(f"{self._url}/api/v1/fleet/report", json=body, timeout=self._http_timeout_s)
        except requests.RequestException as exc:
            self.get_logger().warning(f"fleet report not delivered: {exc}", throttle_duration_sec=30.0)
            return
        if r.status_code != 202:
            self.get_logger().warning(
                f"fleet report refused: {r.status_code} {r.text[:200]}", throttle_duration_sec=30.0
            )
            return
        self.reports_ok += 1


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m robots.nodes.bridge", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8080", help="base URL of the web app")
    p.add_argument("--report-s", type=float, default=1.0, help="fleet report period, s")
    p.add_argument("--no-socketio", action="store_true", help="only report; do not take drawer commands")
    args = p.parse_args(list(argv))
    if args.report_s <= 0:
        p.error("--report-s: must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(
            f"bridge: error: {TOKEN_ENV}: set it to a device token of kind bridge "
            "(hospital-ops users token ros-bridge bridge)",
            file=sys.stderr,
        )
        return 2
    return spin_node(
        argv,
        lambda: BridgeNode(args.url, token, report_s=args.report_s),
        lambda: MultiThreadedExecutor(num_threads=3),
        started=(lambda n: n.connect()) if not args.no_socketio else None,
        stopping=lambda n: n.close(),
    )


if __name__ == "__main__":
    sys.exit(main())
