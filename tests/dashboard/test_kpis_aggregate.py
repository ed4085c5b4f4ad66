"""The dashboard KPIs from aggregate queries equal the KPIs counted row by row (kpi_reference),
on a hand-made store with every kind of task, on random stores (hypothesis), on SQLite and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kpi_reference import kpis_reference
from kpi_seed import at, check_in_row, clear, insert, patient_row, task_row, triage_row

from hospital_ops.campus import default_campus
from hospital_ops.domain import Priority, TaskStatus
from hospital_ops.store import Store, db_upgrade
from hospital_ops.store.aggregates import utc
from ops_dashboard.services import OpsContext, kpis, start_of_day_s

#: The campus clock of these tests: 14:30 on a Monday.
NOW = int(datetime(2026, 1, 5, 14, 30, tzinfo=UTC).timestamp())
DAY0 = start_of_day_s(NOW)


def context(store: Store, now: int = NOW, **kw: Any) -> OpsContext:
    return OpsContext(store=store, campus=default_campus(), clock=lambda: float(now), **kw)


def both(store: Store, now: int = NOW, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(aggregate KPIs, row-by-row KPIs), each on a fresh context (no cached chart)."""
    return kpis(context(store, now, **kw)), kpis_reference(context(store, now, **kw))


def known_mix(store: Store) -> None:
    """Open tasks in every open status and priority, late in each way; deliveries today on time,
    late by half a second and at the deadline exactly, yesterday's, cancelled and failed ones;
    triage results and check-ins inside and outside the 4-hour window."""
    n = NOW

    def t(i: str, prio: str, status: str, created: float, updated: float, deadline: int, eta: int | None = None):
        return task_row(
            i,
            priority=prio,
            status=status,
            created_at=at(created),
            updated_at=at(updated),
            deadline_s=deadline,
            eta_s=eta,
            robot_id=None if status == "requested" else "R07",
        )

    d = DAY0
    tasks = [
        t("A1", "stat", "requested", n - 100, n - 100, n + 600),  # in time, no ETA
        t("A2", "stat", "requested", n - 1000, n - 1000, n - 60),  # past its deadline, no ETA
        t("A3", "urgent", "planned", n - 200, n - 150.5, n + 900, n + 100),  # promised in time
        t("A4", "urgent", "planned", n - 300, n - 250, n + 900, n + 1000),  # promised after the deadline
        t("A5", "routine", "picked_up", n - 900, n - 800, n + 3000, n - 30),  # ETA passed, deadline not
        t("A6", "routine", "planned", n - 7000, n - 6000, n - 100, n - 50),  # both passed
        t("D1", "stat", "delivered", d + 3000, d + 3600.25, d + 3601),  # on time
        t("D2", "stat", "delivered", d + 3000, d + 3600, d + 3600),  # at the deadline exactly
        t("D3", "stat", "delivered", d + 3000, d + 3600.5, d + 3600),  # half a second late
        t("D4", "stat", "delivered", d - 900, d - 10, d + 100),  # yesterday
        t("D5", "urgent", "delivered", d + 7000, d + 9800, d + 9700),  # late, not STAT
        t("D6", "stat", "cancelled", d + 100, d + 200, d + 1000),
        t("D7", "routine", "failed", d + 100, d + 200, d + 20000),
        t("D8", "stat", "delivered", d - 600, d, d + 5000),  # delivered at midnight exactly
        t("D9", "stat", "delivered", d - 600, d - 0.000001, d + 5000),  # a microsecond before
    ]
    patients = [patient_row(f"P{i}", at(n - 20000)) for i in range(1, 6)]
    check_ins = [
        check_in_row("C1", "P1", n - 600),  # triaged
        check_in_row("C2", "P2", n - 1200),  # waiting
        check_in_row("C3", "P3", n - 5 * 3600),  # before the window
        check_in_row("C4", "P4", n + 60),  # after now
    ]
    triage = [
        triage_row("P5", level=1, escalate=True, at_dt=at(n - 5 * 3600)),  # before the window
        triage_row("P1", level=2, escalate=True, at_dt=at(n - 3 * 3600 + 0.7), check_in_id="C1"),
        triage_row("P3", level=3, escalate=False, at_dt=at(n - 3600)),
        triage_row("P4", level=4, escalate=True, at_dt=at(n - 3600)),
    ]
    insert(store, tasks=tasks, patients=patients, check_ins=check_ins, triage=triage)
    store.raise_alert("drawer.locked_out", "drawer 2 locked", subject="robot:R07")
    ack = store.raise_alert("robot.fault", "bumper", subject="robot:R01")
    store.ack_alert(ack.id, by="manager1")


