"""Acknowledged writes survive a crash: a writer is killed with SIGKILL mid-stream, then every
task it acknowledged is in the database, whole, and the database passes its integrity check."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from hospital_ops.store import Store, db_upgrade

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("crash_writer.py")
ACKS_BEFORE_KILL = 40


def run_and_kill(url: str, prefix: str) -> list[str]:
    """Start the writer, SIGKILL it after ACKS_BEFORE_KILL acknowledgements; every id it printed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url, prefix], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        first = proc.stdout.readline().strip()
        if first != "ready":
            proc.kill()
            raise AssertionError(f"writer did not start: {first!r} {proc.stderr.read() if proc.stderr else ''}")
        while len(acked) < ACKS_BEFORE_KILL:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"writer stopped early: {proc.stderr.read() if proc.stderr else ''}")
            acked.append(line.strip())
        proc.send_signal(signal.SIGKILL)  # mid-stream: it is busy writing the next tasks
        acked += [line.strip() for line in proc.stdout if line.strip()]  # printed before it died
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return acked


def check_after_crash(url: str, acked: list[str], prefix: str) -> None:
    with Store.open(url, auto_upgrade=False) as store:
        stored = {r.id for r in store.list_tasks()}
        missing = [task_id for task_id in acked if task_id not in stored]
        assert missing == [], f"acknowledged but lost: {missing}"
        assert all(task_id.startswith(prefix) for task_id in stored)
        with store.engine.connect() as conn:
            # each task committed whole: its creation history row and audit entry came with it
            created = conn.execute(sa.text("SELECT count(*) FROM task_status_history WHERE from_status IS NULL"))
            assert created.scalar_one() == len(stored)
            audited = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'task.add'"))
            assert audited.scalar_one() == len(stored)
            if store.dialect == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        store.add_task({"id": "after-crash", "pickup": "A", "dropoff": "B", "priority": "stat",
                        "earliest_s": 0, "deadline_s": 1}, actor="test")  # fmt: skip


def test_acknowledged_tasks_survive_sigkill_sqlite(tmp_path: Path) -> None:
    """SQLite (WAL, synchronous=FULL): after SIGKILL of the writer every acknowledged task is there."""
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    db_upgrade(url)
    acked = run_and_kill(url, "CRASH")
    assert len(acked) >= ACKS_BEFORE_KILL
    check_after_crash(url, acked, "CRASH")


@pytest.mark.postgres
def test_acknowledged_tasks_survive_sigkill_postgresql(postgres_url: str) -> None:
    """PostgreSQL: after SIGKILL of the writer (its connection dies mid-transaction) every
    acknowledged task is there and the half-done transaction left nothing behind."""
    db_upgrade(postgres_url)
    acked = run_and_kill(postgres_url, "CRASH")
    check_after_crash(postgres_url, acked, "CRASH")
