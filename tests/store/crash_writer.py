"""Subprocess of the crash test: adds tasks forever, printing each id once add_task returned.

    python crash_writer.py DATABASE_URL PREFIX

A printed id is an acknowledged write: the test kills this process with SIGKILL and then checks
that every printed id is in the database.
"""

from __future__ import annotations

import sys

from argon2 import PasswordHasher

from hospital_ops.domain import DeliveryTask, Priority
from hospital_ops.store import Store


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    store = Store.open(url, auto_upgrade=False, hasher=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    print("ready", flush=True)
    for i in range(1_000_000):
        task_id = f"{prefix}-{i:06d}"
        task = DeliveryTask(task_id, "MT-01-PHARMACY", f"W-{i % 150}", Priority.ROUTINE, i, i + 3600)
        store.add_task(task, actor="crash-writer", pin="1234" if i % 2 else None)
        print(task_id, flush=True)


if __name__ == "__main__":
    main()
