"""Live-channel benchmark: 1,000 events/s pushed to 50 connected dashboards, end-to-end latency.

Usage: python benchmarks/bench_live.py [--clients 50] [--rate 1000] [--seconds 12] [--modes bridge,direct]
                                      [--client-procs 2]

A real ``hospital-ops serve`` (own temp dir, SQLite, secrets, port; Redis message queue on a
redis-server started here) and ``--clients`` dashboard clients signed in as an operations
manager, each a real Socket.IO client over WebSocket on ``/ops`` (a minimal Engine.IO v4 client
on simple-websocket, one thread each; python-socketio's own client needs websocket-client, which
is not installed), spread over ``--client-procs`` processes. The load starts once every client
is connected. Every event carries the wall time it was produced; a client stamps its arrival;
latency = arrival − production (same machine, same clock); what has not arrived 3 s after the
load ends counts as lost. Target (issue 7): P95 ≤ 200 ms.

Modes (the event source):
- ``bridge``: the ROS bridge's path. Robot states (1 event = 1 robot state) are produced at
  ``--rate`` per second and posted to ``POST /api/v1/fleet/report`` every 50 ms in batches (the
  endpoint takes lists); the app emits one ``fleet`` message per report to every dashboard.
  Latency includes the wait in the batch, the HTTP call, the emit and the delivery.
- ``direct``: every event is its own Socket.IO message, emitted through the Redis message queue
  by an external process (``socketio.RedisManager(write_only=True)``, as the scheduler node or
  a second worker would): ``--rate`` × ``--clients`` WebSocket messages per second.

Prints a table and writes benchmarks/results/live.json. Timings are never asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import requests
import simple_websocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ops_dashboard.devserver import ServerProcess, free_port, seed, start_server  # noqa: E402

TARGET_P95_MS = 200.0
USER, PASSWORD = "manager.bench", "bench-password-1"


class DashboardClient:
    """A Socket.IO client on ``/ops`` over WebSocket that records (event time, arrival) pairs."""

    def __init__(self, base: str, cookie: str) -> None:
        url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = simple_websocket.Client.connect(url, headers={"Cookie": cookie})
        # The Engine.IO open packet ("0{...}") can arrive in the same TCP segment as the HTTP 101
        # answer, and simple-websocket's client then drops it; the session exists either way, so
        # ask for the namespace at once and wait for its answer.
        self.ws.send("40/ops,")
        while True:
            m = self.ws.receive(timeout=10)
            if m is None:
                raise RuntimeError("no answer to the /ops connect")
            if m.startswith("40/ops,"):
                break
            if m.startswith("44/ops,"):
                raise RuntimeError(f"/ops refused the connection: {m}")
        self.samples: list[tuple[float, float]] = []
        self.messages = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                m = self.ws.receive(timeout=1)
            except simple_websocket.ConnectionClosed:
                return
            if m is None:
                continue
            now = time.time()
            if m == "2":
                self.ws.send("3")
                continue
            if not m.startswith("42/ops,"):
                continue
            name, data = json.loads(m[7:])[:2]
            if name != "fleet":
                continue
            self.messages += 1
            for r in data.get("robots", ()):
                t = r.get("t")
                if isinstance(t, float):
                    self.samples.append((t, now))

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(Exception):  # already closed by the server
            self.ws.close()
        self.thread.join(timeout=3)


def start_redis(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("redis-server did not start")


def sign_in(base: str) -> str:
    http = requests.Session()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get(base + "/login", timeout=10).text)
    assert csrf
    r = http.post(
        base + "/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": csrf.group(1)},
        allow_redirects=False,
        timeout=10,
    )
    if r.status_code != 302:
        raise SystemExit(f"sign-in failed: {r.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def robot_state(i: int, seq: int) -> dict[str, Any]:
    return {
        "id": f"R{i % 120:03d}",
        "mode": "busy",
        "location": "T3-10-NS",
        "battery_pct": 80,
        "seq": seq,
        "t": time.time(),
    }


def source_bridge(
    server: ServerProcess, token: str, rate: int, seconds: float, batch_s: float = 0.05
) -> tuple[int, float]:
    """Robot states produced at ``rate``/s, posted as fleet reports every ``batch_s``."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    produced = 0
    pending: list[dict[str, Any]] = []
    t0 = time.monotonic()
    next_post = t0 + batch_s
    while True:
        now = time.monotonic()
        if now - t0 >= seconds:
            break
        due = int((now - t0) * rate)
        while produced < due:
            pending.append(robot_state(produced, produced))
            produced += 1
        if now >= next_post:
            if pending:
                r = http.post(server.url + "/api/v1/fleet/report", json={"robots": pending, "lifts": []}, timeout=10)
                if r.status_code != 202:
                    raise SystemExit(f"fleet report refused: {r.status_code} {r.text[:200]}")
                pending = []
            next_post += batch_s
        time.sleep(0.002)
    return produced - len(pending), time.monotonic() - t0


def source_direct(redis_url: str, rate: int, seconds: float) -> tuple[int, float]:
    """One Socket.IO message per event, emitted through the Redis queue by this process."""
    import socketio

    mgr = socketio.RedisManager(redis_url, channel="flask-socketio", write_only=True)
    produced = 0
    t0 = time.monotonic()
    while True:
        now = time.monotonic()
        if now - t0 >= seconds:
            break
        due = int((now - t0) * rate)
        while produced < due:
            mgr.emit("fleet", {"robots": [robot_state(produced, produced)], "lifts": []}, namespace="/ops")
            produced += 1
        time.sleep(0.001)
    return produced, time.monotonic() - t0


