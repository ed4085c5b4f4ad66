"""Two web workers behind one Redis message queue: what one emits reaches the other's clients.

A real ``redis-server`` is started by the test on a free port in a temporary directory (no
persistence), and two real ``hospital-ops serve`` processes share it (and one SQLite data
directory). A dashboard client signs in and connects to worker B; the ROS bridge posts a fleet
report to worker A. The report is held in A's memory only (not in the database), so it can
reach the client on B through the Redis queue alone.
"""

from __future__ import annotations

import queue
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from ops_dashboard.devserver import ServerProcess, free_port, seed, start_server

pytestmark = pytest.mark.slow

REDIS = shutil.which("redis-server")


@pytest.fixture
def redis_url() -> Iterator[str]:
    if REDIS is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    root = Path(tempfile.mkdtemp(prefix="hops-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def two_workers(redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess, dict[str, str]]]:
    root = Path(tempfile.mkdtemp(prefix="hops-mw-"))
    tokens = seed(root, {"manager.wu": ("operations_manager", "manager-password-1")}, {"bridge": "bridge"})
    a = start_server(root, redis_url=redis_url, name="a")
    try:
        b = start_server(root, redis_url=redis_url, name="b")
        try:
            yield a, b, tokens
        finally:
            b.stop()
    finally:
        a.stop()
        shutil.rmtree(root, ignore_errors=True)


def signed_in_cookie(base: str, user: str, password: str) -> str:
    """Sign in through the real login form (with its CSRF token); the session cookie header."""
    http = requests.Session()
    page = http.get(base + "/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf, "login form without a CSRF token"
    r = http.post(
        base + "/login",
        data={"username": user, "password": password, "csrf_token": csrf.group(1)},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 302, r.text[:300]
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def test_an_emit_on_one_worker_reaches_a_client_of_the_other(
    two_workers: tuple[ServerProcess, ServerProcess, dict[str, str]],
) -> None:
    """A fleet report posted to worker A reaches a dashboard connected to worker B (and one
    connected to A), through Redis."""
    a, b, tokens = two_workers
    cookie = signed_in_cookie(b.url, "manager.wu", "manager-password-1")
    received: dict[str, queue.Queue[Any]] = {"a": queue.Queue(), "b": queue.Queue()}
    clients = {}
    for name, srv in (("a", a), ("b", b)):
        c = socketio.Client(reconnection=False)
        c.on("fleet", received[name].put, namespace="/ops")
        c.connect(srv.url, namespaces=["/ops"], headers={"Cookie": cookie}, transports=["polling"], wait_timeout=10)
        clients[name] = c
    try:
        r = requests.post(
            a.url + "/api/v1/fleet/report",
            json={"robots": [{"id": "R-MW", "mode": "busy", "location": "T3-10-NS"}], "lifts": []},
            headers={"Authorization": f"Bearer {tokens['bridge']}"},
            timeout=10,
        )
        assert r.status_code == 202, r.text
        for name in ("b", "a"):
            msg = received[name].get(timeout=15)
            assert [x["id"] for x in msg["robots"]] == ["R-MW"], name
    finally:
        for c in clients.values():
            c.disconnect()
