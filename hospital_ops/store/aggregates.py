"""Aggregate reads for dashboards: the database counts (COUNT / SUM / MAX / GROUP BY), Python
gets a handful of numbers instead of every task row.

The statements are built here and run by ``Store`` methods (``open_task_counts``,
``delivery_counts``, ``overdue_open_tasks``, ``hourly_task_counts``, ``triage_level_counts``,
``red_flag_triage``, ``kiosk_wait_stats``, ``open_alert_count``). Each works on SQLite and
PostgreSQL and gives exactly what counting the records in Python would give, including the
sub-second part of the bookkeeping times:

- ``floor_epoch(col)``: whole seconds of a ``*_at`` column, i.e. ``int(dt.timestamp())``;
- ``has_fraction(col)``: the column is not on a whole second, so
  ``dt.timestamp() <= s`` (``s`` an integer) is ``floor_epoch(col) + has_fraction(col) <= s``
  (``at_or_before``).

One "on time" rule for every KPI: a delivery is on time when it was made at or before its
deadline to the microsecond (``updated_at <= deadline_s``, ``on_time``): the tile
(``delivery_counts``) and the day's chart (``hourly_queries``) count the same deliveries, half a
second late is late in both. Only the *hour* a delivery is charted in uses whole seconds.

On SQLite a ``*_at`` value is the text ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's storage
format); its whole-second part is converted by ``strftime('%s', ...)`` on the first 19
characters only, because SQLite rounds fractional seconds to milliseconds (``.9999995`` would
become the next second). On PostgreSQL ``date_trunc('second', ...)`` is exact.

Every query that reads tasks is bounded by an indexed column (``status`` through
``ix_tasks_status_deadline``, or ``updated_at`` through ``ix_tasks_updated_at``), so its cost
follows the open tasks or the day's changes, not the whole history. The kiosk tile reads
check-ins through ``ix_check_ins_at_s`` (its 4-hour window of ``at_s``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, cast, exists, extract, func, literal, or_, select
from sqlalchemy.sql import ColumnElement, Select

from hospital_ops.domain import Priority, TaskStatus
from hospital_ops.store.models import AlertRow, CheckInRow, TaskRow, TriageRow

#: Statuses of a task not yet finished (the complement of ``TaskStatus.terminal``).
OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in TaskStatus if not s.terminal)


@dataclass(frozen=True, slots=True)
class OpenTaskCounts:
    """Open tasks (not delivered, failed or cancelled) by priority, and how many are late."""

    #: Every ``Priority`` value -> number of open tasks (0 included).
    by_priority: dict[str, int]
    #: Open tasks whose promised drop-off (``eta_s``; ``now_s`` when none yet) is after the deadline.
    late: int

    @property
    def total(self) -> int:
        return sum(self.by_priority.values())


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Deliveries in a period, and those made at or before their deadline."""

    delivered: int
    on_time: int


@dataclass(frozen=True, slots=True)
class HourlyTaskCounts:
    """One day's tasks by hour since ``day0_s`` (hour = whole seconds since day0 // 3600).

    ``requested[(priority, hour)]``: tasks created in that hour; ``delivered[hour]`` /
    ``on_time[hour]``: tasks delivered in that hour / of those, delivered at or before
    ``deadline_s`` to the microsecond (the rule of ``DeliveryCounts``). Hours with nothing are absent.
    """

    requested: dict[tuple[str, int], int] = field(default_factory=dict)
    delivered: dict[int, int] = field(default_factory=dict)
    on_time: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KioskWaitStats:
    """Check-ins in a period and those without a triage result yet (their waits, in seconds)."""

    checked_in: int
    waiting: int
    #: Sum and maximum of ``until_s - at_s`` over the waiting check-ins (None when none waits).
    total_wait_s: int | None
    max_wait_s: int | None


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def floor_epoch(column: Any, dialect: str) -> ColumnElement[int]:
    """Whole seconds since the epoch of a ``UTCDateTime`` column (``int(dt.timestamp())``)."""
    if dialect == "postgresql":
        return cast(extract("epoch", func.date_trunc("second", column)), BigInteger)
    return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)


