"""The store: every read and write of the product's records goes through :class:`Store`.

Rules it keeps:

- **Written before acknowledged.** Every write method commits before it returns; when it
  returns, the record survives a crash of the process (and, on SQLite with synchronous=FULL, of
  the machine). A method that raises has changed nothing.
- **Validated through the domain types.** Inputs may be domain objects or plain mappings (parsed
  JSON); both are rebuilt through the domain dataclass, so its checks run, and bad input raises
  ``InvalidInputError`` naming the field. Over-long text is refused the same way on both
  databases.
- **Task status follows** ``hospital_ops.domain.TASK_TRANSITIONS``; every change (and the
  creation) is a row of ``task_status_history``, written in the same transaction.
- **Accountability.** Writes made by people or devices take an ``actor`` and append an audit
  entry in the same transaction (status changes are audited by their history rows; robot state
  updates, which arrive every few seconds, are not audited). The audit log, the status history
  and the custody events are append-only: the store has no method to change them and the
  database refuses UPDATE/DELETE on them.
- **Secrets stay inside.** PINs and passwords are stored as argon2 hashes, device tokens as
  SHA-256; no record returned carries a hash.

Thread safety: one ``Store`` may be shared by threads (each call uses its own session).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, TypeVar

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import BigInteger, Engine, Integer, SmallInteger, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement

from hospital_ops.domain import (
    TASK_TRANSITIONS,
    CheckIn,
    CustodyEvent,
    CustodyKind,
    DeliveryTask,
    Patient,
    Plan,
    Priority,
    Robot,
    RobotMode,
    StopKind,
    TaskKind,
    TaskStatus,
    TriageResult,
    Vitals,
)
from hospital_ops.store import aggregates, convert
from hospital_ops.store.engine import make_engine, redact, writer
from hospital_ops.store.errors import (
    DuplicateError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    StoreError,
)
from hospital_ops.store.migrate import ensure_schema
from hospital_ops.store.models import (
    AlertRow,
    AuditRow,
    Base,
    CheckInRow,
    ConsentRow,
    CustodyRow,
    DeviceTokenRow,
    PatientRow,
    RobotRow,
    StatusHistoryRow,
    TaskRow,
    TriageRow,
    UserRow,
)
from hospital_ops.store.records import (
    Alert,
    AlertSeverity,
    AuditEntry,
    Consent,
    DeviceToken,
    PlanApplied,
    RobotRecord,
    StatusChange,
    TaskRecord,
    TriageRecord,
    User,
)

E = TypeVar("E", bound=Enum)


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
PIN_PATTERN: Final = re.compile(r"\d{4,8}")
USERNAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_CHARS: Final = 12
_INT32: Final = 2**31 - 1
_INT64: Final = 2**63 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def _values(value: E | str | Iterable[E | str], enum_cls: type[E], field: str) -> list[str]:
    items = [value] if isinstance(value, str | Enum) else list(value)
    return [convert.enum_value(enum_cls, v, field).value for v in items]


def _strings(value: str | Iterable[str], field: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    return [convert.text(v, field) for v in items]


def _check_row(row: Base) -> None:
    """Refuse text longer than its column and integers outside the column's range, the same way
    on SQLite (which would store them) and PostgreSQL (which would fail with a driver error)."""
    for column in row.__table__.columns:
        value = getattr(row, column.key, None)
        where = f"{row.__tablename__}.{column.name}"
        if isinstance(value, str) and isinstance(column.type, String) and column.type.length:
            if len(value) > column.type.length:
                raise InvalidInputError(f"{where}: {len(value)} characters, at most {column.type.length}")
        elif isinstance(value, int) and not isinstance(value, bool):
            if isinstance(column.type, BigInteger):
                bound = _INT64
            elif isinstance(column.type, SmallInteger):
                bound = 32767
            elif isinstance(column.type, Integer):
                bound = _INT32
            else:
                continue
            if not -bound - 1 <= value <= bound:
                raise InvalidInputError(f"{where}: {value} is out of range")


def _triage_record(r: TriageRow) -> TriageRecord:
    return TriageRecord(
        r.id,
        r.patient_id,
        r.check_in_id,
        convert.triage_from_row(r),
        convert.vitals_from_json(r.vitals),
        r.at,
        r.actor,
    )


def _positive(value: int | None, field: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidInputError(f"{field}: must be a whole number >= 1, got {value!r}")
    return value


def _json_object(detail: Mapping[str, Any] | None, field: str) -> dict[str, Any]:
    if detail is None:
        return {}
    if not isinstance(detail, Mapping):
        raise InvalidInputError(f"{field}: expected a mapping, got {type(detail).__name__}")
    data = convert.plain(dict(detail))
    try:
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{field}: not representable as JSON ({exc})") from None
    return data  # type: ignore[no-any-return]


class Store:
    """Repository over one database. Open with :meth:`Store.open`; close with :meth:`close`
    (or use it as a context manager)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        hasher: PasswordHasher | None = None,
        owns_engine: bool = False,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._owns_engine = owns_engine
        self._read_session = sessionmaker(engine, expire_on_commit=False)
        self._write_session = sessionmaker(writer(engine), expire_on_commit=False)
        self._dummy_hash: str | None = None

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        auto_upgrade: bool | None = None,
        clock: Callable[[], datetime] = utcnow,
        hasher: PasswordHasher | None = None,
        **engine_options: Any,
    ) -> Store:
        """Open the database at ``url`` (default: the configured one, see ``hospital_ops.config``).

        A fresh SQLite database is migrated to the current schema; any other database not at the
        current schema is refused with ``SchemaError`` saying to run ``hospital-ops db upgrade``
        (``auto_upgrade``: see ``hospital_ops.store.migrate.ensure_schema``).
        """
        if url is None:
            from hospital_ops.config import get_settings

            url = get_settings().database_url_or_default()
        engine = make_engine(url, **engine_options)
        try:
            ensure_schema(engine, auto_upgrade=auto_upgrade)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock=clock, hasher=hasher, owns_engine=True)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({redact(self.engine.url)})"

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    # -- plumbing -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise StoreError("the store's clock returned a naive datetime; it must be timezone-aware")
        return now.astimezone(UTC)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._read_session() as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction: committed (durably) when the block ends, rolled back on error."""
        try:
            with self._write_session() as session, session.begin():
                yield session
        except IntegrityError as exc:  # a race the pre-checks could not see, or a CHECK failing
            raise self._integrity_error(exc) from exc

    @staticmethod
    def _integrity_error(exc: IntegrityError) -> StoreError:
        message = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        lowered = message.lower()
        if "unique" in lowered or "duplicate" in lowered:
            return DuplicateError(f"already exists ({message})")
        if "foreign key" in lowered:
            return NotFoundError(f"refers to a record that does not exist ({message})")
        return InvalidInputError(f"refused by the database ({message})")

    @staticmethod
    def _add(session: Session, *rows: Base) -> None:
        for row in rows:
            _check_row(row)
            session.add(row)
        session.flush()

    def _audit(
        self,
        session: Session,
        actor: str,
        action: str,
        subject: str,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditRow:
        row = AuditRow(
            at=self._now(),
            actor=convert.text(actor, "actor"),
            action=convert.text(action, "action"),
            subject=convert.text(subject, "subject", empty=True),
            detail=_json_object(detail, "detail"),
        )
        self._add(session, row)
        return row

    def _hash_secret(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def _verify_secret(self, stored_hash: str | None, secret: str) -> bool:
        if stored_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not-a-real-secret")
            stored_hash = self._dummy_hash  # same work either way: no timing oracle for "unknown"
            result = False
        else:
            result = True
        try:
            self._hasher.verify(stored_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return result

    # -- tasks --------------------------------------------------------------------------------

    @staticmethod
    def _task_record(row: TaskRow) -> TaskRecord:
        return TaskRecord(
            task=convert.task_from_row(row),
            status=TaskStatus(row.status),
            robot_id=row.robot_id,
            eta_s=row.eta_s,
            ward=row.ward,
            has_pin=row.pin_hash is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @staticmethod
    def _check_pin_hash(pin_hash: str) -> str:
        if not isinstance(pin_hash, str) or not pin_hash.startswith("$argon2id$"):
            raise InvalidInputError("pin_hash: must be an argon2id hash (never send the PIN itself)")
        try:
            extract_parameters(pin_hash)
        except InvalidHashError:
            raise InvalidInputError("pin_hash: not a well-formed argon2id hash") from None
        return pin_hash

    def task_pin_hash(self, task_id: str) -> str | None:
        """The argon2id hash of the task's PIN (None if it has none).

        Only for the scheduler node, which hands it to the robot with the leg so the drawer can
        check the PIN itself; never put it in an API response.
        """
        with self._read() as s:
            row = s.get(TaskRow, task_id)
            if row is None:
                raise NotFoundError(f"task {task_id}: no such task")
            return row.pin_hash

    def task_badge_hashes(self, task_id: str, end: StopKind | str | None = None) -> frozenset[str]:
        """The argon2 hashes of the badges that open the task's drawer at ``end`` ("pickup" or
        "dropoff"; None: at either). Only for the scheduler node (like :meth:`task_pin_hash`)."""
        from hospital_ops.store.badges import BADGE_ENDS, TaskBadgeRow

        end_kind = None if end is None else str(getattr(end, "value", end))
        if end_kind is not None and end_kind not in BADGE_ENDS:
            raise InvalidInputError(f"end: must be pickup or dropoff, got {end_kind!r}")
        with self._read() as s:
            if s.get(TaskRow, task_id) is None:
                raise NotFoundError(f"task {task_id}: no such task")
            query = select(TaskBadgeRow.badge_hash).where(TaskBadgeRow.task_id == task_id)
            if end_kind is not None:
                query = query.where(TaskBadgeRow.end_kind == end_kind)
            return frozenset(s.scalars(query))

    @staticmethod
    def _check_pin(pin: str) -> str:
        if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
            raise InvalidInputError("pin: must be 4 to 8 digits")
        return pin

    def add_task(
        self,
        task: DeliveryTask | Mapping[str, Any],
        *,
        actor: str,
        pin: str | None = None,
        pin_hash: str | None = None,
        ward: str | None = None,
        reason: str = "requested",
        badges: Iterable[str] | Mapping[str, Iterable[str]] | None = None,
    ) -> TaskRecord:
        """Store a new delivery task in status REQUESTED (and its first history row).

        ``task`` is a ``DeliveryTask`` or a mapping of its fields (``handling`` may be a mapping).
        ``pin`` (4–8 digits) is what the receiver types at the drawer; only its argon2 hash is
        kept. A client that hashed the PIN itself (a task submitted over ROS: the PIN never
        crosses the wire) passes ``pin_hash``, an argon2id PHC string, instead. ``ward`` tags the task for ward filters. A task id that exists raises
        ``DuplicateError``. ``badges``: badge ids that open the drawer (at both ends, or a mapping
        ``{"pickup": [...], "dropoff": [...]}``); only an argon2 hash of each is kept
        (``hospital_ops.store.badges``, read back by :meth:`task_badge_hashes`).
        """
        checked = convert.build(DeliveryTask, task)
        actor = convert.text(actor, "actor")
        if ward is not None:
            ward = convert.text(ward, "ward")
        if pin is not None and pin_hash is not None:
            raise InvalidInputError("pin: give the PIN or its hash (pin_hash), not both")
        if pin is not None:
            pin_hash = self._hash_secret(self._check_pin(pin))
        elif pin_hash is not None:
            pin_hash = self._check_pin_hash(pin_hash)
        reason = convert.text(reason, "reason", empty=True)
        badge_rows = self._badge_rows(checked.id, badges) if badges is not None else []
        with self._write() as s:
            row = self._insert_task(s, checked, ward=ward, pin_hash=pin_hash, actor=actor, reason=reason)
            if badge_rows:
                self._add(s, *badge_rows)
            return self._task_record(row)

    def _badge_rows(self, task_id: str, badges: Iterable[str] | Mapping[str, Iterable[str]]) -> list[Base]:
        """The task_badges rows of a new task: each distinct badge hashed once (salted), per end."""
        from hospital_ops.store.badges import TaskBadgeRow, check_badges

        hashes: dict[str, str] = {}
        rows: list[Base] = []
        for end, ids in check_badges(badges).items():
            for badge in ids:
                if badge not in hashes:
                    hashes[badge] = self._hash_secret(badge)
                rows.append(TaskBadgeRow(task_id=task_id, end_kind=end, badge_hash=hashes[badge]))
        return rows

    def _insert_task(
        self, s: Session, task: DeliveryTask, *, ward: str | None, pin_hash: str | None, actor: str, reason: str
    ) -> TaskRow:
        """A new REQUESTED task, its first history row and its audit entry, inside the caller's
        transaction (``add_task``; a FHIR Bundle adds many in one)."""
        existing = s.get(TaskRow, task.id)
        if existing is not None:
            raise DuplicateError(f"task {task.id}: already exists (status {existing.status})")
        now = self._now()
        row = TaskRow(
            **convert.task_columns(task),
            ward=ward,
            status=TaskStatus.REQUESTED.value,
            robot_id=None,
            eta_s=None,
            pin_hash=pin_hash,
            created_at=now,
            updated_at=now,
        )
        self._add(s, row)
        self._add(
            s,
            StatusHistoryRow(
                task_id=task.id,
                from_status=None,
                to_status=TaskStatus.REQUESTED.value,
                at=now,
                actor=actor,
                reason=reason,
                robot_id=None,
            ),
        )
        self._audit(
            s,
            actor,
            "task.add",
            f"task:{task.id}",
            {"priority": task.priority, "pickup": task.pickup, "dropoff": task.dropoff},
        )
        return row

    def get_task(self, task_id: str) -> TaskRecord:
        """The task, or ``NotFoundError``."""
        with self._read() as s:
            row = s.get(TaskRow, task_id)
            if row is None:
                raise NotFoundError(f"task {task_id}: no such task")
            return self._task_record(row)

    def list_tasks(
        self,
        *,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None = None,
        priority: Priority | str | Iterable[Priority | str] | None = None,
        kind: TaskKind | str | Iterable[TaskKind | str] | None = None,
        ward: str | Iterable[str] | None = None,
        requester: str | Iterable[str] | None = None,
        robot_id: str | Iterable[str] | None = None,
        open_only: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TaskRecord]:
        """Tasks matching every filter given (each takes one value or several), by deadline then id."""
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(TaskRow.status.in_(_values(status, TaskStatus, "status")))
        if priority is not None:
            conditions.append(TaskRow.priority.in_(_values(priority, Priority, "priority")))
        if kind is not None:
            conditions.append(TaskRow.kind.in_(_values(kind, TaskKind, "kind")))
        if ward is not None:
            conditions.append(TaskRow.ward.in_(_strings(ward, "ward")))
        if requester is not None:
            conditions.append(TaskRow.requester.in_(_strings(requester, "requester")))
        if robot_id is not None:
            conditions.append(TaskRow.robot_id.in_(_strings(robot_id, "robot_id")))
        if open_only:
            conditions.append(TaskRow.status.not_in([s.value for s in TaskStatus if s.terminal]))
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidInputError(f"limit: must be a whole number >= 0, got {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInputError(f"offset: must be a whole number >= 0, got {offset!r}")
        query = select(TaskRow).where(*conditions).order_by(TaskRow.deadline_s, TaskRow.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as s:
            return [self._task_record(row) for row in s.scalars(query)]

    def tasks_changed_since(self, since: datetime, *, limit: int = 5_000) -> list[TaskRecord]:
        """Tasks created or changed at or after ``since`` (aware datetime), oldest change first.

        What live views poll to push only what moved. Callers keep a small look-back window
        and de-duplicate by ``updated_at``, because concurrent writers may commit slightly out
        of timestamp order.
        """
        if not isinstance(since, datetime) or since.tzinfo is None:
            raise InvalidInputError(f"since: must be a timezone-aware datetime, got {since!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit: must be a whole number >= 1, got {limit!r}")
        query = select(TaskRow).where(TaskRow.updated_at >= since).order_by(TaskRow.updated_at, TaskRow.id).limit(limit)
        with self._read() as s:
            return [self._task_record(row) for row in s.scalars(query)]

    def open_tasks(self, **filters: Any) -> list[TaskRecord]:
        """Tasks not yet delivered, failed or cancelled (what the planner plans), by deadline."""
        return self.list_tasks(open_only=True, **filters)

    # -- aggregates (dashboards: the database counts; see ``aggregates``) ----------------------

    def open_task_counts(self, *, now_s: int) -> aggregates.OpenTaskCounts:
        """Open tasks by priority, and how many are late: promised drop-off (``now_s`` when no
        ETA yet) after the deadline. One GROUP BY over the open tasks."""
        with self._read() as s:
            return aggregates.open_task_counts(s.execute(aggregates.open_task_counts_query(now_s)))

    def delivery_counts(
        self,
        *,
        since: datetime,
        until: datetime | None = None,
        priority: Priority | str | Iterable[Priority | str] | None = None,
    ) -> aggregates.DeliveryCounts:
        """Tasks delivered at or after ``since`` (before ``until``), and how many of them at or
        before their deadline (``delivered time <= deadline_s``, to the microsecond)."""
        for name, value in (("since", since), ("until", until)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidInputError(f"{name}: must be a timezone-aware datetime, got {value!r}")
        priorities = None if priority is None else _values(priority, Priority, "priority")
        query = aggregates.delivery_counts_query(self.dialect, since, until, priorities)
        with self._read() as s:
            n, on_time = s.execute(query).one()
        return aggregates.DeliveryCounts(int(n or 0), int(on_time or 0))

    def overdue_open_tasks(self, *, now_s: int, limit: int = 100) -> list[TaskRecord]:
        """Open tasks later than promised at ``now_s`` (past their ETA or deadline, or promised
        after the deadline), longest-late first (then deadline, id); at most ``limit``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit: must be a whole number >= 1, got {limit!r}")
        with self._read() as s:
            return [self._task_record(row) for row in s.scalars(aggregates.overdue_query(now_s, limit))]

    def hourly_task_counts(self, *, day0_s: int, now_s: int) -> aggregates.HourlyTaskCounts:
        """Tasks requested (by priority) and delivered per hour since ``day0_s``, up to ``now_s``,
        and of those delivered, how many at or before their deadline to the microsecond (the
        rule of ``delivery_counts``)."""
        requested, delivered = aggregates.hourly_queries(self.dialect, day0_s, now_s)
        out = aggregates.HourlyTaskCounts()
        with self._read() as s:
            for priority, hour, n in s.execute(requested):
                out.requested[(priority, int(hour))] = int(n)
            for hour, n, on_time in s.execute(delivered):
                out.delivered[int(hour)] = int(n)
                out.on_time[int(hour)] = int(on_time or 0)
        return out

    def triage_level_counts(self, *, since: datetime, newest: int | None = None) -> dict[int, int]:
        """Triage results at or after ``since`` (among the ``newest`` by id; None = all):
        level -> count (levels without any absent)."""
        query = aggregates.triage_level_counts_query(since, _positive(newest, "newest"))
        with self._read() as s:
            return {int(level): int(n) for level, n in s.execute(query)}

    def red_flag_triage(self, *, since: datetime, limit: int = 100, newest: int | None = None) -> list[TriageRecord]:
        """Triage results at or after ``since`` (among the ``newest`` by id; None = all) that were
        escalated or are level 1–2, oldest (whole second) first, newest first within a second;
        at most ``limit``."""
        if _positive(limit, "limit") is None:
            raise InvalidInputError("limit: must be a whole number >= 1, got None")
        query = aggregates.red_flag_query(self.dialect, since, limit, _positive(newest, "newest"))
        with self._read() as s:
            return [_triage_record(r) for r in s.scalars(query)]

    def kiosk_wait_stats(
        self, *, since_s: int, until_s: int, triage_newest: int | None = None
    ) -> aggregates.KioskWaitStats:
        """Check-ins with ``since_s <= at_s <= until_s`` and those with no triage result yet
        (among the ``triage_newest`` by id; None = any): their count, total and longest wait
        until ``until_s``. Reads the window's check-ins through ``ix_check_ins_at_s``."""
        query = aggregates.kiosk_wait_query(since_s, until_s, _positive(triage_newest, "triage_newest"))
        with self._read() as s:
            return aggregates.kiosk_wait_stats(s.execute(query).one())

    def open_alert_count(self) -> int:
        """Alerts not yet acknowledged."""
        with self._read() as s:
            return int(s.execute(aggregates.open_alert_count_query()).scalar_one())

    def _transition(
        self,
        s: Session,
        row: TaskRow,
        to: TaskStatus,
        *,
        actor: str,
        reason: str,
        robot_id: str | _Unset | None = UNSET,
        eta_s: int | _Unset | None = UNSET,
    ) -> None:
        current = TaskStatus(row.status)
        allowed = TASK_TRANSITIONS[current]
        if to not in allowed:
            options = ", ".join(sorted(a.value for a in allowed)) or "none, it is final"
            raise IllegalTransitionError(
                f"task {row.id}: cannot go from {current.value} to {to.value} (allowed from {current.value}: {options})"
            )
        if to is TaskStatus.REQUESTED:  # back in the pool: no robot, no promise
            robot_id = None if robot_id is UNSET else robot_id
            eta_s = None if eta_s is UNSET else eta_s
        now = self._now()
        if robot_id is not UNSET:
            row.robot_id = None if robot_id is None else convert.text(robot_id, "robot_id")
        if eta_s is not UNSET:
            if eta_s is not None and (isinstance(eta_s, bool) or not isinstance(eta_s, int)):
                raise InvalidInputError(f"task {row.id}: eta_s: expected a whole number, got {eta_s!r}")
            row.eta_s = eta_s
        row.status = to.value
        row.updated_at = now
        _check_row(row)
        self._add(
            s,
            StatusHistoryRow(
                task_id=row.id,
                from_status=current.value,
                to_status=to.value,
                at=now,
                actor=actor,
                reason=reason,
                robot_id=row.robot_id,
            ),
        )

    def transition_task(
        self,
        task_id: str,
        to_status: TaskStatus | str,
        *,
        actor: str,
        reason: str = "",
        robot_id: str | _Unset | None = UNSET,
        eta_s: int | _Unset | None = UNSET,
    ) -> TaskRecord:
        """Move a task to ``to_status`` if ``TASK_TRANSITIONS`` allows it, recording who and why.

        ``robot_id`` / ``eta_s`` set the assigned robot and promised drop-off in the same change
        (left as they are when not given; cleared when the task goes back to REQUESTED). Raises
        ``NotFoundError`` or ``IllegalTransitionError`` (naming both statuses).
        """
        to = convert.enum_value(TaskStatus, to_status, "to_status")
        actor = convert.text(actor, "actor")
        reason = convert.text(reason, "reason", empty=True)
        with self._write() as s:
            row = s.get(TaskRow, task_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"task {task_id}: no such task")
            self._transition(s, row, to, actor=actor, reason=reason, robot_id=robot_id, eta_s=eta_s)
            return self._task_record(row)

    def task_history(self, task_id: str) -> list[StatusChange]:
        """Every status of a task, oldest first; the first entry (from None) is its creation."""
        with self._read() as s:
            if s.get(TaskRow, task_id) is None:
                raise NotFoundError(f"task {task_id}: no such task")
            rows = s.scalars(
                select(StatusHistoryRow).where(StatusHistoryRow.task_id == task_id).order_by(StatusHistoryRow.id)
            )
            return [
                StatusChange(
                    task_id=r.task_id,
                    from_status=None if r.from_status is None else TaskStatus(r.from_status),
                    to_status=TaskStatus(r.to_status),
                    at=r.at,
                    actor=r.actor,
                    reason=r.reason,
                    robot_id=r.robot_id,
                )
                for r in rows
            ]

    def set_pin(self, task_id: str, pin: str, *, actor: str) -> None:
        """Set or replace the receiver's PIN of a task (only the hash is stored)."""
        actor = convert.text(actor, "actor")
        pin_hash = self._hash_secret(self._check_pin(pin))
        with self._write() as s:
            row = s.get(TaskRow, task_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"task {task_id}: no such task")
            row.pin_hash = pin_hash
            row.updated_at = self._now()
            self._audit(s, actor, "task.pin_set", f"task:{task_id}")

    def verify_pin(self, task_id: str, pin: str) -> bool:
        """True when ``pin`` is the task's PIN. False for a wrong PIN or a task without one.

        Counting wrong attempts and locking out is the caller's job (custody DENIED / LOCKED_OUT
        events and an alert); this only compares.
        """
        with self._read() as s:
            row = s.get(TaskRow, task_id)
            if row is None:
                raise NotFoundError(f"task {task_id}: no such task")
            stored = row.pin_hash
        if not isinstance(pin, str):
            return False
        return self._verify_secret(stored, pin)

    def apply_plan(self, plan: Plan, *, actor: str, reason: str = "plan") -> PlanApplied:
        """Record a planner's decision in one transaction.

        Each task on a route gets that robot and its drop-off ETA: REQUESTED -> PLANNED, or
        PLANNED -> PLANNED when it moves to another robot (history rows); an ETA-only change
        updates the task without a history row. PLANNED tasks the plan leaves unassigned go back
        to REQUESTED (reason: the planner's). Finished, unknown and on-board-another-robot tasks
        are skipped and reported.
        """
        actor = convert.text(actor, "actor")
        assigned: dict[str, tuple[str, int | None]] = {}
        for route in plan.routes:
            for task_id in route.task_ids:
                eta = next(
                    (st.eta_s for st in route.stops if st.task_id == task_id and st.kind is StopKind.DROPOFF),
                    None,
                )
                assigned[task_id] = (route.robot_id, eta)
        planned: list[str] = []
        eta_updated: list[str] = []
        unplanned: list[str] = []
        skipped: dict[str, str] = {}
        ids = sorted(set(assigned) | set(plan.unassigned))
        with self._write() as s:
            rows = {
                r.id: r
                for r in s.scalars(select(TaskRow).where(TaskRow.id.in_(ids)).with_for_update().order_by(TaskRow.id))
            }
            for task_id, (robot_id, eta) in assigned.items():
                row = rows.get(task_id)
                if row is None:
                    skipped[task_id] = "no such task"
                    continue
                status = TaskStatus(row.status)
                if status.terminal:
                    skipped[task_id] = f"already {status.value}"
                elif status is TaskStatus.PICKED_UP:
                    if row.robot_id != robot_id:
                        skipped[task_id] = f"on board {row.robot_id}"
                    elif row.eta_s != eta:
                        row.eta_s, row.updated_at = eta, self._now()
                        eta_updated.append(task_id)
                elif status is TaskStatus.REQUESTED or row.robot_id != robot_id:
                    self._transition(
                        s, row, TaskStatus.PLANNED, actor=actor, reason=reason, robot_id=robot_id, eta_s=eta
                    )
                    planned.append(task_id)
                elif row.eta_s != eta:
                    row.eta_s, row.updated_at = eta, self._now()
                    eta_updated.append(task_id)
            for task_id, why in plan.unassigned.items():
                row = rows.get(task_id)
                if row is None:
                    skipped[task_id] = "no such task"
                elif row.status == TaskStatus.PLANNED.value:
                    self._transition(s, row, TaskStatus.REQUESTED, actor=actor, reason=f"unassigned: {why}"[:1000])
                    unplanned.append(task_id)
                elif row.status != TaskStatus.REQUESTED.value:
                    skipped[task_id] = f"unassigned but {row.status}"
        return PlanApplied(tuple(planned), tuple(eta_updated), tuple(unplanned), skipped)

    # -- robots -------------------------------------------------------------------------------

    def upsert_robot(self, robot: Robot | Mapping[str, Any], *, heartbeat: bool = True) -> RobotRecord:
        """Insert or replace a robot's state. ``heartbeat`` (default): the robot itself reported
        it now, so ``last_heartbeat_at`` becomes now; False (registering from configuration)
        leaves the last heartbeat as it was."""
        checked = convert.build(Robot, robot)
        now = self._now()
        values = {**convert.robot_columns(checked), "updated_at": now}
        values["last_heartbeat_at"] = now if heartbeat else None
        _check_row(RobotRow(**values))
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = insert(RobotRow).values(**values)
        update = {k: stmt.excluded[k] for k in values if k != "id" and (heartbeat or k != "last_heartbeat_at")}
        with self._write() as s:
            s.execute(stmt.on_conflict_do_update(index_elements=[RobotRow.id], set_=update))
            row = s.get(RobotRow, checked.id, populate_existing=True)
            assert row is not None
            return RobotRecord(convert.robot_from_row(row), row.last_heartbeat_at, row.updated_at)

    def get_robot(self, robot_id: str) -> RobotRecord:
        with self._read() as s:
            row = s.get(RobotRow, robot_id)
            if row is None:
                raise NotFoundError(f"robot {robot_id}: no such robot")
            return RobotRecord(convert.robot_from_row(row), row.last_heartbeat_at, row.updated_at)

    def list_robots(self, *, mode: RobotMode | str | Iterable[RobotMode | str] | None = None) -> list[RobotRecord]:
        query = select(RobotRow).order_by(RobotRow.id)
        if mode is not None:
            query = query.where(RobotRow.mode.in_(_values(mode, RobotMode, "mode")))
        with self._read() as s:
            return [RobotRecord(convert.robot_from_row(r), r.last_heartbeat_at, r.updated_at) for r in s.scalars(query)]

    # -- custody ------------------------------------------------------------------------------

    def record_custody(
        self,
        event: CustodyEvent | Mapping[str, Any],
        *,
        transition: TaskStatus | str | None = None,
        reason: str = "",
    ) -> int:
        """Append a custody event (a hand-over) and return its id.

        With ``transition``, the task's status changes in the same transaction (e.g. LOADED with
        ``PICKED_UP``, DELIVERED with ``DELIVERED``), by the event's actor (or robot).
        """
        checked = convert.build(CustodyEvent, event, where="custody event: ")
        for name in ("task_id", "robot_id", "location"):
            convert.text(getattr(checked, name), name, "custody event: ")
        if checked.method not in ("pin", "badge"):
            raise InvalidInputError(f"custody event: method: {checked.method!r} is not one of pin, badge")
        if checked.drawer < 0:
            raise InvalidInputError(f"custody event: drawer: must not be negative, got {checked.drawer}")
        to = None if transition is None else convert.enum_value(TaskStatus, transition, "transition")
        actor = checked.actor or f"robot:{checked.robot_id}"
        with self._write() as s:
            task = s.get(TaskRow, checked.task_id, with_for_update=True)
            if task is None:
                raise NotFoundError(f"custody event: task {checked.task_id}: no such task")
            row = CustodyRow(
                task_id=checked.task_id,
                robot_id=checked.robot_id,
                kind=checked.kind.value,
                location=checked.location,
                at_s=checked.at_s,
                method=checked.method,
                actor=checked.actor,
                drawer=checked.drawer,
                recorded_at=self._now(),
            )
            self._add(s, row)
            if to is not None:
                self._transition(
                    s,
                    task,
                    to,
                    actor=actor,
                    reason=reason or f"custody {checked.kind.value}",
                    robot_id=checked.robot_id if to is TaskStatus.PICKED_UP else UNSET,
                )
            return row.id

    def custody_events(
        self,
        *,
        task_id: str | None = None,
        robot_id: str | None = None,
        kind: CustodyKind | str | Iterable[CustodyKind | str] | None = None,
    ) -> list[CustodyEvent]:
        """Custody events, in the order they were recorded."""
        query = select(CustodyRow).order_by(CustodyRow.id)
        if task_id is not None:
            query = query.where(CustodyRow.task_id == task_id)
        if robot_id is not None:
            query = query.where(CustodyRow.robot_id == robot_id)
        if kind is not None:
            query = query.where(CustodyRow.kind.in_(_values(kind, CustodyKind, "kind")))
        with self._read() as s:
            return [convert.custody_from_row(r) for r in s.scalars(query)]

    # -- patients, consents, check-ins, triage -----------------------------------------------------

    def add_patient(self, patient: Patient | Mapping[str, Any], *, actor: str) -> Patient:
        """Store a new patient. Duplicate id, MRN or id-number hash raises ``DuplicateError``."""
        checked = convert.build(Patient, patient)
        for name in ("id", "mrn", "name"):
            convert.text(getattr(checked, name), name, f"patient {checked.id}: ")
        actor = convert.text(actor, "actor")
        with self._write() as s:
            if s.get(PatientRow, checked.id) is not None:
                raise DuplicateError(f"patient {checked.id}: already exists")
            same_mrn = s.scalar(select(PatientRow.id).where(PatientRow.mrn == checked.mrn))
            if same_mrn is not None:
                raise DuplicateError(f"patient {checked.id}: mrn: already used by patient {same_mrn}")
            if checked.id_number_hash is not None:
                same_id = s.scalar(select(PatientRow.id).where(PatientRow.id_number_hash == checked.id_number_hash))
                if same_id is not None:
                    raise DuplicateError(f"patient {checked.id}: id_number_hash: already used by patient {same_id}")
            self._add(
                s,
                PatientRow(
                    id=checked.id,
                    mrn=checked.mrn,
                    name=checked.name,
                    birth_year=checked.birth_year,
                    sex=checked.sex.value,
                    id_number_hash=checked.id_number_hash,
                    phone=checked.phone,
                    credit_care=checked.credit_care,
                    created_at=self._now(),
                ),
            )
            self._audit(s, actor, "patient.add", f"patient:{checked.id}")
        return checked

    def get_patient(self, patient_id: str) -> Patient:
        with self._read() as s:
            row = s.get(PatientRow, patient_id)
            if row is None:
                raise NotFoundError(f"patient {patient_id}: no such patient")
            return convert.patient_from_row(row)

    def find_patient(self, *, mrn: str | None = None, id_number_hash: str | None = None) -> Patient | None:
        """The patient with that MRN or id-number hash (exactly one of them), or None."""
        if (mrn is None) == (id_number_hash is None):
            raise InvalidInputError("find_patient: give exactly one of mrn, id_number_hash")
        column = PatientRow.mrn if mrn is not None else PatientRow.id_number_hash
        with self._read() as s:
            row = s.scalar(select(PatientRow).where(column == (mrn if mrn is not None else id_number_hash)))
            return None if row is None else convert.patient_from_row(row)

    def _require_patient(self, s: Session, patient_id: str, where: str) -> None:
        if s.get(PatientRow, patient_id) is None:
            raise NotFoundError(f"{where}patient {patient_id}: no such patient")

    def record_consent(self, patient_id: str, purpose: str, granted: bool, *, actor: str, source: str = "") -> Consent:
        """Record a patient's decision on ``purpose`` (e.g. ``"face_identification"``); the latest
        decision counts, earlier ones stay as history."""
        purpose = convert.text(purpose, "purpose")
        actor = convert.text(actor, "actor")
        source = convert.text(source, "source", empty=True)
        if not isinstance(granted, bool):
            raise InvalidInputError(f"granted: expected true or false, got {granted!r}")
        now = self._now()
        with self._write() as s:
            self._require_patient(s, patient_id, "consent: ")
            self._add(
                s,
                ConsentRow(patient_id=patient_id, purpose=purpose, granted=granted, at=now, actor=actor, source=source),
            )
            self._audit(s, actor, "consent.record", f"patient:{patient_id}", {"purpose": purpose, "granted": granted})
        return Consent(patient_id, purpose, granted, now, actor, source)

    def consents(self, patient_id: str, purpose: str | None = None) -> list[Consent]:
        """A patient's consent decisions, oldest first."""
        query = select(ConsentRow).where(ConsentRow.patient_id == patient_id).order_by(ConsentRow.id)
        if purpose is not None:
            query = query.where(ConsentRow.purpose == purpose)
        with self._read() as s:
            return [Consent(r.patient_id, r.purpose, r.granted, r.at, r.actor, r.source) for r in s.scalars(query)]

    def has_consent(self, patient_id: str, purpose: str) -> bool:
        """True when the patient's latest decision on ``purpose`` is a grant (no decision = no)."""
        decisions = self.consents(patient_id, purpose)
        return bool(decisions) and decisions[-1].granted

    def add_check_in(self, check_in: CheckIn | Mapping[str, Any], *, actor: str) -> CheckIn:
        """Store a check-in of a known patient; duplicate id raises ``DuplicateError``."""
        checked = convert.build(CheckIn, check_in)
        for name in ("id", "patient_id", "kiosk_id"):
            convert.text(getattr(checked, name), name, f"check-in {checked.id}: ")
        actor = convert.text(actor, "actor")
        with self._write() as s:
            if s.get(CheckInRow, checked.id) is not None:
                raise DuplicateError(f"check-in {checked.id}: already exists")
            self._require_patient(s, checked.patient_id, f"check-in {checked.id}: ")
            self._add(
                s,
                CheckInRow(
                    id=checked.id,
                    patient_id=checked.patient_id,
                    kiosk_id=checked.kiosk_id,
                    method=checked.method.value,
                    at_s=checked.at_s,
                    appointment_id=checked.appointment_id,
                    recorded_at=self._now(),
                ),
            )
            self._audit(s, actor, "checkin.add", f"patient:{checked.patient_id}", {"check_in": checked.id})
        return checked

    def get_check_in(self, check_in_id: str) -> CheckIn:
        with self._read() as s:
            row = s.get(CheckInRow, check_in_id)
            if row is None:
                raise NotFoundError(f"check-in {check_in_id}: no such check-in")
            return convert.check_in_from_row(row)

    def check_ins(
        self, *, patient_id: str | None = None, kiosk_id: str | None = None, limit: int | None = None
    ) -> list[CheckIn]:
        """Check-ins, newest (campus clock) first."""
        query = select(CheckInRow).order_by(CheckInRow.at_s.desc(), CheckInRow.id.desc())
        if patient_id is not None:
            query = query.where(CheckInRow.patient_id == patient_id)
        if kiosk_id is not None:
            query = query.where(CheckInRow.kiosk_id == kiosk_id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as s:
            return [convert.check_in_from_row(r) for r in s.scalars(query)]

    def add_triage_result(
        self,
        result: TriageResult | Mapping[str, Any],
        *,
        patient_id: str,
        actor: str,
        check_in_id: str | None = None,
        vitals: Vitals | Mapping[str, Any] | None = None,
    ) -> TriageRecord:
        """Store a triage result for a patient (optionally of a check-in, with the vitals used)."""
        checked = convert.build(TriageResult, result, where="triage result: ")
        convert.text(checked.destination, "destination", "triage result: ")
        checked_vitals = None if vitals is None else convert.build(Vitals, vitals, where="vitals: ")
        actor = convert.text(actor, "actor")
        now = self._now()
        with self._write() as s:
            self._require_patient(s, patient_id, "triage result: ")
            if check_in_id is not None:
                check_in = s.get(CheckInRow, check_in_id)
                if check_in is None:
                    raise NotFoundError(f"triage result: check-in {check_in_id}: no such check-in")
                if check_in.patient_id != patient_id:
                    raise InvalidInputError(
                        f"triage result: check_in_id: {check_in_id} is patient {check_in.patient_id}'s, "
                        f"not {patient_id}'s"
                    )
            row = TriageRow(
                patient_id=patient_id,
                check_in_id=check_in_id,
                level=int(checked.level),
                reasons=convert.plain(checked.reasons),
                destination=checked.destination,
                escalate=checked.escalate,
                missing=list(checked.missing),
                ruleset=checked.ruleset,
                vitals=None if checked_vitals is None else convert.plain(checked_vitals),
                at=now,
                actor=actor,
            )
            self._add(s, row)
            self._audit(
                s,
                actor,
                "triage.add",
                f"patient:{patient_id}",
                {"level": int(checked.level), "escalate": checked.escalate, "check_in": check_in_id},
            )
            return TriageRecord(row.id, patient_id, check_in_id, checked, checked_vitals, now, actor)

    def triage_results(
        self, *, patient_id: str | None = None, check_in_id: str | None = None, limit: int | None = None
    ) -> list[TriageRecord]:
        """Triage results, newest first."""
        query = select(TriageRow).order_by(TriageRow.id.desc())
        if patient_id is not None:
            query = query.where(TriageRow.patient_id == patient_id)
        if check_in_id is not None:
            query = query.where(TriageRow.check_in_id == check_in_id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as s:
            return [_triage_record(r) for r in s.scalars(query)]

    # -- alerts -------------------------------------------------------------------------------

    @staticmethod
    def _alert(row: AlertRow) -> Alert:
        return Alert(
            id=row.id,
            kind=row.kind,
            severity=AlertSeverity(row.severity),
            subject=row.subject,
            message=row.message,
            raised_at=row.raised_at,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
        )

    def raise_alert(
        self,
        kind: str,
        message: str,
        *,
        severity: AlertSeverity | str = AlertSeverity.WARNING,
        subject: str = "",
        actor: str = "system",
    ) -> Alert:
        """Raise an alert for staff (``kind`` e.g. ``"triage.red_flag"``, ``"drawer.locked_out"``;
        ``subject`` e.g. ``"task:T-1"``)."""
        level = convert.enum_value(AlertSeverity, severity, "severity")
        row = AlertRow(
            kind=convert.text(kind, "kind"),
            severity=level.value,
            subject=convert.text(subject, "subject", empty=True),
            message=convert.text(message, "message"),
            raised_at=self._now(),
            acknowledged_at=None,
            acknowledged_by=None,
        )
        actor = convert.text(actor, "actor")
        with self._write() as s:
            self._add(s, row)
            self._audit(s, actor, "alert.raise", row.subject, {"alert": row.id, "kind": row.kind})
            return self._alert(row)

    def ack_alert(self, alert_id: int, *, by: str) -> Alert:
        """Acknowledge an alert. Acknowledging again changes nothing (the first one counts)."""
        by = convert.text(by, "by")
        with self._write() as s:
            row = s.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"alert {alert_id}: no such alert")
            if row.acknowledged_at is None:
                row.acknowledged_at = self._now()
                row.acknowledged_by = by
                _check_row(row)
                self._audit(s, by, "alert.ack", row.subject, {"alert": row.id, "kind": row.kind})
            return self._alert(row)

    def list_alerts(
        self,
        *,
        open_only: bool = False,
        kind: str | None = None,
        severity: AlertSeverity | str | Iterable[AlertSeverity | str] | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[Alert]:
        """Alerts, newest first."""
        query = select(AlertRow).order_by(AlertRow.id.desc())
        if open_only:
            query = query.where(AlertRow.acknowledged_at.is_(None))
        if kind is not None:
            query = query.where(AlertRow.kind == kind)
        if severity is not None:
            query = query.where(AlertRow.severity.in_(_values(severity, AlertSeverity, "severity")))
        if subject is not None:
            query = query.where(AlertRow.subject == subject)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as s:
            return [self._alert(r) for r in s.scalars(query)]

    # -- users and device tokens --------------------------------------------------------------

    @staticmethod
    def _user(row: UserRow) -> User:
        return User(username=row.username, role=row.role, active=row.active, created_at=row.created_at)

    @staticmethod
    def _check_password(password: str) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
            raise InvalidInputError(f"password: must be at least {MIN_PASSWORD_CHARS} characters")
        return password

    def add_user(self, username: str, role: str, password: str, *, actor: str) -> User:
        """Create a staff account; the password is kept as an argon2 hash."""
        if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username):
            raise InvalidInputError(
                f"username: {username!r} must be 1-64 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit"
            )
        role = convert.text(role, "role")
        actor = convert.text(actor, "actor")
        password_hash = self._hash_secret(self._check_password(password))
        now = self._now()
        with self._write() as s:
            if s.get(UserRow, username) is not None:
                raise DuplicateError(f"user {username}: already exists")
            row = UserRow(
                username=username, role=role, password_hash=password_hash, active=True, created_at=now, updated_at=now
            )
            self._add(s, row)
            self._audit(s, actor, "user.add", f"user:{username}", {"role": role})
            return self._user(row)

    def get_user(self, username: str) -> User:
        with self._read() as s:
            row = s.get(UserRow, username)
            if row is None:
                raise NotFoundError(f"user {username}: no such user")
            return self._user(row)

    def list_users(self) -> list[User]:
        with self._read() as s:
            return [self._user(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with that password, else None (same work for unknown users).
        Upgrades the stored hash when the hasher's parameters have changed."""
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        with self._read() as s:
            row = s.get(UserRow, username)
            stored = None if row is None else row.password_hash
            user = None if row is None else self._user(row)
        if not self._verify_secret(stored, password) or user is None or not user.active:
            return None
        assert stored is not None
        if self._hasher.check_needs_rehash(stored):
            new_hash = self._hash_secret(password)
            with self._write() as s:
                row = s.get(UserRow, username, with_for_update=True)
                if row is not None and row.password_hash == stored:
                    row.password_hash = new_hash
        return user

    def set_password(self, username: str, password: str, *, actor: str) -> None:
        actor = convert.text(actor, "actor")
        password_hash = self._hash_secret(self._check_password(password))
        with self._write() as s:
            row = s.get(UserRow, username, with_for_update=True)
            if row is None:
                raise NotFoundError(f"user {username}: no such user")
            row.password_hash = password_hash
            row.updated_at = self._now()
            self._audit(s, actor, "user.password_set", f"user:{username}")

    def set_user_active(self, username: str, active: bool, *, actor: str) -> User:
        actor = convert.text(actor, "actor")
        if not isinstance(active, bool):
            raise InvalidInputError(f"active: expected true or false, got {active!r}")
        with self._write() as s:
            row = s.get(UserRow, username, with_for_update=True)
            if row is None:
                raise NotFoundError(f"user {username}: no such user")
            row.active = active
            row.updated_at = self._now()
            self._audit(s, actor, "user.activate" if active else "user.deactivate", f"user:{username}")
            return self._user(row)

    @staticmethod
    def _token_hash(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def issue_device_token(self, device_id: str, kind: str, *, actor: str) -> tuple[str, DeviceToken]:
        """A new bearer token for a robot or kiosk. The token is returned once and stored only as
        its SHA-256 (it is 256 random bits, so a fast hash is enough)."""
        device_id = convert.text(device_id, "device_id")
        kind = convert.text(kind, "kind")
        actor = convert.text(actor, "actor")
        token = secrets.token_urlsafe(32)
        row = DeviceTokenRow(
            device_id=device_id, kind=kind, token_hash=self._token_hash(token), created_at=self._now(), revoked_at=None
        )
        with self._write() as s:
            self._add(s, row)
            self._audit(s, actor, "device_token.issue", f"device:{device_id}", {"token": row.id, "kind": kind})
            return token, DeviceToken(row.id, row.device_id, row.kind, row.created_at, None)

    def verify_device_token(self, token: str) -> DeviceToken | None:
        """The device of a valid (not revoked) token, else None."""
        if not isinstance(token, str) or not token:
            return None
        with self._read() as s:
            row = s.scalar(select(DeviceTokenRow).where(DeviceTokenRow.token_hash == self._token_hash(token)))
            if row is None or row.revoked_at is not None:
                return None
            return DeviceToken(row.id, row.device_id, row.kind, row.created_at, None)

    def revoke_device_tokens(self, device_id: str, *, actor: str) -> int:
        """Revoke every live token of a device; the number revoked."""
        actor = convert.text(actor, "actor")
        now = self._now()
        with self._write() as s:
            rows = list(
                s.scalars(
                    select(DeviceTokenRow)
                    .where(DeviceTokenRow.device_id == device_id, DeviceTokenRow.revoked_at.is_(None))
                    .with_for_update()
                )
            )
            for row in rows:
                row.revoked_at = now
            if rows:
                self._audit(s, actor, "device_token.revoke", f"device:{device_id}", {"count": len(rows)})
            return len(rows)

    # -- audit --------------------------------------------------------------------------------

    @staticmethod
    def _entry(row: AuditRow) -> AuditEntry:
        return AuditEntry(row.id, row.at, row.actor, row.action, row.subject, dict(row.detail))

    def audit(self, actor: str, action: str, subject: str = "", detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append to the audit log (e.g. a login, a view of patient data, an export). Entries can
        never be changed or removed. Never put secrets or clinical detail in ``detail``."""
        with self._write() as s:
            return self._entry(self._audit(s, actor, action, subject, detail))

    def audit_log(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        """Audit entries matching the filters, oldest first (or newest first)."""
        query = select(AuditRow).order_by(AuditRow.id.desc() if newest_first else AuditRow.id)
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if action is not None:
            query = query.where(AuditRow.action == action)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as s:
            return [self._entry(r) for r in s.scalars(query)]
