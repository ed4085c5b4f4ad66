"""What the robots need from the store beyond the planner's view: the task's PIN hash.

A drawer opens with the task's PIN checked against an argon2id hash; the store keeps exactly that
hash and returns it only through ``Store.task_pin_hash`` (the scheduler node hands it to the robot
with the leg). A task submitted over ROS arrives with its hash already made (the PIN never
crosses the wire) and is stored with ``Store.add_task(pin_hash=...)`` in one transaction.
"""

from __future__ import annotations

from hospital_ops.store import Store
from robots.credentials import is_pin_hash


def task_pin_hash(store: Store, task_id: str) -> str:
    """The argon2id hash of the task's PIN, "" if it has none (or one robots cannot check)."""
    value = store.task_pin_hash(task_id)
    return value if value and is_pin_hash(value) else ""
