"""Real ROS 2 processes: a robot driver and the lift manager, driven from the test over DDS.

Each run uses its own ROS_DOMAIN_ID with discovery limited to localhost; the child processes are
stopped (SIGINT, then SIGKILL) whatever happens. Waits have generous timeouts; nothing asserts a
wall-clock duration.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")

import rclpy
from action_msgs.msg import GoalStatus
from hospital_ops_interfaces.action import ExecuteLeg
from hospital_ops_interfaces.msg import Alert, CustodyEvent, LiftState, RobotState, Stop
from hospital_ops_interfaces.srv import OpenDrawer, RequestLift, SetLiftInService
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future

from robots.credentials import hash_pin
from robots.lifts import LiftCall, LiftOp, LiftStatus
from robots.nodes import convert

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "R1"
PHARMACY = "MT-01-PHARMACY"  # central pharmacy, main building floor 1
WARD = "T3-14-NS"  # a nurse station on floor 14 of tower 3
PIN = "4321"
WAIT_S = 30.0


@dataclass
class Stack:
    procs: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]

    def tail(self) -> str:
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            out.append(f"--- {name} ---\n" + "\n".join(text.splitlines()[-15:]))
        return "\n".join(out)


@dataclass
class Client:
    node: Node
    states: list[RobotState] = field(default_factory=list)
    custody: list[CustodyEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    lifts: list[LiftState] = field(default_factory=list)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the test process dies (even by SIGKILL)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG; kept across exec


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def domain_id() -> Iterator[int]:
    """A domain of our own, and discovery on localhost only, for the children and for us."""
    domain = 1 + os.getpid() % 100
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROS_DOMAIN_ID", str(domain))
        mp.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        mp.delenv("ROS_STATIC_PEERS", raising=False)
        yield domain


def _start(name: str, cmd: list[str], logs_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = logs_dir / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    return proc, log


@contextlib.contextmanager
def running(commands: dict[str, list[str]], logs_dir: Path) -> Iterator[Stack]:
    """Start the node processes; always stop them (SIGINT, then SIGKILL) on the way out."""
    stack = Stack({}, {})
    try:
        for name, cmd in commands.items():
            stack.procs[name], stack.logs[name] = _start(name, cmd, logs_dir)
        yield stack
    finally:
        for proc in stack.procs.values():
            _stop(proc)


LIFT_MANAGER = [sys.executable, "-m", "robots.nodes.lift_manager"]


def robot_driver(robot_id: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "robots.nodes.robot_driver", "--robot-id", robot_id, "--start", PHARMACY, *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def stack(domain_id: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    commands = {
        "lift_manager": LIFT_MANAGER,
        "robot_driver": robot_driver(
            ROBOT, "--time-scale", "200", "--handover-timeout-s", "1000000", "--dwell-s", "5",
            "--state-hz", "5", "--feedback-hz", "20",
        ),
    }  # fmt: skip
    with running(commands, tmp_path_factory.mktemp("ros_nodes")) as s:
        yield s


@pytest.fixture(scope="module")
def client(stack: Stack, domain_id: int) -> Iterator[Client]:
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = Node("test_client", context=ctx)
    c = Client(node)
    node.create_subscription(RobotState, convert.ROBOT_STATE_TOPIC, c.states.append, convert.STATE_QOS)
    node.create_subscription(CustodyEvent, convert.CUSTODY_TOPIC, c.custody.append, convert.EVENTS_QOS)
    node.create_subscription(Alert, convert.ALERTS_TOPIC, c.alerts.append, convert.EVENTS_QOS)
    node.create_subscription(LiftState, convert.LIFT_STATE_TOPIC, c.lifts.append, convert.LIFT_STATE_QOS)
    executor = MultiThreadedExecutor(num_threads=3, context=ctx)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield c
    finally:
        executor.shutdown(timeout_sec=5)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        thread.join(timeout=5)


def wait_until(pred: Callable[[], bool], what: str, stack: Stack, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode} while waiting for {what}\n{stack.tail()}")
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}\n{stack.tail()}")


def result_of(fut: Future, what: str, stack: Stack, timeout: float = WAIT_S) -> Any:
    wait_until(fut.done, what, stack, timeout)
    return fut.result()


@pytest.fixture(scope="module")
def ready(client: Client, stack: Stack) -> tuple[ActionClient, Any]:
    """The action server, the drawer service and the lift manager are all discovered."""
    action = ActionClient(client.node, ExecuteLeg, convert.execute_leg_action(ROBOT))
    drawer = client.node.create_client(OpenDrawer, convert.open_drawer_service(ROBOT))
    wait_until(action.server_is_ready, "the ExecuteLeg server", stack)
    wait_until(drawer.service_is_ready, "the OpenDrawer service", stack)
    wait_until(lambda: bool(client.lifts), "LiftState from the lift manager", stack)
    wait_until(lambda: any(s.robot_id == ROBOT for s in client.states), "RobotState", stack)
    return action, drawer


def open_drawer(drawer: Any, stack: Stack, task: str, pin: str) -> OpenDrawer.Response:
    req = OpenDrawer.Request(robot_id=ROBOT, task_id=task, drawer=-1, method="pin", pin=pin, actor="nurse-42")
    return result_of(drawer.call_async(req), f"OpenDrawer for {task}", stack)


def send_leg(action: ActionClient, stack: Stack, leg: str, stops: list[Stop], feedback: list[Any]) -> Any:
    goal = ExecuteLeg.Goal(leg_id=leg, robot_id=ROBOT, stops=stops)
    handle = result_of(
        action.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback)), "goal", stack
    )
    assert handle.accepted
    return handle


def at_handover(feedback: list[Any], stop_index: int) -> Callable[[], bool]:
    return lambda: (
        bool(feedback)
        and (feedback[-1].phase, feedback[-1].stop_index)
        == (
            "awaiting_handover",
            stop_index,
        )
    )


def test_delivery_across_floors_with_pin_at_both_ends(
    client: Client, stack: Stack, ready: tuple[ActionClient, Any]
) -> None:
    """Pharmacy → floor-14 ward via a managed lift: feedback, PIN at each end, DONE, two custody events."""
    action, drawer = ready
    pin_hash = hash_pin(PIN)
    stops = [
        Stop(kind="pickup", location=PHARMACY, task_id="T1", pin_hash=pin_hash, badges=["BADGE-PH-1"]),
        Stop(kind="dropoff", location=WARD, task_id="T1", pin_hash=pin_hash),
    ]
    feedback: list[Any] = []
    handle = send_leg(action, stack, "L1", stops, feedback)
    result_future = handle.get_result_async()

    wait_until(at_handover(feedback, 0), "the pickup hand-over", stack)
    loaded = open_drawer(drawer, stack, "T1", PIN)
    assert (loaded.result, loaded.custody_kind) == (OpenDrawer.Response.RESULT_OPENED, "loaded")
    wait_until(at_handover(feedback, 1), "the drop-off hand-over", stack)
    delivered = open_drawer(drawer, stack, "T1", PIN)
    assert (delivered.result, delivered.custody_kind) == (OpenDrawer.Response.RESULT_OPENED, "delivered")

    outcome = result_of(result_future, "the leg result", stack)
    assert outcome.status == GoalStatus.STATUS_SUCCEEDED
    res = outcome.result
    assert res.outcome == ExecuteLeg.Result.OUTCOME_DONE and res.success and res.reason == ""
    assert list(res.loaded_task_ids) == ["T1"] and list(res.delivered_task_ids) == ["T1"]
    # one ride up tower 3 (two if an earlier test left the robot upstairs)
    assert res.final_location == WARD and res.lifts_used and all(x.startswith("T3-") for x in res.lifts_used)

    phases = {f.phase for f in feedback}
    assert {"awaiting_handover", "walking"} <= phases
    progress = [f.progress for f in feedback]
    assert progress == sorted(progress) and progress[0] >= 0.0 and progress[-1] <= 1.0

    wait_until(lambda: len([e for e in client.custody if e.task_id == "T1"]) >= 2, "custody events", stack)
    events = [e for e in client.custody if e.task_id == "T1"]
    assert [(e.kind, e.location, e.method, e.actor) for e in events] == [
        ("loaded", PHARMACY, "pin", "nurse-42"),
        ("delivered", WARD, "pin", "nurse-42"),
    ]
    wait_until(lambda: (client.states[-1].location, client.states[-1].mode) == (WARD, "idle"), "idle", stack)
    last = client.states[-1]
    assert (last.building, last.floor, last.leg_eta_s) == ("T3", "14", -1)
    assert last.battery_pct < 100.0 and last.odometer_m > 0.0


def test_three_wrong_pins_lock_out_and_alert(client: Client, stack: Stack, ready: tuple[ActionClient, Any]) -> None:
    """At the pickup, three wrong PINs: denied, denied, locked out; a critical alert; the leg fails."""
    action, drawer = ready
    pin_hash = hash_pin(PIN)
    stops = [
        Stop(kind="pickup", location=WARD, task_id="T2", pin_hash=pin_hash),
        Stop(kind="dropoff", location=PHARMACY, task_id="T2", pin_hash=pin_hash),
    ]
    feedback: list[Any] = []
    handle = send_leg(action, stack, "L2", stops, feedback)
    result_future = handle.get_result_async()
    wait_until(at_handover(feedback, 0), "the pickup hand-over", stack)

    replies = [open_drawer(drawer, stack, "T2", "0000") for _ in range(3)]
    assert [(r.result, r.custody_kind, r.attempts_left) for r in replies] == [
        (OpenDrawer.Response.RESULT_DENIED, "denied", 2),
        (OpenDrawer.Response.RESULT_DENIED, "denied", 1),
        (OpenDrawer.Response.RESULT_LOCKED_OUT, "locked_out", 0),
    ]
    outcome = result_of(result_future, "the leg result", stack)
    assert outcome.status == GoalStatus.STATUS_ABORTED
    assert outcome.result.outcome == ExecuteLeg.Result.OUTCOME_FAILED and "locked out" in outcome.result.reason

    wait_until(lambda: any(a.code == "drawer_locked_out" for a in client.alerts), "the lock-out alert", stack)
    alert = next(a for a in client.alerts if a.code == "drawer_locked_out")
    assert (alert.severity, alert.robot_id, alert.task_id, alert.location) == (
        Alert.SEVERITY_CRITICAL,
        ROBOT,
        "T2",
        WARD,
    )
    wait_until(lambda: len([e for e in client.custody if e.task_id == "T2"]) >= 3, "custody events", stack)
    assert [e.kind for e in client.custody if e.task_id == "T2"] == ["denied", "denied", "locked_out"]
    wait_until(lambda: any(d.state == d.STATE_LOCKED_OUT for d in client.states[-1].drawers), "the drawer state", stack)


def test_cancelled_leg_reports_cancelled(client: Client, stack: Stack, ready: tuple[ActionClient, Any]) -> None:
    """A goal cancelled by the client ends CANCELED with the reason, and frees its drawer."""
    action, _ = ready
    stops = [Stop(kind="pickup", location=PHARMACY, task_id="T3", pin_hash=hash_pin(PIN))]
    feedback: list[Any] = []
    handle = send_leg(action, stack, "L3", stops, feedback)
    result_future = handle.get_result_async()
    wait_until(lambda: bool(feedback), "feedback", stack)
    result_of(handle.cancel_goal_async(), "the cancel response", stack)
    outcome = result_of(result_future, "the leg result", stack)
    assert outcome.status == GoalStatus.STATUS_CANCELED
    assert outcome.result.outcome == ExecuteLeg.Result.OUTCOME_CANCELLED
    wait_until(lambda: not any(d.task_id == "T3" for d in client.states[-1].drawers), "the freed drawer", stack)


def test_goal_for_another_robot_is_rejected_and_bad_stops_abort(
    client: Client, stack: Stack, ready: tuple[ActionClient, Any]
) -> None:
    """A goal addressed to another robot is rejected; an impossible leg is aborted with its reason."""
    action, _ = ready
    wrong = ExecuteLeg.Goal(leg_id="X", robot_id="R99", stops=[Stop(kind="charge", location="T1-B1-DOCK1")])
    assert not result_of(action.send_goal_async(wrong), "the rejection", stack).accepted
    bad = [Stop(kind="teleport", location=PHARMACY)]
    handle = send_leg(action, stack, "L4", bad, [])
    outcome = result_of(handle.get_result_async(), "the leg result", stack)
    assert outcome.status == GoalStatus.STATUS_ABORTED
    assert "stops[0].kind: must be pickup, dropoff or charge" in outcome.result.reason


def test_nodes_shut_down_cleanly_on_sigint(domain_id: int, tmp_path: Path) -> None:
    """Ctrl-C ends both nodes with status 0 and no traceback (a pair of their own)."""
    commands = {"lift_manager": LIFT_MANAGER, "robot_driver": robot_driver("R9", "--no-lift-manager")}
    with running(commands, tmp_path) as s:
        for name, marker in (("lift_manager", "managing"), ("robot_driver", "robot R9 at")):
            wait_until(lambda n=name, m=marker: m in s.logs[n].read_text(errors="replace"), f"{name} up", s)
        for proc in s.procs.values():
            _stop(proc)
        assert {name: p.returncode for name, p in s.procs.items()} == {"lift_manager": 0, "robot_driver": 0}
        assert "Traceback" not in s.tail()


def test_lift_manager_services(client: Client, stack: Stack, ready: tuple[ActionClient, Any]) -> None:
    """Over ROS: a lift taken out of service shows in LiftState, and a request for it is rerouted."""
    setter = client.node.create_client(SetLiftInService, convert.LIFT_SET_IN_SERVICE_SERVICE)
    lifts = client.node.create_client(RequestLift, convert.LIFT_REQUEST_SERVICE)
    wait_until(lambda: setter.service_is_ready() and lifts.service_is_ready(), "the lift services", stack)

    off = result_of(
        setter.call_async(SetLiftInService.Request(lift_id="T1-L1", in_service=False, reason="inspection")),
        "set out of service",
        stack,
    )
    assert off.ok and off.message == "lift T1-L1 out of service"
    wait_until(
        lambda: any(m.lift_id == "T1-L1" and not m.in_service and m.reason == "inspection" for m in client.lifts),
        "LiftState of T1-L1 out of service",
        stack,
    )
    call = LiftCall(LiftOp.REQUEST, "test:1", "R-test", "T1-L1", "T1", "1", "5")
    reply = convert.lift_reply(result_of(lifts.call_async(convert.lift_request(call)), "lift request", stack))
    assert reply.status is LiftStatus.GRANTED and reply.rerouted_from == "T1-L1" and reply.lift_id != "T1-L1"
    release = LiftCall(LiftOp.RELEASE, "test:1")
    released = result_of(lifts.call_async(convert.lift_request(release)), "lift release", stack)
    assert convert.lift_reply(released).status is LiftStatus.RELEASED

    bad = result_of(setter.call_async(SetLiftInService.Request(lift_id="NOPE", in_service=True)), "bad", stack)
    assert not bad.ok and "lift_id: unknown lift 'NOPE'" in bad.message
    on = result_of(setter.call_async(SetLiftInService.Request(lift_id="T1-L1", in_service=True)), "back", stack)
    assert on.ok
