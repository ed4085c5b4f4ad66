"""What the web layer does with the store and the campus: new tasks, KPIs, JSON views.

Plain functions over the store, the campus and a clock, so pages, the REST API and the FHIR
intake share one way to create a delivery and one way to count the KPIs.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from hospital_ops.campus import Campus, LocationKind
from hospital_ops.domain import (
    DEFAULT_TURNAROUND_S,
    DeliveryTask,
    Handling,
    Priority,
    RobotMode,
    TaskKind,
)
from hospital_ops.store import Store
from hospital_ops.store.records import Alert, RobotRecord, TaskRecord, TriageRecord


class FieldError(ValueError):
    """Bad input for one field; the API answers 422 naming it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class OpsContext:
    """Everything a request handler needs, bound to the app (``app.extensions["hospital_ops"]``)."""

    store: Store
    campus: Campus
    clock: Callable[[], float] = time.time
    #: The hospital's time zone: what "today" means (appointments).
    tz: tzinfo = UTC
    #: Live fleet view pushed by the ROS bridge: robot id -> state dict; lift id -> state dict.
    fleet: dict[str, dict[str, Any]] = field(default_factory=dict)
    lifts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Slow-moving parts of the KPIs (the day's charts), recomputed at most every CACHE_S.
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def now_s(self) -> int:
        return int(self.clock())


def new_task_id(now_s: int) -> str:
    day = datetime.fromtimestamp(now_s, UTC).strftime("%Y%m%d")
    return f"T{day}-{secrets.token_hex(4).upper()}"


def new_pin() -> str:
    """A 6-digit receiver PIN (shown once to the requester, stored only as a hash)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def _location(campus: Campus, value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise FieldError(field_name, "must be a location id of the campus")
    if value not in campus.locations:
        raise FieldError(field_name, f"unknown location '{value}'")
    return value


def default_pickup(campus: Campus, kind: TaskKind, ward_station: str) -> tuple[str, str]:
    """(pickup, dropoff) for a ward's request: medication comes from the pharmacy to the ward,
    specimens go from the ward to the laboratory."""
    pharmacy = next(p.id for p in campus.by_kind(LocationKind.PHARMACY) if p.building == "MT" and p.floor != "B1")
    lab = campus.by_kind(LocationKind.LAB)[0].id
    if kind is TaskKind.SPECIMEN:
        return ward_station, lab
    return pharmacy, ward_station


def build_task(ctx: OpsContext, data: Mapping[str, Any], *, requester: str) -> tuple[DeliveryTask, str | None]:
    """A validated DeliveryTask from request data (and the ward it is for). Raises FieldError."""
    now = ctx.now_s()
    try:
        priority = Priority(data.get("priority", "routine"))
    except ValueError:
        raise FieldError("priority", "must be one of stat, urgent, routine") from None
    try:
        kind = TaskKind(data.get("kind", "medication"))
    except ValueError:
        raise FieldError("kind", "must be one of medication, specimen, supply") from None
    ward_id = data.get("ward")
    ward = None
    if ward_id is not None:
        ward = next((w for w in ctx.campus.wards if w.id == ward_id), None)
        if ward is None:
            raise FieldError("ward", f"unknown ward '{ward_id}'")
    pickup = data.get("pickup")
    dropoff = data.get("dropoff")
    if (pickup is None or dropoff is None) and ward is not None:
        dp, dd = default_pickup(ctx.campus, kind, ward.station)
        pickup = pickup or dp
        dropoff = dropoff or dd
    if pickup is None:
        raise FieldError("pickup", "missing (give pickup and dropoff, or a ward)")
    if dropoff is None:
        raise FieldError("dropoff", "missing (give pickup and dropoff, or a ward)")
    pickup = _location(ctx.campus, pickup, "pickup")
    dropoff = _location(ctx.campus, dropoff, "dropoff")
    if pickup == dropoff:
        raise FieldError("dropoff", "is the same place as pickup")
    earliest = data.get("earliest_s", now)
    if isinstance(earliest, bool) or not isinstance(earliest, int):
        raise FieldError("earliest_s", "must be whole seconds (Unix time)")
    deadline = data.get("deadline_s", max(earliest, now) + DEFAULT_TURNAROUND_S[priority])
    if isinstance(deadline, bool) or not isinstance(deadline, int):
        raise FieldError("deadline_s", "must be whole seconds (Unix time)")
    if deadline < earliest:
        raise FieldError("deadline_s", "is before the earliest pickup")
    units = data.get("units", 1)
    if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= 8:
        raise FieldError("units", "must be 1 to 8 drawer slots")
    h = data.get("handling") or {}
    if not isinstance(h, Mapping):
        raise FieldError("handling", "must be an object")
    max_transit = h.get("max_transit_s")
    if max_transit is not None and (
        isinstance(max_transit, bool) or not isinstance(max_transit, int) or max_transit <= 0
    ):
        raise FieldError("handling.max_transit_s", "must be positive whole seconds")
    items = data.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise FieldError("items", "must be a list of strings")
    task_id = data.get("id") or new_task_id(now)
    if not isinstance(task_id, str) or not 1 <= len(task_id) <= 64:
        raise FieldError("id", "must be a string of 1 to 64 characters")
    task = DeliveryTask(
        id=task_id,
        pickup=pickup,
        dropoff=dropoff,
        priority=priority,
        earliest_s=earliest,
        deadline_s=deadline,
        kind=kind,
        units=units,
        items=tuple(items),
        handling=Handling(
            cold_chain=bool(h.get("cold_chain", False)),
            controlled=bool(h.get("controlled", False)),
            max_transit_s=max_transit,
        ),
        requester=requester,
    )
    if ward is None:
        ward = ctx.campus.ward_of_station(dropoff) or ctx.campus.ward_of_station(pickup)
    return task, (ward.id if ward else None)


def staff_locations(campus: Campus, role: str, ward: str | None = None) -> set[str] | None:
    """Where a signed-in member of staff hands deliveries over: a ward nurse at her ward's nurse
    station, the pharmacy and the laboratory at theirs; None = anywhere (admin)."""
    if role == "ward_staff":
        return {w.station for w in campus.wards if w.id == ward}
    kinds = {"laboratory": (LocationKind.LAB,), "pharmacist": (LocationKind.PHARMACY,)}.get(role)
    if kinds is None:
        return None if role == "admin" else set()
    return {loc.id for k in kinds for loc in campus.by_kind(k)}


def task_json(rec: TaskRecord, campus: Campus | None = None) -> dict[str, Any]:
    t = rec.task
    out: dict[str, Any] = {
        "id": t.id,
        "pickup": t.pickup,
        "dropoff": t.dropoff,
        "priority": t.priority.value,
        "kind": t.kind.value,
        "units": t.units,
        "items": list(t.items),
        "handling": {
            "cold_chain": t.handling.cold_chain,
            "controlled": t.handling.controlled,
            "max_transit_s": t.handling.max_transit_s,
        },
        "earliest_s": t.earliest_s,
        "deadline_s": t.deadline_s,
        "requester": t.requester,
        "ward": rec.ward,
        "status": rec.status.value,
        "robot_id": rec.robot_id,
        "has_pin": rec.has_pin,
        "eta_s": rec.eta_s,
        "late": rec.eta_s is not None and rec.eta_s > t.deadline_s,
        "created_at": rec.created_at.isoformat(),
        "updated_at": rec.updated_at.isoformat(),
    }
    if campus is not None:
        for key in ("pickup", "dropoff"):
            loc = campus.locations.get(getattr(t, key))
            if loc is not None:
                out[f"{key}_name"] = {"en": loc.name, "zh": loc.name_zh}
    return out


def robot_json(rec: RobotRecord, live: Mapping[str, Any] | None = None) -> dict[str, Any]:
    r = rec.robot
    out = {
        "id": r.id,
        "location": r.location,
        "mode": r.mode.value,
        "battery_pct": round(r.battery_pct, 1),
        "capacity_units": r.capacity_units,
        "capabilities": sorted(c.value for c in r.capabilities),
        "on_board": list(r.on_board),
        "last_heartbeat_at": rec.last_heartbeat_at.isoformat() if rec.last_heartbeat_at else None,
    }
    if live:
        out.update({k: v for k, v in live.items() if k not in ("id",)})
    return out


def alert_json(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "severity": a.severity.value,
        "subject": a.subject,
        "message": a.message,
        "raised_at": a.raised_at.isoformat(),
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by,
    }


def start_of_day_s(now_s: int) -> int:
    d = datetime.fromtimestamp(now_s, UTC)
    return int(d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def kpis(ctx: OpsContext) -> dict[str, Any]:
    """The dashboard's tiles, computed from the store and the live fleet view.

    Every count is an aggregate query (the database counts; see ``hospital_ops.store.aggregates``):
    a tick reads a few numbers and at most 100 overdue tasks and red-flag triage results, not
    the task history. ``tests/dashboard/kpi_reference.py`` keeps the row-by-row definition the
    tests compare it with.
    """
    now = ctx.now_s()
    day0 = start_of_day_s(now)
    open_counts = ctx.store.open_task_counts(now_s=now)
    stat_today = ctx.store.delivery_counts(since=_utc(day0), priority=Priority.STAT)
    robots = ctx.store.list_robots()
    mode_of = {r.id: r.robot.mode.value for r in robots}
    for rid, state in ctx.fleet.items():  # the bridge's live view wins, and counts robots not yet stored
        if isinstance(state.get("mode"), str):
            mode_of[rid] = state["mode"]
        else:
            mode_of.setdefault(rid, RobotMode.IDLE.value)
    modes = Counter(mode_of.values())
    lift_queue = sum(int(v.get("queue", 0)) for v in ctx.lifts.values())
    since = _utc(max(day0, now - 4 * 3600))
    ed_levels = ctx.store.triage_level_counts(since=since, newest=TRIAGE_WINDOW_ROWS)
    overdue = ctx.store.overdue_open_tasks(now_s=now, limit=ATTENTION_MAX)
    red_flags = ctx.store.red_flag_triage(since=since, limit=ATTENTION_MAX, newest=TRIAGE_WINDOW_ROWS)
    return {
        "at_s": now,
        "open_tasks": dict(open_counts.by_priority) | {"total": open_counts.total},
        "late_tasks": open_counts.late,
        "stat_on_time_today": {
            "delivered": stat_today.delivered,
            "on_time": stat_today.on_time,
            "pct": round(100.0 * stat_today.on_time / stat_today.delivered, 1) if stat_today.delivered else None,
        },
        "robots": {m.value: modes.get(m.value, 0) for m in RobotMode} | {"total": len(mode_of)},
        "lift_queue": lift_queue,
        "lift_queues": {lid: int(v.get("queue", 0)) for lid, v in sorted(ctx.lifts.items())},
        "ed_queue_by_level": {str(level): ed_levels.get(level, 0) for level in range(1, 6)},
        "kiosk": kiosk_waits(ctx, now),
        "alerts_open": ctx.store.open_alert_count(),
        "today": cached(ctx, "today", DAY_SERIES_CACHE_S, lambda: day_series(ctx, now)),
        "attention": attention(ctx, now, overdue, red_flags, robots),
    }


#: The day's hourly charts change slowly; the tiles are recomputed every second.
DAY_SERIES_CACHE_S = 10.0
#: Longest attention list (overdue tasks, robots in fault, red-flag patients together).
ATTENTION_MAX = 100
#: The ED tile and the red flags look at the newest 2,000 triage results (by id) within their
#: 4-hour window, the kiosk tile takes a check-in as triaged by any of the newest 4,000: bounds
#: by primary key that keep a tick's cost flat however long the history.
TRIAGE_WINDOW_ROWS = 2_000
KIOSK_TRIAGE_ROWS = 4_000


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def cached(ctx: OpsContext, key: str, ttl_s: float, compute: Callable[[], Any]) -> Any:
    now = ctx.clock()
    hit = ctx.cache.get(key)
    if hit is not None and 0 <= now - hit[0] < ttl_s:
        return hit[1]
    value = compute()
    ctx.cache[key] = (now, value)
    return value


def kiosk_waits(ctx: OpsContext, now: int) -> dict[str, Any]:
    """Patients checked in at a kiosk in the last 4 hours who have no triage result yet."""
    stats = ctx.store.kiosk_wait_stats(since_s=now - 4 * 3600, until_s=now, triage_newest=KIOSK_TRIAGE_ROWS)
    return {
        "waiting": stats.waiting,
        "mean_s": round(stats.total_wait_s / stats.waiting)
        if stats.waiting and stats.total_wait_s is not None
        else None,
        "max_s": stats.max_wait_s if stats.waiting else None,
        "checked_in": stats.checked_in,
    }


def day_series(ctx: OpsContext, now: int) -> dict[str, Any]:
    """Today's charts: requests per hour by priority, deliveries and on-time deliveries per hour
    (on time: delivered at or before the deadline to the microsecond, as on the STAT tile)."""
    day0 = start_of_day_s(now)
    hours = max(1, min(24, (now - day0) // 3600 + 1))
    requested = {p.value: [0] * hours for p in Priority}
    delivered = [0] * hours
    on_time = [0] * hours
    counts = ctx.store.hourly_task_counts(day0_s=day0, now_s=now)
    for (priority, hour), n in counts.requested.items():
        requested[priority][min(hours - 1, hour)] += n
    for hour, n in counts.delivered.items():
        delivered[min(hours - 1, hour)] += n
        on_time[min(hours - 1, hour)] += counts.on_time.get(hour, 0)
    return {"day0_s": day0, "requested": requested, "delivered": delivered, "on_time": on_time}


def attention(
    ctx: OpsContext,
    now: int,
    overdue: list[TaskRecord],
    red_flags: list[TriageRecord],
    robots: list[RobotRecord] | None = None,
) -> list[dict[str, Any]]:
    """What needs a person now, longest-waiting first: tasks later than promised, robots in fault,
    red-flag patients. Each item: kind, subject, message, since_s (when it started).

    ``overdue``: ``Store.overdue_open_tasks`` (open tasks, filtered again here); ``red_flags``:
    ``Store.red_flag_triage``; ``robots``: the stored robots (read here when not given)."""
    items: list[dict[str, Any]] = []
    for r in overdue:
        promised = r.eta_s if r.eta_s is not None else r.task.deadline_s
        due = min(promised, r.task.deadline_s)
        if now > due or (r.eta_s is not None and r.eta_s > r.task.deadline_s):
            items.append(
                {
                    "kind": "task.late",
                    "severity": "critical" if r.task.priority is Priority.STAT else "warning",
                    "subject": f"task:{r.id}",
                    "message": f"{r.task.priority.value} {r.task.kind.value} {r.task.pickup} → {r.task.dropoff}"
                    + (f" on {r.robot_id}" if r.robot_id else " (no robot yet)"),
                    "since_s": min(due, now),
                }
            )
    stored = {r.id: r for r in (ctx.store.list_robots() if robots is None else robots)}
    for rid in sorted(set(stored) | set(ctx.fleet)):
        state = ctx.fleet.get(rid, {})
        mode = state.get("mode") or (stored[rid].robot.mode.value if rid in stored else "")
        if mode in (RobotMode.FAULT.value, RobotMode.LOST.value):
            since = state.get("since_s")
            if not isinstance(since, int | float) or isinstance(since, bool):
                rec = stored.get(rid)
                since = int(rec.updated_at.timestamp()) if rec else now
            items.append(
                {
                    "kind": f"robot.{mode}",
                    "severity": "critical",
                    "subject": f"robot:{rid}",
                    "message": str(state.get("error") or state.get("message") or f"{rid} is {mode}"),
                    "since_s": int(since),
                }
            )
    for t in red_flags:
        if t.result.escalate or int(t.result.level) <= 2:
            items.append(
                {
                    "kind": "patient.red_flag",
                    "severity": "critical",
                    "subject": f"patient:{t.patient_id}",
                    "message": f"triage level {int(t.result.level)} → {t.result.destination}: "
                    + "; ".join(r.en for r in t.result.reasons[:2]),
                    "since_s": int(t.at.timestamp()),
                }
            )
    items.sort(key=lambda i: i["since_s"])
    return items[:ATTENTION_MAX]