def has_fraction(column: Any, dialect: str) -> ColumnElement[int]:
    """1 when a ``UTCDateTime`` column has a sub-second part, else 0."""
    if dialect == "postgresql":
        frac: ColumnElement[bool] = column > func.date_trunc("second", column)
    else:
        frac = cast(func.substr(column, 21, 6), Integer) > 0
    return case((frac, 1), else_=0)


def at_or_before(column: Any, seconds: Any, dialect: str) -> ColumnElement[bool]:
    """``column.timestamp() <= seconds`` to the microsecond, for a ``UTCDateTime`` column and
    integer seconds (a column or a value): ``floor_epoch + has_fraction <= seconds``."""
    return floor_epoch(column, dialect) + has_fraction(column, dialect) <= seconds


def on_time(dialect: str) -> ColumnElement[bool]:
    """A delivered task was on time: delivered (``updated_at``) at or before ``deadline_s``, to the
    microsecond (0.5 s after the deadline is late). The one rule of the tile and the chart."""
    return at_or_before(TaskRow.updated_at, TaskRow.deadline_s, dialect)


def unindexed(column: Any, dialect: str) -> Any:
    """``column`` as an expression no index serves, on SQLite.

    Queries over a window of ``updated_at`` must read it through ``ix_tasks_updated_at``.
    Without planner statistics (no ANALYZE) SQLite prefers an equality on ``status`` or
    ``priority``, or scanning their index for a GROUP BY, and would walk every delivered task
    ever; ``status || ''`` takes those indexes out of its choice (the SQLite documentation's
    way of disqualifying an index). PostgreSQL has statistics and chooses by itself."""
    return column.concat("") if dialect == "sqlite" else column


def _int(value: int) -> ColumnElement[int]:
    """A bound integer parameter typed BIGINT (campus times exceed 32 bits' worth of margin)."""
    return literal(value, BigInteger)


def open_task_counts_query(now_s: int) -> Select:
    eta_or_now = func.coalesce(TaskRow.eta_s, _int(now_s))
    late = func.sum(case((eta_or_now > TaskRow.deadline_s, 1), else_=0))
    return (
        select(TaskRow.priority, func.count(), late).where(TaskRow.status.in_(OPEN_STATUSES)).group_by(TaskRow.priority)
    )


def open_task_counts(rows: Any) -> OpenTaskCounts:
    by_priority = {p.value: 0 for p in Priority}
    late = 0
    for priority, n, n_late in rows:
        by_priority[priority] = int(n)
        late += int(n_late or 0)
    return OpenTaskCounts(by_priority, late)


def delivery_counts_query(
    dialect: str, since: datetime, until: datetime | None, priorities: list[str] | None
) -> Select:
    """Tasks DELIVERED with ``since <= updated_at`` (``< until``); of those, ``on_time``."""
    done = TaskRow.updated_at
    query = select(func.count(), func.sum(case((on_time(dialect), 1), else_=0))).where(
        unindexed(TaskRow.status, dialect) == TaskStatus.DELIVERED.value, done >= since
    )
    if until is not None:
        query = query.where(done < until)
    if priorities is not None:
        query = query.where(unindexed(TaskRow.priority, dialect).in_(priorities))
    return query


def overdue_query(now_s: int, limit: int) -> Select:
    """Open tasks later than promised, by when that started (then deadline, id).

    ``due`` = the earlier of the ETA and the deadline (the deadline when no ETA); overdue when
    ``now_s > due`` or the ETA is after the deadline; since = the earlier of ``due`` and now."""
    now = _int(now_s)
    due = case(
        (and_(TaskRow.eta_s.is_not(None), TaskRow.eta_s < TaskRow.deadline_s), TaskRow.eta_s),
        else_=TaskRow.deadline_s,
    )
    since = case((due < now, due), else_=now)
    late_eta = and_(TaskRow.eta_s.is_not(None), TaskRow.eta_s > TaskRow.deadline_s)
    return (
        select(TaskRow)
        .where(TaskRow.status.in_(OPEN_STATUSES), or_(now > due, late_eta))
        .order_by(since, TaskRow.deadline_s, TaskRow.id)
        .limit(limit)
    )


