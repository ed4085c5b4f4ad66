"""ROS 2 benchmark: command → acknowledgement latency on loopback, and how many simulated robots one
machine carries at a 10× time scale. Prints a table, writes benchmarks/results/ros.json.

Usage: python benchmarks/bench_ros.py [--commands 200] [--steps 5,10,20,40] [--measure-s 6]

1. Latency (target P99 ≤ 10 ms). Real processes on their own ROS_DOMAIN_ID (localhost discovery):
   the scheduler node (greedy policy, a temporary SQLite store) and one robot driver. From this
   process, round trips of
   - SubmitTask → accepted (the task is written to the store, with its PIN hash, before the ack),
   - CancelTask of that task → cancelled (a store transition before the ack),
   - OpenDrawer on the robot → answered (refused: no such drawer; no PIN hashing in the path).
   Commands go one at a time, 20 per second, after 20 warm-up calls each.
2. Robots at 10×. Robot driver processes (no lift manager, 2 Hz state, 20 Hz simulation) are added
   in steps; each is sent a leg across the campus so it is driving. For ``--measure-s`` per step:
   RobotState messages received per robot per second (expected 2.0), CPU of the robot processes
   (percent of the whole machine) and their memory. The machine "carries" a step when the state
   rate holds (≥ 95 % of expected) and the robots use < 80 % of the machine's CPU; the last step
   that does, and a CPU-based extrapolation, are reported. The run stops early at a failing step.
   On a machine shared with other work the CPU figures include their noise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rclpy  # noqa: E402
from hospital_ops_interfaces.action import ExecuteLeg  # noqa: E402
from hospital_ops_interfaces.msg import RobotState, Stop  # noqa: E402
from hospital_ops_interfaces.srv import CancelTask, OpenDrawer, SubmitTask  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from hospital_ops.domain import DeliveryTask, Priority  # noqa: E402
from robots.credentials import FAST_HASHER  # noqa: E402
from robots.nodes import convert  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "ros.json"
DOCKS = [f"T{t}-B1-DOCK{d}" for t in range(1, 8) for d in (1, 2)]


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


class Procs:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> None:
        with (self.log_dir / f"{name}.log").open("wb") as fh:
            self.procs[name] = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


class Client:
    def __init__(self, domain: int) -> None:
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=domain)
        self.node = Node("bench_client", context=self.ctx)
        self.counts: Counter[str] = Counter()
        self.node.create_subscription(RobotState, convert.ROBOT_STATE_TOPIC, self._on_state, convert.STATE_SUB_QOS)
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.ctx)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_state(self, msg: RobotState) -> None:
        self.counts[msg.robot_id] += 1

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)

    def call(self, client: Any, req: Any, timeout: float = 5.0) -> tuple[float, Any]:
        done = threading.Event()
        t0 = time.perf_counter()
        fut = client.call_async(req)
        fut.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout):
            raise TimeoutError("no answer")
        return (time.perf_counter() - t0) * 1000.0, fut.result()


def wait(pred: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def latency(client: Client, procs: Procs, n: int, now_s: int) -> dict[str, Any]:
    py = [sys.executable, "-m"]
    procs.start("robot_R1", [*py, "robots.nodes.robot_driver", "--robot-id", "R1", "--start", "T1-B1-DOCK1",
                             "--no-lift-manager", "--time-scale", "10"])  # fmt: skip
    procs.start("scheduler", [*py, "robots.nodes.scheduler_node", "--policy", "greedy", "--warmup-s", "1"])
    submit = client.node.create_client(SubmitTask, convert.SUBMIT_TASK_SERVICE)
    cancel = client.node.create_client(CancelTask, convert.CANCEL_TASK_SERVICE)
    drawer = client.node.create_client(OpenDrawer, convert.open_drawer_service("R1"))
    for c in (submit, cancel, drawer):
        wait(c.service_is_ready, "the services", 60)
    pin_hash = FAST_HASHER.hash("2468")
    times: dict[str, list[float]] = {"submit_task": [], "cancel_task": [], "open_drawer": []}
    for i in range(n + 20):
        task = DeliveryTask(f"B{i:05d}", "MT-01-PHARMACY", "T3-08-NS", Priority.ROUTINE, now_s, now_s + 14400)
        ms_s, resp = client.call(submit, SubmitTask.Request(task=convert.task_msg(task), pin_hash=pin_hash))
        assert resp.accepted, resp.reason
        ms_c, _resp_c = client.call(cancel, CancelTask.Request(task_id=task.id, reason="bench", actor="bench"))
        ms_d, resp_d = client.call(
            drawer, OpenDrawer.Request(robot_id="R1", task_id=task.id, drawer=-1, method="pin", pin="2468")
        )
        assert resp_d.result == OpenDrawer.Response.RESULT_NOT_FOUND
        if i >= 20:
            times["submit_task"].append(ms_s)
            times["cancel_task"].append(ms_c)
            times["open_drawer"].append(ms_d)
        time.sleep(0.05)
    out = {}
    for name, xs in times.items():
        out[name] = {
            "n": len(xs),
            "p50_ms": round(statistics.median(xs), 3),
            "p99_ms": round(pct(xs, 99), 3),
            "max_ms": round(max(xs), 3),
            "ok_p99_le_10ms": pct(xs, 99) <= 10.0,
        }
    return out


def capacity(client: Client, procs: Procs, steps: list[int], measure_s: float) -> dict[str, Any]:
    py = [sys.executable, "-m"]
    cores = psutil.cpu_count() or 1
    rows = []
    started: list[str] = []
    clients: dict[str, ActionClient] = {}
    rng = random.Random(1)
    for k in steps:
        for i in range(len(started), k):
            rid = f"C{i + 1:03d}"
            procs.start(rid, [*py, "robots.nodes.robot_driver", "--robot-id", rid, "--start", DOCKS[i % len(DOCKS)],
                              "--no-lift-manager", "--time-scale", "10", "--state-hz", "2"])  # fmt: skip
            started.append(rid)
        wait(lambda: all(client.counts[r] > 0 for r in started), f"{k} robots publishing", 120 + 5 * k)
        for rid in started:
            action = clients.get(rid)
            if action is None:
                action = clients[rid] = ActionClient(client.node, ExecuteLeg, convert.execute_leg_action(rid))
                wait(action.server_is_ready, f"{rid} ExecuteLeg", 60)
                far = rng.choice([d for d in DOCKS if not d.startswith(DOCKS[started.index(rid) % len(DOCKS)][:2])])
                goal = ExecuteLeg.Goal(leg_id=f"bench-{rid}", robot_id=rid, stops=[Stop(kind="charge", location=far)])
                action.send_goal_async(goal)
        time.sleep(2.0)  # legs under way
        ps = [psutil.Process(procs.procs[r].pid) for r in started]
        for p in ps:
            p.cpu_percent(None)
        before = {r: client.counts[r] for r in started}
        t0 = time.monotonic()
        time.sleep(measure_s)
        dt = time.monotonic() - t0
        cpu = sum(p.cpu_percent(None) for p in ps) / cores
        rss = sum(p.memory_info().rss for p in ps) / 2**20
        rates = [(client.counts[r] - before[r]) / dt for r in started]
        row = {
            "robots": k,
            "state_hz_per_robot_mean": round(statistics.mean(rates), 3),
            "state_hz_per_robot_min": round(min(rates), 3),
            "robots_cpu_pct_of_machine": round(cpu, 1),
            "cpu_pct_per_robot": round(cpu / k, 2),
            "robots_rss_mib": round(rss, 0),
            "machine_cpu_pct": round(psutil.cpu_percent(None), 1),
        }
        row["carried"] = row["state_hz_per_robot_min"] >= 0.95 * 2.0 and cpu < 80.0
        rows.append(row)
        print(
            f"  {k:3d} robots: state {row['state_hz_per_robot_mean']:.2f} Hz/robot (min {row['state_hz_per_robot_min']:.2f}),"
            f" CPU {cpu:.0f} % of the machine ({row['cpu_pct_per_robot']:.2f} %/robot), {rss:.0f} MiB",
            flush=True,
        )
        if not row["carried"]:
            break
    carried = [r["robots"] for r in rows if r["carried"]]
    per_robot = statistics.median(r["cpu_pct_per_robot"] for r in rows)
    mib_per_robot = statistics.median(r["robots_rss_mib"] / r["robots"] for r in rows)
    total_mib = psutil.virtual_memory().total / 2**20
    return {
        "steps": rows,
        "max_carried_measured": max(carried) if carried else 0,
        "extrapolated_at_80pct_cpu": int(80.0 / per_robot) if per_robot > 0 else None,
        "mib_per_robot": round(mib_per_robot, 1),
        "extrapolated_at_80pct_memory": int(0.8 * total_mib / mib_per_robot) if mib_per_robot > 0 else None,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--commands", type=int, default=200)
    p.add_argument("--steps", default="5,10,20,40")
    p.add_argument("--measure-s", type=float, default=6.0)
    args = p.parse_args(argv)
    steps = [int(x) for x in args.steps.split(",") if x]
    domain = random.SystemRandom().randrange(1, 101)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ros-"))
    env = {
        **os.environ,
        "ROS_DOMAIN_ID": str(domain),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "HOSPITAL_OPS_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    t_start = time.monotonic()
    client = Client(domain)
    procs = Procs(env, tmp)
    try:
        print(f"latency: {args.commands} commands each (domain {domain}, logs {tmp})", flush=True)
        lat = latency(client, procs, args.commands, int(time.time()))
        procs.stop()
        procs.procs.clear()
        print(f"robots at 10x: steps {steps}", flush=True)
        cap = capacity(client, procs, steps, args.measure_s)
    finally:
        procs.stop()
        client.close()
    result = {
        "benchmark": "ros",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "command": f"python benchmarks/bench_ros.py --commands {args.commands} --steps {args.steps} --measure-s {args.measure_s:g}",
        "latency_ms": lat,
        "robots_at_10x": cap,
        "wall_s": round(time.monotonic() - t_start, 1),
    }
    print()
    print(f"{'command → ack over ROS 2 (loopback)':40s} {'P50 ms':>8s} {'P99 ms':>8s} {'max ms':>8s}  P99 ≤ 10 ms")
    for name, row in lat.items():
        print(
            f"{name:40s} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {row['max_ms']:8.2f}  {'yes' if row['ok_p99_le_10ms'] else 'NO'}"
        )
    print()
    print(
        f"{'robots @10x':>11s} {'state Hz/robot':>15s} {'min Hz':>7s} {'CPU % machine':>14s} {'%/robot':>8s} {'MiB':>6s} carried"
    )
    for r in cap["steps"]:
        print(
            f"{r['robots']:11d} {r['state_hz_per_robot_mean']:15.2f} {r['state_hz_per_robot_min']:7.2f} "
            f"{r['robots_cpu_pct_of_machine']:14.1f} {r['cpu_pct_per_robot']:8.2f} {r['robots_rss_mib']:6.0f} "
            f"{'yes' if r['carried'] else 'no'}"
        )
    print(
        f"carried (measured): {cap['max_carried_measured']} robots; extrapolated at 80 % CPU: "
        f"{cap['extrapolated_at_80pct_cpu']} robots ({cap['mib_per_robot']:.0f} MiB each: "
        f"{cap['extrapolated_at_80pct_memory']} fit in 80 % of memory); run took {result['wall_s']:.0f} s"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