FLEET = {"R01": {"mode": "fault", "since_s": NOW - 500, "error": "bumper pressed"}, "R02": {"mode": "busy"}}
LIFTS = {"T3-L1": {"queue": 2}, "T1-L2": {"queue": 1}}


def test_known_mix_same_as_row_by_row_and_as_counted_by_hand(store: Store) -> None:
    """Every tile and chart of the aggregate KPIs equals the row-by-row KPIs, and both equal the
    numbers counted by hand for the known mix (late in each way, half-second-late deliveries,
    midnight boundaries, the 4-hour windows)."""
    known_mix(store)
    new, old = both(store, fleet=FLEET, lifts=LIFTS)
    assert new == old
    assert new["open_tasks"] == {"stat": 2, "urgent": 2, "routine": 2, "total": 6}
    assert new["late_tasks"] == 3  # A2 (no ETA, deadline passed), A4, A6 (ETA after deadline)
    assert new["stat_on_time_today"] == {"delivered": 4, "on_time": 3, "pct": 75.0}  # D1 D2 D3 D8; D3 late
    assert new["ed_queue_by_level"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 0}
    assert new["kiosk"] == {"waiting": 1, "mean_s": 1200, "max_s": 1200, "checked_in": 2}
    assert new["alerts_open"] == 1
    assert new["robots"]["fault"] == 1 and new["robots"]["busy"] == 1 and new["lift_queue"] == 3
    assert [a["subject"] for a in new["attention"]] == [
        "patient:P1",  # red flag 3 h ago
        "patient:P4",  # escalated level 4, 1 h ago
        "robot:R01",  # fault since 500 s
        "task:A6",  # due N-100
        "task:A2",  # deadline N-60
        "task:A5",  # ETA N-30
        "task:A4",  # promised after its deadline: since now
    ]
    today = new["today"]
    assert today["requested"]["stat"][0] == 4 and sum(today["requested"]["stat"]) == 6  # D1 D2 D3 D6; A1 A2
    assert today["delivered"][0] == 1 and today["on_time"][0] == 1  # D8 at midnight
    assert today["delivered"][1] == 3 and today["on_time"][1] == 2  # the tile's rule: D3 late, D2 on time
    assert today["delivered"][2] == 1 and today["on_time"][2] == 0  # D5


def deadline_pair(store: Store) -> None:
    """Two STAT deliveries in the 01:00 hour: E1 exactly at its deadline, E2 half a second after."""
    d = DAY0 + 3600
    insert(
        store,
        tasks=[
            task_row("E1", priority="stat", status="delivered", created_at=at(d), updated_at=at(d + 600),
                     deadline_s=d + 600, robot_id="R1"),
            task_row("E2", priority="stat", status="delivered", created_at=at(d), updated_at=at(d + 900.5),
                     deadline_s=d + 900, robot_id="R1"),
        ],
    )  # fmt: skip


def check_deadline_pair(store: Store) -> None:
    new, old = both(store)
    assert new == old
    for k in (new, old):  # the tile and the chart, both ways: E1 on time, E2 late
        assert k["stat_on_time_today"] == {"delivered": 2, "on_time": 1, "pct": 50.0}
        assert k["today"]["delivered"][1] == 2 and k["today"]["on_time"][1] == 1
        assert sum(k["today"]["on_time"]) == k["stat_on_time_today"]["on_time"]


def test_half_second_late_is_late_on_the_tile_and_on_the_chart(store: Store) -> None:
    """One "on time" rule: a delivery exactly at its deadline is on time and one half a second
    after it is late, on the STAT tile and in the day chart, aggregate and row by row (SQLite)."""
    deadline_pair(store)
    check_deadline_pair(store)