def client_worker(base: str, cookie: str, n: int, ready: Any, stop: Any) -> dict[str, Any]:
    """In its own process: ``n`` dashboard clients; says ``ready`` once all are connected and
    listens until ``stop`` is set; returns their latencies (ms), message count and CPU time."""
    clients = [DashboardClient(base, cookie) for _ in range(n)]
    ready.put(n)
    cpu0 = time.process_time()
    stop.wait()
    cpu = time.process_time() - cpu0
    for c in clients:
        c.close()
    return {
        "latencies_ms": [(arr - t) * 1000.0 for c in clients for t, arr in c.samples],
        "messages": sum(c.messages for c in clients),
        "cpu_s": cpu,
    }


def measure(
    mode: str,
    server: ServerProcess,
    redis_url: str,
    token: str,
    cookie: str,
    n_clients: int,
    rate: int,
    seconds: float,
    client_procs: int,
    drain_s: float = 3.0,
) -> dict[str, Any]:
    """One mode: clients in ``client_procs`` processes (so decoding does not share one GIL with
    the source), the source in this process (bridge) or its own process (direct). The load
    starts once every client is connected; what has not arrived ``drain_s`` after it ends is lost."""
    import multiprocessing

    mp = multiprocessing.get_context("spawn")
    shares = [n_clients // client_procs + (i < n_clients % client_procs) for i in range(client_procs)]
    with mp.Manager() as manager, mp.Pool(client_procs) as pool, mp.Pool(1) as emitter:
        ready, stop = manager.Queue(), manager.Event()
        pending = [pool.apply_async(client_worker, (server.url, cookie, k, ready, stop)) for k in shares if k]
        connected = 0
        while connected < n_clients:
            connected += ready.get(timeout=120)
        emitter.apply(time.sleep, (0,))  # the direct mode's emitter process is up before the clock runs
        time.sleep(0.5)
        if mode == "bridge":
            produced, send_s = source_bridge(server, token, rate, seconds)
        else:  # its own process, as the scheduler node or another web worker would be
            produced, send_s = emitter.apply(source_direct, (redis_url, rate, seconds))
        time.sleep(drain_s)
        stop.set()
        parts = [p.get(timeout=120) for p in pending]
    lat = np.array([x for part in parts for x in part["latencies_ms"]])
    messages = sum(part["messages"] for part in parts)
    delivered = len(lat)
    out: dict[str, Any] = {
        "mode": mode,
        "clients": n_clients,
        "client_processes": len(parts),
        "events_per_s_target": rate,
        "events_produced": produced,
        "events_per_s_achieved": round(produced / send_s, 1),
        "deliveries_expected": produced * n_clients,
        "deliveries": delivered,
        "delivered_pct": round(100.0 * delivered / max(1, produced * n_clients), 2),
        "ws_messages": messages,
        "ws_messages_per_s": round(messages / send_s, 1),
        "client_cpu_s": round(sum(part["cpu_s"] for part in parts), 2),
    }
    if delivered:
        out |= {
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "max_ms": round(float(lat.max()), 1),
        }
    out["meets_target"] = bool(delivered and out["p95_ms"] <= TARGET_P95_MS and out["delivered_pct"] >= 99.9)
    return out


def server_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=int, default=1000, help="events per second")
    ap.add_argument("--seconds", type=float, default=12.0, help="seconds of load per mode")
    ap.add_argument("--modes", default="bridge,direct")
    ap.add_argument("--client-procs", type=int, default=2, help="processes the dashboard clients are spread over")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(modes) <= {"bridge", "direct"}:
        raise SystemExit(f"--modes: expected bridge and/or direct, got {args.modes!r}")
    load0 = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="hops-bench-live-"))
    redis_proc, redis_url = start_redis(root)
    server: ServerProcess | None = None
    rows: list[dict[str, Any]] = []
    try:
        tokens = seed(root / "data", {USER: ("operations_manager", PASSWORD)}, {"bench-bridge": "bridge"})
        server = start_server(root / "data", redis_url=redis_url, name="bench")
        cookie = sign_in(server.url)
        for mode in modes:
            cpu0 = server_cpu_s(server.proc.pid)
            row = measure(
                mode,
                server,
                redis_url,
                tokens["bench-bridge"],
                cookie,
                args.clients,
                args.rate,
                args.seconds,
                max(1, args.client_procs),
            )
            row["server_cpu_s"] = round(server_cpu_s(server.proc.pid) - cpu0, 2)
            rows.append(row)
    finally:
        if server is not None:
            server.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)

    cols = [
        ("mode", "mode"),
        ("events/s", "events_per_s_achieved"),
        ("ws msg/s", "ws_messages_per_s"),
        ("delivered %", "delivered_pct"),
        ("P50 ms", "p50_ms"),
        ("P95 ms", "p95_ms"),
        ("P99 ms", "p99_ms"),
        ("max ms", "max_ms"),
        ("server CPU s", "server_cpu_s"),
        ("client CPU s", "client_cpu_s"),
        ("≤ 200 ms", "meets_target"),
    ]
    print(f"\n{args.clients} dashboards, {args.rate} events/s for {args.seconds:g} s per mode")
    print(" | ".join(f"{h:>12}" for h, _ in cols))
    for r in rows:
        print(" | ".join(f"{r.get(k, '–')!s:>12}" for _, k in cols))
    out = {
        "benchmark": "live",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_live.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m_at_start": round(load0, 2),
        },
        "targets": {"p95_ms": TARGET_P95_MS, "clients": args.clients, "events_per_s": args.rate},
        "runs": rows,
    }
    dest = ROOT / "benchmarks" / "results" / "live.json"
    dest.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
