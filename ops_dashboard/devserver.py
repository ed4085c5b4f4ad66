"""Start the real web app (``hospital-ops serve``) in a subprocess on a free port.

For the browser tests, the multi-worker test and the live benchmark: each gets its own data
directory (SQLite file, generated secrets), its own port, and optionally a Redis message queue.
The caller seeds accounts and tokens directly in the store (:func:`seed`), starts one or more
servers on the same data directory, and stops them (SIGINT, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hospital_ops.config import SQLITE_FILE
from hospital_ops.store import Store


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self, grace_s: float = 5.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=grace_s)


def store_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / SQLITE_FILE).resolve()}"


def seed(
    data_dir: Path, users: Mapping[str, tuple[str, str]] | None = None, tokens: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Create the database with staff ``users`` {name: (role, password)} and device ``tokens``
    {device id: kind}; returns {device id: bearer token}."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(store_url(data_dir))
    try:
        for name, (role, password) in dict(users or {}).items():
            store.add_user(name, role, password, actor="devserver")
        return {
            dev: store.issue_device_token(dev, kind, actor="devserver")[0] for dev, kind in dict(tokens or {}).items()
        }
    finally:
        store.close()


def start_server(
    data_dir: Path,
    *,
    port: int | None = None,
    redis_url: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 40.0,
    name: str = "web",
) -> ServerProcess:
    """``hospital-ops serve`` on 127.0.0.1:``port`` with ``data_dir``; returns once it answers."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITAL_OPS_")}
    child_env.update(
        {
            "HOSPITAL_OPS_DATA_DIR": str(data_dir),
            "HOSPITAL_OPS_HTTP_HOST": "127.0.0.1",
            "HOSPITAL_OPS_HTTP_PORT": str(port),
            "HOSPITAL_OPS_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis_url:
        child_env["HOSPITAL_OPS_REDIS_URL"] = redis_url
    child_env.update(env or {})
    log_path = data_dir / f"{name}-{port}.log"
    cmd = [sys.executable, "-m", "hospital_ops.cli", "serve"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=child_env, stdout=log, stderr=subprocess.STDOUT, cwd=str(data_dir))
    server = ServerProcess(f"http://127.0.0.1:{port}", port, data_dir, proc, log_path, child_env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web app exited with {proc.returncode}:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url + "/login", timeout=2):
                return server
        except urllib.error.HTTPError:
            return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"the web app did not answer on {server.url} within {timeout_s} s:\n{server.log()[-3000:]}")