def test_empty_store_same_as_row_by_row(store: Store) -> None:
    """With nothing stored both give zeros and no percentage (and no division by zero)."""
    new, old = both(store)
    assert new == old
    assert new["stat_on_time_today"]["pct"] is None and new["kiosk"]["mean_s"] is None


def test_tasks_written_through_the_store_same_as_row_by_row(tmp_path: Path) -> None:
    """Tasks created, planned, picked up, delivered and cancelled through the store's own write
    path (its clock stamping microseconds) give the same KPIs both ways."""
    ticks = iter(range(10_000))

    def clock() -> datetime:  # 14:00 today + 0.3 s per write (fractions on most of them)
        return at(NOW - 1800 + 0.3 * next(ticks))

    with Store.open(f"sqlite:///{tmp_path / 'ops.sqlite3'}", clock=clock) as store:
        for i in range(12):
            prio = list(Priority)[i % 3]
            deadline = NOW - 1800 + (i % 4) * 2
            store.add_task(
                {"id": f"S{i}", "pickup": "A", "dropoff": "B", "priority": prio, "earliest_s": deadline - 60,
                 "deadline_s": deadline},
                actor="nurse:amy",
            )  # fmt: skip
            if i % 6 == 5:
                store.transition_task(f"S{i}", TaskStatus.CANCELLED, actor="nurse:amy")
                continue
            store.transition_task(f"S{i}", TaskStatus.PLANNED, actor="scheduler", robot_id="R1", eta_s=deadline + i - 6)
            if i % 2:
                store.transition_task(f"S{i}", TaskStatus.PICKED_UP, actor="robot:R1")
                store.transition_task(f"S{i}", TaskStatus.DELIVERED, actor="robot:R1")
        new, old = both(store)
        assert new == old
        assert new["stat_on_time_today"]["delivered"] == 2 and new["open_tasks"]["total"] == 6


# -- random stores -------------------------------------------------------------------------------

#: Times around the boundaries that matter: now, midnight, four hours ago, and whole seconds.
_anchor = st.sampled_from([NOW, DAY0, NOW - 4 * 3600, NOW - 3600])
_offset = st.one_of(st.integers(-600, 600), st.integers(-2 * 86_400, 3600), st.sampled_from([-1, 0, 1]))
_micro = st.one_of(st.just(0), st.sampled_from([1, 499_999, 500_000, 999_999]), st.integers(0, 999_999))


@st.composite
def instant(draw: st.DrawFn) -> float:
    return draw(_anchor) + draw(_offset) + draw(_micro) / 1_000_000


@st.composite
def task_rows(draw: st.DrawFn, i: int) -> dict[str, Any]:
    status = draw(st.sampled_from([*TaskStatus, TaskStatus.DELIVERED, TaskStatus.DELIVERED]))
    created = draw(instant())
    updated = draw(st.one_of(instant(), st.just(created)))
    near = int(updated)  # deadlines on and next to the delivery's whole second
    deadline = draw(st.one_of(st.integers(near - 1, near + 1), st.integers(NOW - 86_400, NOW + 86_400)))
    eta = draw(st.one_of(st.none(), st.integers(NOW - 7200, NOW + 7200), st.just(deadline + draw(st.integers(-2, 2)))))
    return task_row(
        f"H{i:03d}",
        priority=draw(st.sampled_from(["stat", "stat", "urgent", "routine"])),
        status=status.value,
        created_at=at(created),
        updated_at=at(updated),
        deadline_s=deadline,
        eta_s=eta,
        robot_id=draw(st.sampled_from([None, "R1", "R2"])),
    )


