"""Badge credentials of tasks (migration 0005): only an argon2 hash of each badge, per task end."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from hospital_ops.domain import DeliveryTask, Priority, StopKind
from hospital_ops.store import DuplicateError, InvalidInputError, NotFoundError, Store
from hospital_ops.store.badges import MAX_BADGE_CHARS, MAX_BADGES_PER_END

T0 = 1_767_600_000
VERIFIER = PasswordHasher()


def make_task(task_id: str) -> DeliveryTask:
    return DeliveryTask(task_id, "MT-01-PHARMACY", "T1-07-STATION", Priority.URGENT, T0, T0 + 2700)


def verifies(badge_hash: str, badge: str) -> bool:
    try:
        return VERIFIER.verify(badge_hash, badge)
    except VerifyMismatchError:
        return False


def test_badges_are_kept_as_hashes_for_both_ends(store: Store) -> None:
    """Badges given with a task open its drawer at both ends; the database holds a salted argon2 hash
    of each (never the badge), read back per end and for either end."""
    store.add_task(make_task("T-1"), actor="ros", badges=["BADGE-0042", "BADGE-0077", "BADGE-0042"])
    pickup = store.task_badge_hashes("T-1", "pickup")
    dropoff = store.task_badge_hashes("T-1", StopKind.DROPOFF)
    assert len(pickup) == 2 and pickup == dropoff == store.task_badge_hashes("T-1")
    assert all(h.startswith("$argon2") for h in pickup)
    assert sorted(b for b in ("BADGE-0042", "BADGE-0077") if any(verifies(h, b) for h in pickup)) == [
        "BADGE-0042",
        "BADGE-0077",
    ]
    assert not any(verifies(h, "BADGE-0099") for h in pickup)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT end_kind, badge_hash FROM task_badges")).all()
    assert sorted(end for end, _ in rows) == ["dropoff", "dropoff", "pickup", "pickup"]
    assert not any("BADGE-" in h for _, h in rows)


def test_badges_per_end_and_tasks_without_badges(store: Store) -> None:
    """A mapping names the badges of each end; a task without badges (or with an empty list) has none."""
    store.add_task(make_task("T-2"), actor="ros", badges={"pickup": ["PHARMACIST-1"], "dropoff": ["NURSE-9"]})
    (p,) = store.task_badge_hashes("T-2", "pickup")
    (d,) = store.task_badge_hashes("T-2", "dropoff")
    assert verifies(p, "PHARMACIST-1") and not verifies(p, "NURSE-9")
    assert verifies(d, "NURSE-9") and not verifies(d, "PHARMACIST-1")
    store.add_task(make_task("T-3"), actor="nurse", pin="4711")
    store.add_task(make_task("T-4"), actor="nurse", pin="4711", badges=[])
    assert store.task_badge_hashes("T-3") == store.task_badge_hashes("T-4") == frozenset()


@pytest.mark.parametrize(
    ("badges", "message"),
    [
        ("BADGE-1", r"badges: expected a list"),
        ({"lobby": ["B"]}, r"badges: unknown task end\(s\) lobby"),
        ({"pickup": "B"}, r"badges\.pickup: expected a list"),
        (["ok", ""], r"badges\.pickup\[1\]: must be a non-empty string"),
        (["x" * (MAX_BADGE_CHARS + 1)], rf"badges\.pickup\[0\]: must be at most {MAX_BADGE_CHARS}"),
        (["bad\nbadge"], r"badges\.pickup\[0\]: must be at most .* printable"),
        ([f"B{i}" for i in range(MAX_BADGES_PER_END + 1)], rf"badges\.pickup: at most {MAX_BADGES_PER_END}"),
    ],
)
def test_bad_badges_are_refused_naming_the_field_and_nothing_is_stored(
    store: Store, badges: object, message: str
) -> None:
    """Bad badges raise InvalidInputError naming the field (never echoing a badge); no task is written."""
    with pytest.raises(InvalidInputError, match=message):
        store.add_task(make_task("T-bad"), actor="ros", badges=badges)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        store.get_task("T-bad")


def test_a_duplicate_task_leaves_the_first_tasks_badges_alone(store: Store) -> None:
    """A second task with the same id is refused in one transaction: no badge of it is added."""
    store.add_task(make_task("T-5"), actor="ros", badges=["A-1"])
    with pytest.raises(DuplicateError):
        store.add_task(make_task("T-5"), actor="ros", badges=["A-2"])
    (h,) = store.task_badge_hashes("T-5", "pickup")
    assert verifies(h, "A-1")


def test_badge_lookup_errors_name_the_field(store: Store) -> None:
    """An unknown task is NotFoundError; an end other than pickup / dropoff is InvalidInputError."""
    with pytest.raises(NotFoundError, match="T-none"):
        store.task_badge_hashes("T-none")
    store.add_task(make_task("T-6"), actor="ros", badges=["A-1"])
    with pytest.raises(InvalidInputError, match="end: must be pickup or dropoff"):
        store.task_badge_hashes("T-6", "charge")
