"""What the robots need from the store beyond the planner's view: a task's drawer credentials.

A drawer opens with the task's PIN checked against an argon2id hash, or with a badge checked
against an argon2 hash of each badge given with the task; the store keeps exactly those hashes
and returns them only through ``Store.task_pin_hash`` / ``Store.task_badge_hashes`` (the
scheduler node hands them to the robot with the leg). A task submitted over ROS arrives with its
PIN hash already made (the PIN never crosses the wire) and its badges, and is stored with
``Store.add_task(pin_hash=..., badges=...)`` in one transaction, so a restarted scheduler hands
the robots the same credentials.
"""

from __future__ import annotations

from hospital_ops.domain import StopKind
from hospital_ops.store import Store
from robots.credentials import is_pin_hash


def task_pin_hash(store: Store, task_id: str) -> str:
    """The argon2id hash of the task's PIN, "" if it has none (or one robots cannot check)."""
    value = store.task_pin_hash(task_id)
    return value if value and is_pin_hash(value) else ""


def task_badge_hashes(store: Store, task_id: str, end: StopKind) -> frozenset[str]:
    """The argon2 hashes of the badges that open the task's drawer at ``end`` (pickup / drop-off)."""
    if end is StopKind.CHARGE:
        return frozenset()
    return store.task_badge_hashes(task_id, end.value)


def task_credentials(store: Store, task_id: str, end: StopKind) -> tuple[str, frozenset[str]]:
    """(PIN hash, badge hashes) of the task's drawer at ``end``: what a leg's stop carries."""
    return task_pin_hash(store, task_id), task_badge_hashes(store, task_id, end)
