"""A whole fleet stack in real processes for the ROS tests: robots, lift manager, fleet manager,
scheduler node, on a domain and SQLite file of the test's own; plus "staff" that open the drawers
with the task's PIN whenever a robot waits for a hand-over (as nurses and pharmacists would)."""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import rclpy
from hospital_ops_interfaces.msg import Alert, CustodyEvent, RobotState
from hospital_ops_interfaces.srv import OpenDrawer, SubmitTask
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from hospital_ops.clock import CampusClock
from hospital_ops.domain import DeliveryTask, Handling, Priority, TaskKind
from hospital_ops.store import Store
from robots.credentials import FAST_HASHER
from robots.nodes import convert

ROOT = Path(__file__).resolve().parents[2]
PIN = "2468"
PHARMACY = "MT-01-PHARMACY"
LAB = "MT-02-LAB"
#: Nurse stations in four towers, low and high floors.
WARDS = ("T1-04-NS", "T2-12-NS", "T3-08-NS", "T4-15-NS", "T1-10-NS", "T2-06-NS", "T3-14-NS", "T4-05-NS")
DOCKS = ("T1-B1-DOCK1", "T2-B1-DOCK1", "T3-B1-DOCK1", "T4-B1-DOCK1", "T5-B1-DOCK1", "T1-B1-DOCK2")
_domains = itertools.count()


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def make_tasks(n: int, now_s: int, *, prefix: str = "T", controlled_every: int = 0) -> list[DeliveryTask]:
    """Medication runs pharmacy → wards and specimen runs wards → lab, across towers and floors."""
    prios = (Priority.STAT, Priority.URGENT, Priority.ROUTINE, Priority.URGENT)
    out = []
    for i in range(n):
        ward = WARDS[i % len(WARDS)]
        prio = prios[i % len(prios)]
        specimen = i % 3 == 2
        out.append(
            DeliveryTask(
                id=f"{prefix}{i + 1:02d}",
                pickup=ward if specimen else PHARMACY,
                dropoff=LAB if specimen else ward,
                priority=prio,
                earliest_s=now_s - 60,
                deadline_s=now_s + {Priority.STAT: 1800, Priority.URGENT: 3600, Priority.ROUTINE: 7200}[prio],
                kind=TaskKind.SPECIMEN if specimen else TaskKind.MEDICATION,
                handling=Handling(controlled=bool(controlled_every) and i % controlled_every == 0 and not specimen),
                requester=ward,
            )
        )
    return out


@dataclass
class Staff:
    """Opens drawers: the right PIN, unless ``wrong[task]`` says how many wrong ones to type first."""

    pin: str = PIN
    wrong: dict[str, int] = field(default_factory=dict)
    replies: list[tuple[str, str, int, str]] = field(default_factory=list)
    busy: set[tuple[str, str, bool]] = field(default_factory=set)
    done: set[tuple[str, str, bool]] = field(default_factory=set)
    #: Away from the robots (they wait at their stops, their legs stay in progress).
    paused: bool = False
    #: Task → the badge held to the reader instead of typing the PIN.
    badges: dict[str, str] = field(default_factory=dict)


