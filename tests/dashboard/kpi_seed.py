"""Rows for KPI tests and the KPI benchmark, written straight into the tables.

The KPIs only read, so the tests and the benchmark write task, check-in and triage rows with
chosen bookkeeping times (microseconds included) in one transaction, without the store's write
path (history rows, audit, one commit per change). ``synthetic_history`` is the benchmark's
campus: tasks requested at a steady rate up to "now", most finished, the last hour's open.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hospital_ops.domain import DEFAULT_TURNAROUND_S, Priority, TaskStatus
from hospital_ops.store import Store
from hospital_ops.store.engine import writer
from hospital_ops.store.models import CheckInRow, PatientRow, TaskRow, TriageRow


def at(seconds: float) -> datetime:
    """An aware UTC datetime of (fractional) Unix seconds, to the microsecond."""
    whole = int(seconds // 1)
    micro = round((seconds - whole) * 1_000_000)
    return datetime.fromtimestamp(whole, UTC) + timedelta(microseconds=micro)


def task_row(
    task_id: str,
    *,
    priority: str,
    status: str,
    created_at: datetime,
    updated_at: datetime,
    deadline_s: int,
    eta_s: int | None = None,
    robot_id: str | None = None,
    kind: str = "medication",
) -> dict[str, Any]:
    earliest = min(deadline_s, int(created_at.timestamp()))
    return {
        "id": task_id,
        "pickup": "MT-01-PHARMACY",
        "dropoff": "T3-10-NS",
        "priority": priority,
        "kind": kind,
        "earliest_s": earliest,
        "deadline_s": deadline_s,
        "units": 1,
        "items": [],
        "cold_chain": False,
        "controlled": False,
        "max_transit_s": None,
        "requester": "test",
        "service_s": 60,
        "ward": "T3-10",
        "status": status,
        "robot_id": robot_id,
        "eta_s": eta_s,
        "pin_hash": None,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def triage_row(
    patient_id: str, *, level: int, escalate: bool, at_dt: datetime, check_in_id: str | None = None
) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "check_in_id": check_in_id,
        "level": level,
        "reasons": [{"code": f"r{level}", "en": f"reason {level}", "zh": f"原因 {level}", "level": level}],
        "destination": "ED" if level <= 3 else "OP",
        "escalate": escalate,
        "missing": [],
        "ruleset": "test",
        "vitals": None,
        "at": at_dt,
        "actor": "kiosk:K1",
    }


def patient_row(patient_id: str, created_at: datetime) -> dict[str, Any]:
    return {
        "id": patient_id,
        "mrn": f"MRN-{patient_id}",
        "name": f"Patient {patient_id}",
        "birth_year": None,
        "sex": "unknown",
        "id_number_hash": None,
        "phone": None,
        "credit_care": False,
        "created_at": created_at,
    }


def check_in_row(check_in_id: str, patient_id: str, at_s: int) -> dict[str, Any]:
    return {
        "id": check_in_id,
        "patient_id": patient_id,
        "kiosk_id": "K1",
        "method": "face",
        "at_s": at_s,
        "appointment_id": None,
        "recorded_at": at(at_s),
    }


def insert(
    store: Store,
    *,
    tasks: Iterable[Mapping[str, Any]] = (),
    patients: Iterable[Mapping[str, Any]] = (),
    check_ins: Iterable[Mapping[str, Any]] = (),
    triage: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Insert rows in one transaction (patients before what refers to them)."""
    with writer(store.engine).begin() as conn:
        for table, rows in ((TaskRow, tasks), (PatientRow, patients), (CheckInRow, check_ins), (TriageRow, triage)):
            batch = [dict(r) for r in rows]
            for i in range(0, len(batch), 5_000):
                conn.execute(sa.insert(table), batch[i : i + 5_000])


def clear(store: Store) -> None:
    """Remove the rows ``insert`` writes (tasks without history rows; triage, check-ins, patients)."""
    with writer(store.engine).begin() as conn:
        for table in (TriageRow, CheckInRow, PatientRow, TaskRow):
            conn.execute(sa.delete(table))


#: Share of requests by priority on a typical day.
PRIORITY_MIX = ((Priority.STAT, 0.1), (Priority.URGENT, 0.3), (Priority.ROUTINE, 0.6))


def synthetic_history(n_tasks: int, now_s: int, *, per_day: int = 4_000, seed: int = 1) -> list[dict[str, Any]]:
    """``n_tasks`` tasks requested at ``per_day`` a day up to ``now_s`` (so 20,000 = five days).

    Requests older than an hour are finished: 92 % delivered (a tenth of them late), 5 %
    cancelled, 3 % failed. The last hour's are open (requested, planned with an ETA, some of it
    after the deadline, or picked up). Bookkeeping times carry microseconds.
    """
    rng = random.Random(seed)
    gap = 86_400 / per_day
    priorities = [p for p, _ in PRIORITY_MIX]
    weights = [w for _, w in PRIORITY_MIX]
    rows = []
    for i in range(n_tasks):
        created = now_s - (n_tasks - i) * gap + rng.random() * gap
        priority = rng.choices(priorities, weights)[0]
        deadline = int(created) + DEFAULT_TURNAROUND_S[priority]
        age = now_s - created
        eta: int | None = None
        robot: str | None = None
        if age > 3600:
            u = rng.random()
            status = TaskStatus.DELIVERED if u < 0.92 else TaskStatus.CANCELLED if u < 0.97 else TaskStatus.FAILED
            if status is TaskStatus.DELIVERED:
                late = rng.random() < 0.1
                done = deadline + rng.uniform(1, 900) if late else created + rng.uniform(60, deadline - created)
                robot = f"R{rng.randrange(40):02d}"
            else:
                done = created + rng.uniform(30, 1800)
        else:
            status = rng.choice([TaskStatus.REQUESTED, TaskStatus.PLANNED, TaskStatus.PLANNED, TaskStatus.PICKED_UP])
            done = created + min(age, rng.uniform(1, 300))
            if status is not TaskStatus.REQUESTED:
                robot = f"R{rng.randrange(40):02d}"
                eta = deadline + rng.randint(-1800, 600)
        rows.append(
            task_row(
                f"T{i:07d}",
                priority=priority.value,
                status=status.value,
                created_at=at(created),
                updated_at=at(max(created, min(done, now_s - 0.5))),
                deadline_s=deadline,
                eta_s=eta,
                robot_id=robot,
            )
        )
    return rows
