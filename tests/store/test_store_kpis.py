"""The store's aggregate reads (``open_task_counts``, ``delivery_counts``, ...) on tasks written
through the store itself, on SQLite and PostgreSQL; bad arguments are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Select

from hospital_ops.domain import CheckIn, CheckInMethod, DeliveryTask, Patient, Priority, TaskStatus
from hospital_ops.store import InvalidInputError, Store, aggregates


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


class SetClock:
    """The store's clock, set by the test (every reading gives ``now``)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_on_time_is_exact_on_the_tile_and_on_the_chart(db_url: str) -> None:
    """One "on time" rule: a delivery made exactly at its deadline is on time, one made half a
    second (or a microsecond) after it is late, in ``delivery_counts`` (the STAT tile) and in
    ``hourly_task_counts`` (the day chart) alike, on both databases."""
    day0 = datetime(2026, 1, 5, tzinfo=UTC)
    #: task -> (hour of its deadline, delivered this long after the deadline, on time?)
    cases = {"E0": (1, 0.0, True), "E1": (2, 0.5, False), "E2": (3, 0.000001, False), "E3": (4, -0.5, True)}
    clock = SetClock(day0)
    with Store.open(db_url, clock=clock) as store:
        for task_id, (hour, late_by, _) in cases.items():
            deadline = day0 + timedelta(hours=hour, minutes=30)
            deadline_s = int(deadline.timestamp())
            clock.now = deadline - timedelta(minutes=20)
            task = DeliveryTask(task_id, "A", "B", Priority.STAT, earliest_s=deadline_s - 600, deadline_s=deadline_s)
            store.add_task(task, actor="nurse:amy")
            store.transition_task(task_id, TaskStatus.PLANNED, actor="scheduler", robot_id="R1", eta_s=deadline_s)
            store.transition_task(task_id, TaskStatus.PICKED_UP, actor="robot:R1")
            clock.now = deadline + timedelta(seconds=late_by)
            store.transition_task(task_id, TaskStatus.DELIVERED, actor="robot:R1")
            assert store.get_task(task_id).updated_at == clock.now
        hourly = store.hourly_task_counts(day0_s=int(day0.timestamp()), now_s=int(day0.timestamp()) + 6 * 3600)
        for task_id, (hour, _, expected) in cases.items():
            since = day0 + timedelta(hours=hour)
            tile = store.delivery_counts(since=since, until=since + timedelta(hours=1), priority="stat")
            assert (tile.delivered, tile.on_time) == (1, int(expected)), task_id
            assert (hourly.delivered[hour], hourly.on_time[hour]) == (1, int(expected)), task_id
        whole_day = store.delivery_counts(since=day0)
        assert whole_day == aggregates.DeliveryCounts(4, 2)
        assert sum(hourly.on_time.values()) == whole_day.on_time


def _plan(conn: Connection, query: Select) -> str:
    """The database's plan for ``query`` with its parameters bound as the store binds them."""
    compiled = query.compile(conn)
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
    rows = conn.exec_driver_sql(prefix + compiled.string, params).all()
    return "\n".join(" | ".join(str(c) for c in row) for row in rows)


def test_kiosk_waits_read_check_ins_through_the_at_s_index(db_url: str) -> None:
    """The kiosk tile's query reads the window's check-ins through ``ix_check_ins_at_s`` (no
    scan of every check-in ever): EXPLAIN QUERY PLAN on SQLite; EXPLAIN on PostgreSQL with
    sequential scans priced out (a test table is too small for the planner to prefer an index
    by itself). The counts are still right."""
    now_s = int(datetime(2026, 1, 5, 14, 30, tzinfo=UTC).timestamp())
    with Store.open(db_url) as store:
        store.add_patient(Patient("P1", "MRN-1", "Patient One"), actor="kiosk:K1")
        for i, age_s in enumerate([60, 3600, 5 * 3600, 30 * 3600]):
            store.add_check_in(CheckIn(f"C{i}", "P1", "K1", CheckInMethod.FACE, now_s - age_s), actor="kiosk:K1")
        stats = store.kiosk_wait_stats(since_s=now_s - 4 * 3600, until_s=now_s, triage_newest=4_000)
        assert (stats.checked_in, stats.waiting, stats.total_wait_s, stats.max_wait_s) == (2, 2, 3660, 3600)
        query = aggregates.kiosk_wait_query(now_s - 4 * 3600, now_s, 4_000)
        with store.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = _plan(conn, query)
    assert "ix_check_ins_at_s" in plan, plan
    if store.dialect == "sqlite":
        assert "SCAN check_ins" not in plan, plan
    else:
        assert "Seq Scan on check_ins" not in plan, plan
