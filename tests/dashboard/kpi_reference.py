"""The dashboard KPIs counted row by row in Python: the definition ``ops_dashboard.services.kpis``
(aggregate queries) must reproduce exactly.

This is the implementation the dashboard used before the store could aggregate (kept verbatim
apart from names): it loads every open task, every STAT delivery ever made, the newest 2,000
triage results and check-ins, the newest 4,000 triage results again, and every task changed
today, and counts them here. The tests compare both on seeded and random stores; the benchmark
(benchmarks/bench_kpis.py) times both. Not used by the product.

Where the two may differ, by design (outside what a hospital produces; see the tests):

- ``late_tasks``: ``(eta_s or now)`` took an ETA of 0 (1970) for "no ETA"; the store uses
  ``eta_s IS NULL``, as ``attention`` here always did;
- the row caps above (more than 2,000 triage results or check-ins in 4 hours, more than 20,000
  task changes in a day): here they silently dropped records, the aggregates count them all.

One change from the original on purpose: the day chart counted a delivery as on time by whole
seconds (``int(delivered) <= deadline_s``: half a second late was on time in the chart and
late on the tile); both now use the tile's exact rule (``delivered <= deadline_s``).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hospital_ops.domain import Priority, RobotMode, TaskStatus
from hospital_ops.store.records import TaskRecord
from ops_dashboard.services import DAY_SERIES_CACHE_S, OpsContext, cached, start_of_day_s


def kpis_reference(ctx: OpsContext) -> dict[str, Any]:
    """The dashboard's tiles, computed from the store's records and the live fleet view."""
    now = ctx.now_s()
    day0 = start_of_day_s(now)
    open_tasks = ctx.store.open_tasks()
    by_prio = Counter(r.task.priority.value for r in open_tasks)
    late_open = [r.id for r in open_tasks if (r.eta_s or now) > r.task.deadline_s]
    done_today = [
        r
        for r in ctx.store.list_tasks(status=TaskStatus.DELIVERED, priority=Priority.STAT)
        if r.updated_at.timestamp() >= day0
    ]
    on_time = sum(1 for r in done_today if r.updated_at.timestamp() <= r.task.deadline_s)
    robots = ctx.store.list_robots()
    mode_of = {r.id: r.robot.mode.value for r in robots}
    for rid, state in ctx.fleet.items():
        if isinstance(state.get("mode"), str):
            mode_of[rid] = state["mode"]
        else:
            mode_of.setdefault(rid, RobotMode.IDLE.value)
    modes = Counter(mode_of.values())
    lift_queue = sum(int(v.get("queue", 0)) for v in ctx.lifts.values())
    since = max(day0, now - 4 * 3600)
    triage = [t for t in ctx.store.triage_results(limit=2000) if t.at.timestamp() >= since]
    ed_levels = Counter(int(t.result.level) for t in triage)
    return {
        "at_s": now,
        "open_tasks": {p.value: by_prio.get(p.value, 0) for p in Priority} | {"total": len(open_tasks)},
        "late_tasks": len(late_open),
        "stat_on_time_today": {
            "delivered": len(done_today),
            "on_time": on_time,
            "pct": round(100.0 * on_time / len(done_today), 1) if done_today else None,
        },
        "robots": {m.value: modes.get(m.value, 0) for m in RobotMode} | {"total": len(mode_of)},
        "lift_queue": lift_queue,
        "lift_queues": {lid: int(v.get("queue", 0)) for lid, v in sorted(ctx.lifts.items())},
        "ed_queue_by_level": {str(level): ed_levels.get(level, 0) for level in range(1, 6)},
        "kiosk": kiosk_waits_reference(ctx, now),
        "alerts_open": len(ctx.store.list_alerts(open_only=True)),
        "today": cached(ctx, "today_reference", DAY_SERIES_CACHE_S, lambda: day_series_reference(ctx, now)),
        "attention": attention_reference(ctx, now, open_tasks, triage),
    }


def kiosk_waits_reference(ctx: OpsContext, now: int) -> dict[str, Any]:
    recent = [c for c in ctx.store.check_ins(limit=2000) if now - 4 * 3600 <= c.at_s <= now]
    if not recent:
        return {"waiting": 0, "mean_s": None, "max_s": None, "checked_in": 0}
    triaged = {t.check_in_id for t in ctx.store.triage_results(limit=4000) if t.check_in_id}
    waits = [now - c.at_s for c in recent if c.id not in triaged]
    return {
        "waiting": len(waits),
        "mean_s": round(sum(waits) / len(waits)) if waits else None,
        "max_s": max(waits) if waits else None,
        "checked_in": len(recent),
    }


def day_series_reference(ctx: OpsContext, now: int) -> dict[str, Any]:
    day0 = start_of_day_s(now)
    hours = max(1, min(24, (now - day0) // 3600 + 1))
    requested = {p.value: [0] * hours for p in Priority}
    delivered = [0] * hours
    on_time = [0] * hours
    since = datetime.fromtimestamp(day0, UTC)
    for r in ctx.store.tasks_changed_since(since, limit=20_000):
        created = int(r.created_at.timestamp())
        if day0 <= created <= now:
            requested[r.task.priority.value][min(hours - 1, (created - day0) // 3600)] += 1
        if r.status is TaskStatus.DELIVERED:
            done = int(r.updated_at.timestamp())
            if day0 <= done <= now:
                h = min(hours - 1, (done - day0) // 3600)
                delivered[h] += 1
                on_time[h] += int(r.updated_at.timestamp() <= r.task.deadline_s)  # exact, as on the tile
    return {"day0_s": day0, "requested": requested, "delivered": delivered, "on_time": on_time}


def attention_reference(
    ctx: OpsContext, now: int, open_tasks: list[TaskRecord], triage: list[Any]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for r in open_tasks:
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
    stored = {r.id: r for r in ctx.store.list_robots()}
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
    for t in triage:
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
    return items[:100]