@st.composite
def stores(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    n = draw(st.integers(0, 25))
    tasks = [draw(task_rows(i)) for i in range(n)]
    patients = [patient_row(f"P{i}", at(NOW - 90_000)) for i in range(4)]
    check_ins = [check_in_row(f"C{i}", f"P{i % 4}", int(draw(instant()))) for i in range(draw(st.integers(0, 6)))]
    triage = []
    for _ in range(draw(st.integers(0, 8))):
        ci = draw(st.one_of(st.none(), st.sampled_from([c["id"] for c in check_ins]) if check_ins else st.none()))
        pid = next((c["patient_id"] for c in check_ins if c["id"] == ci), f"P{draw(st.integers(0, 3))}")
        triage.append(
            triage_row(pid, level=draw(st.integers(1, 5)), escalate=draw(st.booleans()), at_dt=at(draw(instant())),
                       check_in_id=ci)
        )  # fmt: skip
    return {"tasks": tasks, "patients": patients, "check_ins": check_ins, "triage": triage}


def check_random_store(store: Store, rows: dict[str, list[dict[str, Any]]], now: int) -> None:
    clear(store)
    insert(store, **rows)
    new, old = both(store, now)
    assert new == old
    # the chart's on-time deliveries are the tile's rule applied to the chart's window
    day0 = start_of_day_s(now)
    tile = store.delivery_counts(since=utc(day0), until=utc(now + 1))
    assert (sum(new["today"]["delivered"]), sum(new["today"]["on_time"])) == (tile.delivered, tile.on_time)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=stores(), now=st.sampled_from([NOW, DAY0, DAY0 + 1, NOW + 1]))
def test_random_stores_same_as_row_by_row_sqlite(store: Store, rows: dict[str, list[dict[str, Any]]], now: int) -> None:
    """Random tasks (every status and priority, times on and around whole seconds, midnight and
    the deadlines), check-ins and triage results give the same KPIs both ways on SQLite, and the
    chart counts on time as the tile does (``delivery_counts`` over the chart's window)."""
    check_random_store(store, rows, now)


@pytest.fixture(scope="module")
def pg_store(postgres_server: Any) -> Iterator[Store]:
    url = postgres_server.create_database()
    db_upgrade(url)
    with Store.open(url) as store:
        yield store


@pytest.mark.postgres
def test_known_mix_same_as_row_by_row_postgresql(pg_store: Store) -> None:
    """The hand-made store gives the same KPIs both ways on PostgreSQL, and the numbers SQLite gives."""
    clear(pg_store)
    for alert in pg_store.list_alerts(open_only=True):
        pg_store.ack_alert(alert.id, by="test")
    known_mix(pg_store)
    new, old = both(pg_store, fleet=FLEET, lifts=LIFTS)
    assert new == old
    assert new["stat_on_time_today"] == {"delivered": 4, "on_time": 3, "pct": 75.0}
    assert new["late_tasks"] == 3 and new["kiosk"]["waiting"] == 1


@pytest.mark.postgres
def test_half_second_late_is_late_on_the_tile_and_on_the_chart_postgresql(pg_store: Store) -> None:
    """On PostgreSQL too: exactly at the deadline is on time, half a second after it is late, on
    the tile and in the chart."""
    clear(pg_store)
    deadline_pair(pg_store)
    check_deadline_pair(pg_store)


@pytest.mark.postgres
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=stores(), now=st.sampled_from([NOW, DAY0, DAY0 + 1]))
def test_random_stores_same_as_row_by_row_postgresql(
    pg_store: Store, rows: dict[str, list[dict[str, Any]]], now: int
) -> None:
    """Random stores give the same KPIs both ways on PostgreSQL (and the chart's rule is the tile's)."""
    check_random_store(pg_store, rows, now)


def test_long_attention_list_capped_the_same_way(store: Store) -> None:
    """With more overdue tasks and red flags than the attention list shows (ties on the same
    second included), both ways keep the same first 100 items in the same order."""
    tasks = [
        task_row(f"L{i:03d}", priority="urgent", status="requested", created_at=at(NOW - 9000),
                 updated_at=at(NOW - 9000), deadline_s=NOW - 3000 + (i % 7) * 5)
        for i in range(130)
    ]  # fmt: skip
    patients = [patient_row(f"P{i}", at(NOW - 90_000)) for i in range(3)]
    triage = [
        triage_row(f"P{i % 3}", level=1 + i % 3, escalate=i % 2 == 0, at_dt=at(NOW - 3400 + (i % 9) * 10 + i / 1000))
        for i in range(120)
    ]
    insert(store, tasks=tasks, patients=patients, triage=triage)
    new, old = both(store, fleet={"R9": {"mode": "lost", "since_s": NOW - 3100}})
    assert new == old
    assert len(new["attention"]) == 100