def hourly_queries(dialect: str, day0_s: int, now_s: int) -> tuple[Select, Select]:
    """(requested by priority and hour, delivered and ``on_time`` by hour) for tasks changed
    since day0 whose creation / delivery is in [day0_s, now_s] (whole seconds)."""
    day0, end = utc(day0_s), utc(now_s + 1)  # int(t) <= now_s  <=>  t < now_s + 1
    created, done = TaskRow.created_at, TaskRow.updated_at
    created_hour = ((floor_epoch(created, dialect) - _int(day0_s)) // 3600).label("hour")
    priority = unindexed(TaskRow.priority, dialect).label("priority")
    requested = (
        select(priority, created_hour, func.count())
        .where(done >= day0, created >= day0, created < end)  # updated_at >= created_at: the index bounds it
        .group_by(priority, created_hour)
    )
    done_s = floor_epoch(done, dialect)
    done_hour = ((done_s - _int(day0_s)) // 3600).label("hour")
    delivered = (
        select(done_hour, func.count(), func.sum(case((on_time(dialect), 1), else_=0)))
        .where(unindexed(TaskRow.status, dialect) == TaskStatus.DELIVERED.value, done >= day0, done < end)
        .group_by(done_hour)
    )
    return requested, delivered


def newest_triage(newest: int | None) -> ColumnElement[bool]:
    """Among the ``newest`` triage results (by id; None = all). Bounds a time window of triage
    results by the primary key, so it reads at most ``newest`` rows however long the history
    (``triage_results.at`` has no index)."""
    if newest is None:
        return literal(True)
    nth = select(TriageRow.id).order_by(TriageRow.id.desc()).offset(newest - 1).limit(1).scalar_subquery()
    return TriageRow.id >= func.coalesce(nth, 0)


def triage_level_counts_query(since: datetime, newest: int | None) -> Select:
    return (
        select(TriageRow.level, func.count())
        .where(TriageRow.at >= since, newest_triage(newest))
        .group_by(TriageRow.level)
    )


def red_flag_query(dialect: str, since: datetime, limit: int, newest: int | None) -> Select:
    """Triage results since ``since`` with a red flag (escalated, or level 1–2), oldest second
    first, newest id first within a second."""
    red = or_(TriageRow.escalate.is_(True), TriageRow.level <= 2)
    return (
        select(TriageRow)
        .where(TriageRow.at >= since, red, newest_triage(newest))
        .order_by(floor_epoch(TriageRow.at, dialect), TriageRow.id.desc())
        .limit(limit)
    )


def kiosk_wait_query(since_s: int, until_s: int, triage_newest: int | None) -> Select:
    """Check-ins with ``since_s <= at_s <= until_s`` (a range of ``ix_check_ins_at_s``: reads
    the window's check-ins, not the whole history) and those without a triage result."""
    triaged = exists().where(TriageRow.check_in_id == CheckInRow.id, newest_triage(triage_newest))
    recent = (
        select(CheckInRow.at_s, case((triaged, 0), else_=1).label("waiting"))
        .where(CheckInRow.at_s >= _int(since_s), CheckInRow.at_s <= _int(until_s))
        .subquery()
    )
    wait = _int(until_s) - recent.c.at_s
    waiting = recent.c.waiting == 1
    return select(
        func.count(),
        func.sum(recent.c.waiting),
        func.sum(case((waiting, wait), else_=None)),
        func.max(case((waiting, wait), else_=None)),
    )


def kiosk_wait_stats(row: Any) -> KioskWaitStats:
    n, waiting, total, longest = row
    return KioskWaitStats(
        checked_in=int(n or 0),
        waiting=int(waiting or 0),
        total_wait_s=None if total is None else int(total),
        max_wait_s=None if longest is None else int(longest),
    )


def open_alert_count_query() -> Select:
    return select(func.count()).select_from(AlertRow).where(AlertRow.acknowledged_at.is_(None))


__all__ = [
    "OPEN_STATUSES",
    "DeliveryCounts",
    "HourlyTaskCounts",
    "KioskWaitStats",
    "OpenTaskCounts",
]
