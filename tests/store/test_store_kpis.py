"""The store's aggregate reads (``open_task_counts``, ``delivery_counts``, ...) on tasks written
through the store itself, on SQLite and PostgreSQL; bad arguments are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hospital_ops.domain import DeliveryTask, Priority, TaskStatus
from hospital_ops.store import InvalidInputError, Store


def _task(i: int, priority: Priority, deadline_s: int) -> DeliveryTask:
    return DeliveryTask(f"K{i}", "A", "B", priority, earliest_s=deadline_s - 600, deadline_s=deadline_s)


def test_counts_match_the_records(store: Store, clock: Any) -> None:
    """Open tasks by priority, late ones, today's deliveries and on-time ones, the overdue list
    and the hourly chart agree with counting ``list_tasks`` by hand."""
    now_s = int(clock.now.timestamp()) + 100
    for i, prio in enumerate([Priority.STAT, Priority.STAT, Priority.URGENT, Priority.ROUTINE]):
        store.add_task(_task(i, prio, now_s - 50 + 100 * i), actor="nurse:amy")
    store.transition_task("K1", TaskStatus.PLANNED, actor="scheduler", robot_id="R1", eta_s=now_s + 20)
    store.transition_task("K2", TaskStatus.PLANNED, actor="scheduler", robot_id="R1", eta_s=now_s + 10)
    store.transition_task("K2", TaskStatus.PICKED_UP, actor="robot:R1")
    store.transition_task("K2", TaskStatus.DELIVERED, actor="robot:R1")
    store.transition_task("K3", TaskStatus.CANCELLED, actor="nurse:amy")

    counts = store.open_task_counts(now_s=now_s)
    assert counts.by_priority == {"stat": 2, "urgent": 0, "routine": 0} and counts.total == 2
    assert counts.late == 1  # K0: no ETA, deadline passed; K1 promised in time
    day0 = clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert store.delivery_counts(since=day0) == store.delivery_counts(since=day0, priority=["urgent"])
    assert store.delivery_counts(since=day0).delivered == 1
    assert store.delivery_counts(since=day0, priority="stat").delivered == 0
    assert store.delivery_counts(since=clock.now + timedelta(seconds=10)).delivered == 0
    assert [r.id for r in store.overdue_open_tasks(now_s=now_s)] == ["K0"]
    hourly = store.hourly_task_counts(day0_s=int(day0.timestamp()), now_s=now_s)
    assert sum(hourly.requested.values()) == 4 and sum(hourly.delivered.values()) == 1


def test_triage_kiosk_and_alert_counts_on_an_empty_store(store: Store) -> None:
    """Nothing stored: zero counts, no waits, no red flags."""
    since = datetime(2026, 1, 5, tzinfo=UTC)
    assert store.triage_level_counts(since=since) == {} and store.red_flag_triage(since=since) == []
    stats = store.kiosk_wait_stats(since_s=0, until_s=10**10)
    assert (stats.checked_in, stats.waiting, stats.total_wait_s, stats.max_wait_s) == (0, 0, None, None)
    assert store.open_alert_count() == 0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.delivery_counts(since=datetime(2026, 1, 5)), "since"),
        (lambda s: s.delivery_counts(since=datetime(2026, 1, 5, tzinfo=UTC), priority="asap"), "priority"),
        (lambda s: s.overdue_open_tasks(now_s=0, limit=0), "limit"),
        (lambda s: s.red_flag_triage(since=datetime(2026, 1, 5, tzinfo=UTC), newest=0), "newest"),
        (lambda s: s.kiosk_wait_stats(since_s=0, until_s=1, triage_newest=True), "triage_newest"),
    ],
)
def test_bad_arguments_name_the_field(store: Store, call: Any, field: str) -> None:
    """A naive datetime, an unknown priority or a limit below 1 is refused, naming the field."""
    with pytest.raises(InvalidInputError, match=field):
        call(store)
