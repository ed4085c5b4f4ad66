"""Simulated ward and pharmacy staff for demos and benchmarks: open a robot's drawer with the task's
PIN whenever it waits for a hand-over (as the nurse or pharmacist at the stop would).

Not part of a production stack (real staff type their PIN on the robot); used by
``hospital-ops fleet demo``. Runs as a node in the caller's process on its own context and executor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import rclpy
from hospital_ops_interfaces.msg import RobotState
from hospital_ops_interfaces.srv import OpenDrawer
from rclpy.client import Client
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from robots.nodes import convert


class StaffNode(Node):
    """Opens drawers with ``pins[task_id]`` (or ``default_pin``); one attempt per stop at a time."""

    def __init__(self, pins: Mapping[str, str], *, default_pin: str = "", context: Context | None = None) -> None:
        super().__init__("staff", context=context)
        self.pins = pins
        self.default_pin = default_pin
        self.states: dict[str, RobotState] = {}
        self.opened = 0
        self._lock = threading.Lock()
        self._busy: set[tuple[str, str, bool]] = set()
        self._done: set[tuple[str, str, bool]] = set()
        self._drawers: dict[str, Client[OpenDrawer.Request, OpenDrawer.Response]] = {}
        self.create_subscription(RobotState, convert.ROBOT_STATE_TOPIC, self._on_state, convert.STATE_SUB_QOS)

    def _on_state(self, msg: RobotState) -> None:
        self.states[msg.robot_id] = msg
        task = msg.current_task_id
        if msg.phase != "awaiting_handover" or not task:
            return
        pin = self.pins.get(task, self.default_pin)
        if not pin:
            return
        key = (msg.robot_id, task, any(d.task_id == task and d.loaded for d in msg.drawers))
        with self._lock:
            if key in self._busy or key in self._done:
                return
            self._busy.add(key)
        client = self._drawers.get(msg.robot_id)
        if client is None:
            client = self._drawers[msg.robot_id] = self.create_client(
                OpenDrawer, convert.open_drawer_service(msg.robot_id)
            )
        req = OpenDrawer.Request(robot_id=msg.robot_id, task_id=task, drawer=-1, method="pin", pin=pin, actor="staff")
        client.call_async(req).add_done_callback(lambda f: self._answered(key, f.result()))

    def _answered(self, key: tuple[str, str, bool], resp: OpenDrawer.Response | None) -> None:
        with self._lock:
            self._busy.discard(key)
            if resp is not None and resp.result == OpenDrawer.Response.RESULT_OPENED:
                self._done.add(key)
                self.opened += 1


class InProcessNode:
    """A node spinning in a background thread on a context of its own (``with`` block)."""

    def __init__(self, make: Callable[[Context], Node], domain_id: int | None = None) -> None:
        self._make = make
        self._domain_id = domain_id
        self.node: Node | None = None

    def __enter__(self) -> Node:
        self._ctx = Context()
        if self._domain_id is None:
            rclpy.init(context=self._ctx)
        else:
            rclpy.init(context=self._ctx, domain_id=self._domain_id)
        self.node = self._make(self._ctx)
        self._executor = MultiThreadedExecutor(num_threads=2, context=self._ctx)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()
        return self.node

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(timeout_sec=5)
        if self.node is not None:
            self.node.destroy_node()
        rclpy.try_shutdown(context=self._ctx)
        self._thread.join(timeout=5)
