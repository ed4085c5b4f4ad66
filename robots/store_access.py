"""The two things the robots need from the store that ``Store`` does not offer (yet).

A drawer opens with the task's PIN checked against an argon2id hash; the store keeps exactly that
hash (``tasks.pin_hash``, written by ``Store.add_task(pin=...)``) but, by design, never returns it.
The scheduler node is the one trusted process that must hand it to the robot with the leg, and a
task submitted over ROS arrives with its hash already made (the PIN never crosses the wire), which
``Store.add_task`` cannot take. Until the store grows ``task_pin_hash`` / ``set_task_pin_hash``
(asked for in the robots report), these read and write the one column directly, in the store's
own transactions (``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospital_ops.store import Store
from hospital_ops.store.engine import writer
from hospital_ops.store.errors import NotFoundError
from hospital_ops.store.models import TaskRow
from robots.credentials import is_pin_hash


def task_pin_hash(store: Store, task_id: str) -> str:
    """The argon2id hash of the task's PIN, "" if it has none (or one robots cannot check)."""
    with Session(store.engine) as s, s.begin():
        value = s.scalar(select(TaskRow.pin_hash).where(TaskRow.id == task_id))
    return value if value and is_pin_hash(value) else ""


def set_task_pin_hash(store: Store, task_id: str, pin_hash: str) -> None:
    """Store a PIN hash made elsewhere (robots.credentials.hash_pin); ValueError if not argon2id."""
    if not is_pin_hash(pin_hash):
        raise ValueError(f"pin_hash: task {task_id}: not an argon2id hash (never send the PIN itself)")
    with Session(writer(store.engine)) as s, s.begin():
        done = s.execute(update(TaskRow).where(TaskRow.id == task_id).values(pin_hash=pin_hash))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFoundError(f"task {task_id}: no such task")