class FleetStack:
    """Processes + a client node. Use as a context manager; everything is stopped on exit."""

    def __init__(
        self,
        tmp: Path,
        robots: int,
        *,
        time_scale: float = 100.0,
        staff: Staff | None = None,
        commands: dict[str, list[str]] | None = None,
        scheduler_args: tuple[str, ...] = (),
    ) -> None:
        """``commands``: start these (name → argv) instead of the standard stack; ``scheduler_args``:
        extra arguments of the scheduler node."""
        self.tmp = tmp
        self.scheduler_args = scheduler_args
        self.commands = commands
        self.n_robots = robots
        self.domain = 1 + (os.getpid() * 7 + next(_domains) * 13) % 101
        self.clock = CampusClock.starting_now(time_scale)
        self.db_url = f"sqlite:///{tmp / 'ops.db'}"
        self.store = Store.open(self.db_url, hasher=FAST_HASHER)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.staff = staff or Staff()
        self.states: dict[str, RobotState] = {}
        self.custody: list[CustodyEvent] = []
        self.alerts: list[Alert] = []
        self._lock = threading.Lock()
        self.env = {
            **os.environ,
            "ROS_DOMAIN_ID": str(self.domain),
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "HOSPITAL_OPS_DATABASE_URL": self.db_url,
            "PYTHONUNBUFFERED": "1",
            **self.clock.env(),
        }
        self.env.pop("ROS_STATIC_PEERS", None)
        self._ctx: Context | None = None
        self.node: Node | None = None
        self._executor: MultiThreadedExecutor | None = None
        self._thread: threading.Thread | None = None
        self._drawers: dict[str, Any] = {}

    # ---- commands -----------------------------------------------------------------------------
    def robot_ids(self) -> list[str]:
        return [f"R{i + 1}" for i in range(self.n_robots)]

    def command(self, name: str) -> list[str]:
        if self.commands is not None and name in self.commands:
            return self.commands[name]
        py = [sys.executable, "-m"]
        clock = self.clock.args()
        if name == "lift_manager":
            return [*py, "robots.nodes.lift_manager"]
        if name == "fleet_manager":
            return [*py, "robots.nodes.fleet_manager", *clock]
        if name == "scheduler":
            return [
                *py, "robots.nodes.scheduler_node", "--policy", "greedy", "--warmup-s", "2", *clock, *self.scheduler_args,
            ]  # fmt: skip
        if name.startswith("R"):
            i = int(name[1:]) - 1
            return [
                *py, "robots.nodes.robot_driver", "--robot-id", name, "--start", DOCKS[i % len(DOCKS)],
                "--handover-timeout-s", "36000", "--dwell-s", "5", "--state-hz", "4", *clock,
            ]  # fmt: skip
        raise ValueError(name)

    def start(self, name: str) -> None:
        log = self.tmp / f"{name}.log"
        mode = "ab" if log.exists() else "wb"
        with log.open(mode) as fh:
            self.procs[name] = subprocess.Popen(
                self.command(name),
                cwd=ROOT,
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.logs[name] = log

    def signal(self, name: str, sig: signal.Signals) -> None:
        """Send ``sig`` (e.g. SIGSTOP / SIGCONT: a robot out of reach that is not dead)."""
        self.procs[name].send_signal(sig)

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        proc.kill()
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def tail(self, lines: int = 25) -> str:
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            out.append(f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(out)

    # ---- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> FleetStack:
        try:
            names = list(self.commands) if self.commands is not None else [
                "lift_manager", *self.robot_ids(), "fleet_manager", "scheduler",
            ]  # fmt: skip
            for name in names:
                self.start(name)
            self._start_client()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=5)
        if self.node is not None:
            self.node.destroy_node()
        if self._ctx is not None:
            rclpy.shutdown(context=self._ctx)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()

    def _start_client(self) -> None:
        self._ctx = Context()
        rclpy.init(context=self._ctx, domain_id=self.domain)
        node = Node("test_staff", context=self._ctx)
        self.node = node
        node.create_subscription(RobotState, convert.ROBOT_STATE_TOPIC, self._on_state, convert.STATE_SUB_QOS)
        node.create_subscription(CustodyEvent, convert.CUSTODY_TOPIC, self._on_custody, convert.EVENTS_QOS)
        node.create_subscription(Alert, convert.ALERTS_TOPIC, self._on_alert, convert.EVENTS_QOS)
        self.submit_client = node.create_client(SubmitTask, convert.SUBMIT_TASK_SERVICE)
        self._executor = MultiThreadedExecutor(num_threads=3, context=self._ctx)
        self._executor.add_node(node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    # ---- the staff ------------------------------------------------------------------------------
    def _on_custody(self, msg: CustodyEvent) -> None:
        with self._lock:
            self.custody.append(msg)

    def _on_alert(self, msg: Alert) -> None:
        with self._lock:
            self.alerts.append(msg)

    def _on_state(self, msg: RobotState) -> None:
        self.states[msg.robot_id] = msg
        if msg.phase != "awaiting_handover" or not msg.current_task_id or self.staff.paused:
            return
        task = msg.current_task_id
        loaded = any(d.task_id == task and d.loaded for d in msg.drawers)
        key = (msg.robot_id, task, loaded)
        with self._lock:
            if key in self.staff.busy or key in self.staff.done:
                return
            if not loaded and any(c.task_id == task and c.kind == "loaded" for c in self.custody):
                return  # the items already left with another robot: nothing to hand over twice
            self.staff.busy.add(key)
            wrong = self.staff.wrong.get(task, 0)
            pin = "0000" if wrong > 0 else self.staff.pin
            if wrong > 0:
                self.staff.wrong[task] = wrong - 1
            badge = self.staff.badges.get(task, "")
        client = self._drawers.get(msg.robot_id)
        if client is None:
            assert self.node is not None
            client = self._drawers[msg.robot_id] = self.node.create_client(
                OpenDrawer, convert.open_drawer_service(msg.robot_id)
            )
        if badge:
            req = OpenDrawer.Request(
                robot_id=msg.robot_id, task_id=task, drawer=-1, method="badge", badge_id=badge, actor="porter-3"
            )
        else:
            req = OpenDrawer.Request(
                robot_id=msg.robot_id, task_id=task, drawer=-1, method="pin", pin=pin, actor="nurse-7"
            )
        future = client.call_async(req)

        def done(f: Any, key: tuple[str, str, bool] = key) -> None:
            resp = f.result()
            with self._lock:
                self.staff.busy.discard(key)
                if resp is not None:
                    self.staff.replies.append((key[0], key[1], resp.result, resp.custody_kind))
                    if resp.result in (OpenDrawer.Response.RESULT_OPENED, OpenDrawer.Response.RESULT_LOCKED_OUT):
                        self.staff.done.add(key)

        future.add_done_callback(done)

    # ---- waiting --------------------------------------------------------------------------------
    def wait_until(
        self, pred: Callable[[], bool], what: str, timeout: float = 60.0, *, allow_dead: tuple[str, ...] = ()
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            for name, proc in self.procs.items():
                if name not in allow_dead and proc.poll() is not None:
                    pytest.fail(f"{name} exited with {proc.returncode} while waiting for {what}\n{self.tail()}")
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}\n{self.tail()}")

    def submit(self, task: DeliveryTask, *, badges: Sequence[str] = ()) -> SubmitTask.Response:
        """SubmitTask with the PIN's hash, or with ``badges`` only when given."""
        self.wait_until(self.submit_client.service_is_ready, "the SubmitTask service")
        pin_hash = "" if badges else FAST_HASHER.hash(PIN)
        req = SubmitTask.Request(task=convert.task_msg(task), pin_hash=pin_hash, badges=list(badges))
        future = self.submit_client.call_async(req)
        self.wait_until(future.done, f"SubmitTask {task.id}")
        return future.result()
