"""The store on SQLite and PostgreSQL: round trips, task life, refusals, filters, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from hospital_ops.domain import (
    TASK_TRANSITIONS,
    Capability,
    CheckIn,
    CheckInMethod,
    CustodyEvent,
    CustodyKind,
    DeliveryTask,
    Handling,
    Patient,
    Plan,
    Priority,
    Reason,
    Robot,
    RobotMode,
    RobotRoute,
    Sex,
    Stop,
    StopKind,
    TaskKind,
    TaskStatus,
    TriageLevel,
    TriageResult,
    Vitals,
)
from hospital_ops.store import (
    AlertSeverity,
    DuplicateError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    Store,
    StoreError,
    db_upgrade,
)
from hospital_ops.store.models import APPEND_ONLY_TABLES

T0 = 1_767_600_000  # a campus-clock second


def make_task(task_id: str = "T-1", **changes: object) -> DeliveryTask:
    fields: dict[str, object] = {
        "id": task_id,
        "pickup": "MT-01-PHARMACY",
        "dropoff": "T1-07-STATION",
        "priority": Priority.URGENT,
        "earliest_s": T0,
        "deadline_s": T0 + 2700,
    }
    fields.update(changes)
    return DeliveryTask(**fields)  # type: ignore[arg-type]


FULL_TASK = DeliveryTask(
    id="T-FULL",
    pickup="MT-01-LAB",
    dropoff="T3-12-STATION",
    priority=Priority.STAT,
    earliest_s=T0,
    deadline_s=T0 + 900,
    kind=TaskKind.SPECIMEN,
    units=2,
    items=("blood culture ×2", "lactate"),
    handling=Handling(cold_chain=True, controlled=True, max_transit_s=1800),
    requester="nurse:李娜",
    service_s=90,
)


def drive_to(store: Store, task_id: str, status: TaskStatus) -> None:
    """Take a REQUESTED task to ``status`` along legal transitions."""
    path = {
        TaskStatus.REQUESTED: [],
        TaskStatus.PLANNED: [TaskStatus.PLANNED],
        TaskStatus.PICKED_UP: [TaskStatus.PLANNED, TaskStatus.PICKED_UP],
        TaskStatus.DELIVERED: [TaskStatus.PLANNED, TaskStatus.PICKED_UP, TaskStatus.DELIVERED],
        TaskStatus.FAILED: [TaskStatus.FAILED],
        TaskStatus.CANCELLED: [TaskStatus.CANCELLED],
    }[status]
    for step in path:
        store.transition_task(task_id, step, actor="test", robot_id="R-1" if step is TaskStatus.PLANNED else None)


# -- tasks ------------------------------------------------------------------------------------


def test_task_round_trip(store: Store) -> None:
    """Every field of a DeliveryTask (handling, items, unicode) comes back equal, status REQUESTED."""
    added = store.add_task(FULL_TASK, actor="nurse:li", pin="482913", ward="T3-12")
    got = store.get_task("T-FULL")
    assert got.task == FULL_TASK
    assert got == added
    assert got.status is TaskStatus.REQUESTED
    assert (got.ward, got.robot_id, got.eta_s, got.has_pin) == ("T3-12", None, None, True)
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == UTC.utcoffset(None)


def test_task_from_mapping_is_validated_by_the_domain_type(store: Store) -> None:
    """A mapping (parsed JSON) is rebuilt through DeliveryTask: enums and nested handling convert."""
    data = {
        "id": "T-JSON",
        "pickup": "A",
        "dropoff": "B",
        "priority": "stat",
        "earliest_s": T0,
        "deadline_s": T0 + 60,
        "kind": "supply",
        "items": ["gloves"],
        "handling": {"cold_chain": True},
    }
    rec = store.add_task(data, actor="api")
    assert rec.task == DeliveryTask(
        "T-JSON", "A", "B", Priority.STAT, T0, T0 + 60, TaskKind.SUPPLY, items=("gloves",),
        handling=Handling(cold_chain=True),
    )  # fmt: skip


BAD_TASKS: list[tuple[dict[str, object], str]] = [
    ({"priority": "soon"}, r"task T-BAD: priority: 'soon' is not one of stat, urgent, routine"),
    ({"earliest_s": "10"}, r"task T-BAD: earliest_s: expected a whole number"),
    ({"units": 0}, r"task T-BAD: units: must be at least 1"),
    ({"deadline_s": T0 - 1}, r"task T-BAD: deadline_s: .* before earliest pickup"),
    ({"dropoff": "MT-01-PHARMACY"}, r"task T-BAD: dropoff: same as pickup"),
    ({"handling": {"max_transit_s": -5}}, r"task T-BAD: handling: max_transit_s: must be positive"),
    ({"colour": "red"}, r"unknown field\(s\) colour"),
    ({"pickup": "X" * 65}, r"tasks.pickup: 65 characters, at most 64"),
    ({"service_s": 2**40}, r"tasks.service_s: .* out of range"),
]


def test_bad_task_refused_naming_the_field(store: Store) -> None:
    """Bad task input raises InvalidInputError naming the task and field; nothing is stored."""
    for changes, message in BAD_TASKS:
        data: dict[str, object] = {
            "id": "T-BAD",
            "pickup": "MT-01-PHARMACY",
            "dropoff": "W",
            "priority": "urgent",
            "earliest_s": T0,
            "deadline_s": T0 + 60,
        }
        data.update(changes)
        with pytest.raises(InvalidInputError, match=message):
            store.add_task(data, actor="api")
    assert store.list_tasks() == []


def test_missing_required_field_refused(store: Store) -> None:
    """A mapping without a required field names it."""
    with pytest.raises(InvalidInputError, match=r"deadline_s: required"):
        store.add_task({"id": "T-2", "pickup": "A", "dropoff": "B", "priority": "stat", "earliest_s": 0}, actor="a")


def test_duplicate_task_id_refused(store: Store) -> None:
    """Adding a task whose id exists raises DuplicateError naming it; the stored task is unchanged."""
    store.add_task(make_task("T-1"), actor="a")
    store.transition_task("T-1", TaskStatus.PLANNED, actor="s", robot_id="R-1")
    with pytest.raises(DuplicateError, match=r"task T-1: already exists \(status planned\)"):
        store.add_task(make_task("T-1", priority=Priority.STAT), actor="b")
    got = store.get_task("T-1")
    assert (got.task.priority, got.status) == (Priority.URGENT, TaskStatus.PLANNED)
    assert len(store.task_history("T-1")) == 2


def test_status_history_records_every_change(store: Store, clock: object) -> None:
    """Creation and each transition are history rows (from, to, when, who, why, robot), oldest first."""
    store.add_task(make_task("T-1"), actor="nurse:amy", reason="ward request")
    store.transition_task("T-1", "planned", actor="scheduler", reason="plan 1", robot_id="R-1", eta_s=T0 + 900)
    store.transition_task("T-1", TaskStatus.PLANNED, actor="scheduler", reason="plan 2", robot_id="R-2")
    store.transition_task("T-1", TaskStatus.PICKED_UP, actor="robot:R-2", reason="loaded")
    rec = store.transition_task("T-1", TaskStatus.DELIVERED, actor="nurse:bo", reason="PIN ok")
    history = store.task_history("T-1")
    assert [(h.from_status, h.to_status, h.actor, h.reason, h.robot_id) for h in history] == [
        (None, TaskStatus.REQUESTED, "nurse:amy", "ward request", None),
        (TaskStatus.REQUESTED, TaskStatus.PLANNED, "scheduler", "plan 1", "R-1"),
        (TaskStatus.PLANNED, TaskStatus.PLANNED, "scheduler", "plan 2", "R-2"),
        (TaskStatus.PLANNED, TaskStatus.PICKED_UP, "robot:R-2", "loaded", "R-2"),
        (TaskStatus.PICKED_UP, TaskStatus.DELIVERED, "nurse:bo", "PIN ok", "R-2"),
    ]
    times = [h.at for h in history]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert (rec.status, rec.robot_id, rec.eta_s) == (TaskStatus.DELIVERED, "R-2", T0 + 900)
    assert rec.updated_at == history[-1].at


def test_illegal_transitions_refused(store: Store) -> None:
    """Every transition not in TASK_TRANSITIONS is refused naming both statuses; nothing changes."""
    refused = 0
    for source in TaskStatus:
        task_id = f"T-{source.value}"
        store.add_task(make_task(task_id), actor="a")
        drive_to(store, task_id, source)
        before = store.task_history(task_id)
        for target in TaskStatus:
            if target in TASK_TRANSITIONS[source]:
                continue
            with pytest.raises(IllegalTransitionError, match=rf"cannot go from {source.value} to {target.value}"):
                store.transition_task(task_id, target, actor="b")
            refused += 1
        assert store.get_task(task_id).status is source
        assert store.task_history(task_id) == before
    assert refused == 36 - sum(len(v) for v in TASK_TRANSITIONS.values())


def test_transition_errors(store: Store) -> None:
    """Unknown task -> NotFoundError; unknown status -> InvalidInputError listing the statuses."""
    with pytest.raises(NotFoundError, match="task nope: no such task"):
        store.transition_task("nope", TaskStatus.PLANNED, actor="a")
    store.add_task(make_task("T-1"), actor="a")
    with pytest.raises(InvalidInputError, match="to_status: 'lost' is not one of requested, planned"):
        store.transition_task("T-1", "lost", actor="a")
    with pytest.raises(NotFoundError):
        store.task_history("nope")


def test_back_to_requested_clears_robot_and_eta(store: Store) -> None:
    """A task returned to the pool has no robot and no promised ETA."""
    store.add_task(make_task("T-1"), actor="a")
    store.transition_task("T-1", TaskStatus.PLANNED, actor="s", robot_id="R-1", eta_s=T0 + 100)
    rec = store.transition_task("T-1", TaskStatus.REQUESTED, actor="s", reason="robot fault")
    assert (rec.status, rec.robot_id, rec.eta_s) == (TaskStatus.REQUESTED, None, None)


def test_writes_are_visible_to_another_store_at_once(open_store: Callable[[], Store]) -> None:
    """Once a write returns it is committed: a second store (another engine) reads it."""
    a, b = open_store(), open_store()
    a.add_task(make_task("T-1"), actor="a")
    assert b.get_task("T-1").status is TaskStatus.REQUESTED
    b.transition_task("T-1", TaskStatus.CANCELLED, actor="b")
    assert a.get_task("T-1").status is TaskStatus.CANCELLED


def test_a_pin_hash_made_by_the_client_is_kept_and_handed_only_to_the_scheduler(store: Store) -> None:
    """A task submitted over ROS comes with an argon2id hash (the PIN never crosses the wire)."""
    from argon2 import PasswordHasher

    pin_hash = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("482913")
    rec = store.add_task(make_task("T-ros"), actor="ros", pin_hash=pin_hash)
    assert rec.has_pin
    assert store.task_pin_hash("T-ros") == pin_hash
    assert store.verify_pin("T-ros", "482913")
    store.add_task(make_task("T-nopin"), actor="ros")
    assert store.task_pin_hash("T-nopin") is None
    with pytest.raises(NotFoundError):
        store.task_pin_hash("T-none")


@pytest.mark.parametrize("bad", ["482913", "$argon2i$v=19$m=8,t=1,p=1$abc$def", "$argon2id$garbage"])
def test_a_pin_hash_that_is_not_argon2id_is_refused_and_nothing_is_stored(store: Store, bad: str) -> None:
    with pytest.raises(InvalidInputError, match="pin_hash"):
        store.add_task(make_task("T-bad"), actor="ros", pin_hash=bad)
    with pytest.raises(NotFoundError):
        store.get_task("T-bad")


def test_pin_and_pin_hash_together_are_refused(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="not both"):
        store.add_task(make_task("T-both"), actor="a", pin="1234", pin_hash="$argon2id$x")


def test_tasks_changed_since_returns_what_moved_oldest_first(store: Store) -> None:
    """Live views poll this: a task appears once per change, ordered by its last change."""
    store.add_task(make_task("T-old"), actor="a")
    store.add_task(make_task("T-quiet"), actor="a")
    mark = store.get_task("T-quiet").updated_at
    later = [r for r in store.tasks_changed_since(mark)]
    assert "T-quiet" in [r.id for r in later]
    store.transition_task("T-old", TaskStatus.PLANNED, actor="s", robot_id="R-1")
    moved = store.get_task("T-old").updated_at
    changed = store.tasks_changed_since(moved)
    assert [r.id for r in changed] == ["T-old"]
    assert changed[0].status is TaskStatus.PLANNED
    everything = store.tasks_changed_since(datetime(2000, 1, 1, tzinfo=UTC))
    assert [r.id for r in everything][-1] == "T-old"
    assert [r.updated_at for r in everything] == sorted(r.updated_at for r in everything)
    assert len(store.tasks_changed_since(datetime(2000, 1, 1, tzinfo=UTC), limit=1)) == 1


def test_tasks_changed_since_refuses_a_naive_time(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="since: must be a timezone-aware datetime"):
        store.tasks_changed_since(datetime(2026, 1, 1))
    with pytest.raises(InvalidInputError, match="limit"):
        store.tasks_changed_since(datetime(2026, 1, 1, tzinfo=UTC), limit=0)


def test_task_filters(store: Store) -> None:
    """list_tasks filters by status, priority, kind, ward, requester and robot (one or several values);
    open_tasks leaves out finished ones; results are by deadline, then id; limit/offset page them."""
    specs = [
        ("T-a", Priority.STAT, "W1", "nurse:a", 300),
        ("T-b", Priority.URGENT, "W1", "nurse:b", 100),
        ("T-c", Priority.ROUTINE, "W2", "nurse:a", 200),
        ("T-d", Priority.STAT, "W2", "pharmacy", 400),
        ("T-e", Priority.URGENT, None, "lab", 500),
    ]
    for task_id, priority, ward, requester, deadline in specs:
        store.add_task(
            make_task(task_id, priority=priority, requester=requester, deadline_s=T0 + deadline),
            actor="a",
            ward=ward,
        )
    store.transition_task("T-a", TaskStatus.PLANNED, actor="s", robot_id="R-1")
    store.transition_task("T-c", TaskStatus.PLANNED, actor="s", robot_id="R-2")
    store.transition_task("T-d", TaskStatus.CANCELLED, actor="s")

    def ids(**filters: object) -> list[str]:
        return [r.id for r in store.list_tasks(**filters)]  # type: ignore[arg-type]

    assert ids() == ["T-b", "T-c", "T-a", "T-d", "T-e"]
    assert ids(status=TaskStatus.PLANNED) == ["T-c", "T-a"]
    assert ids(status=["requested", "cancelled"]) == ["T-b", "T-d", "T-e"]
    assert ids(priority="stat") == ["T-a", "T-d"]
    assert ids(priority=[Priority.STAT, Priority.ROUTINE], status="planned") == ["T-c", "T-a"]
    assert ids(ward="W1") == ["T-b", "T-a"]
    assert ids(ward=["W1", "W2"], priority="stat") == ["T-a", "T-d"]
    assert ids(requester="nurse:a") == ["T-c", "T-a"]
    assert ids(robot_id="R-1") == ["T-a"]
    assert ids(kind="medication") == ids()
    assert ids(kind="specimen") == []
    assert [r.id for r in store.open_tasks()] == ["T-b", "T-c", "T-a", "T-e"]
    assert [r.id for r in store.open_tasks(priority="stat")] == ["T-a"]
    assert ids(limit=2) == ["T-b", "T-c"]
    assert ids(limit=2, offset=2) == ["T-a", "T-d"]
    with pytest.raises(InvalidInputError, match="priority: 'asap' is not one of"):
        store.list_tasks(priority="asap")


def test_apply_plan(store: Store) -> None:
    """apply_plan plans new tasks, moves re-routed ones, updates ETAs only where only they changed,
    returns unassigned planned tasks to the pool and skips finished or unknown ones."""
    for task_id in ("T-1", "T-2", "T-3", "T-4", "T-5"):
        store.add_task(make_task(task_id), actor="a")
    store.transition_task("T-2", TaskStatus.PLANNED, actor="s", robot_id="R-1", eta_s=T0 + 10)
    store.transition_task("T-3", TaskStatus.PLANNED, actor="s", robot_id="R-1", eta_s=T0 + 20)
    store.transition_task("T-4", TaskStatus.CANCELLED, actor="s")
    store.transition_task("T-5", TaskStatus.PLANNED, actor="s", robot_id="R-2", eta_s=T0 + 30)

    def stops(task_id: str, eta: int) -> tuple[Stop, Stop]:
        return (
            Stop(StopKind.PICKUP, "MT-01-PHARMACY", eta - 100, task_id),
            Stop(StopKind.DROPOFF, "T1-07-STATION", eta, task_id),
        )

    plan = Plan(
        routes=(
            RobotRoute("R-1", (*stops("T-1", T0 + 500), *stops("T-2", T0 + 600), *stops("T-4", T0 + 700))),
            RobotRoute("R-2", (*stops("T-3", T0 + 800), *stops("T-9", T0 + 900))),
        ),
        unassigned={"T-5": "no robot with a cold box"},
    )
    applied = store.apply_plan(plan, actor="scheduler")
    assert sorted(applied.planned) == ["T-1", "T-3"]
    assert applied.eta_updated == ("T-2",)
    assert applied.unplanned == ("T-5",)
    assert applied.skipped == {"T-4": "already cancelled", "T-9": "no such task"}
    assert [(r.id, r.status, r.robot_id, r.eta_s) for r in store.list_tasks(status=["planned", "requested"])] == [
        ("T-1", TaskStatus.PLANNED, "R-1", T0 + 500),
        ("T-2", TaskStatus.PLANNED, "R-1", T0 + 600),
        ("T-3", TaskStatus.PLANNED, "R-2", T0 + 800),
        ("T-5", TaskStatus.REQUESTED, None, None),
    ]
    assert len(store.task_history("T-2")) == 2  # ETA-only change: no history row
    assert store.task_history("T-5")[-1].reason == "unassigned: no robot with a cold box"


def test_pin_is_hashed_and_verified(store: Store) -> None:
    """Only an argon2 hash of the PIN is stored; verify_pin accepts it and refuses others."""
    store.add_task(make_task("T-1"), actor="a", pin="4711")
    store.add_task(make_task("T-2"), actor="a")
    assert store.verify_pin("T-1", "4711")
    assert not store.verify_pin("T-1", "4712")
    assert not store.verify_pin("T-2", "4711")  # no PIN set
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT pin_hash FROM tasks WHERE id = 'T-1'")).scalar_one()
    assert stored.startswith("$argon2") and "4711" not in stored
    store.set_pin("T-2", "0000", actor="nurse:a")
    assert store.verify_pin("T-2", "0000")
    with pytest.raises(InvalidInputError, match="pin: must be 4 to 8 digits"):
        store.set_pin("T-2", "12a4", actor="nurse:a")
    assert "0000" not in str(store.audit_log())


# -- robots and custody -------------------------------------------------------------------------


def test_robot_round_trip_and_upsert(store: Store) -> None:
    """A Robot comes back equal; an upsert replaces its state; heartbeat=False keeps the last heartbeat."""
    robot = Robot(
        id="R-1", location="MT-B1-DOCK-1", available_s=T0, capacity_units=6,
        capabilities=frozenset({Capability.LOCKED_DRAWERS, Capability.COLD_BOX}), speed_mps=1.2,
        battery_pct=87.5, consumption_pct_per_km=3.5, min_battery_pct=25.0, mode=RobotMode.BUSY,
        on_board=("T-1", "T-2"), home_dock="MT-B1-DOCK-1",
    )  # fmt: skip
    first = store.upsert_robot(robot)
    assert store.get_robot("R-1").robot == robot
    assert first.last_heartbeat_at is not None
    moved = Robot(id="R-1", location="T1-07-STATION", battery_pct=80.0, mode=RobotMode.IDLE)
    second = store.upsert_robot(moved, heartbeat=False)
    assert second.robot == moved
    assert second.last_heartbeat_at == first.last_heartbeat_at
    third = store.upsert_robot(moved)
    assert third.last_heartbeat_at is not None and first.last_heartbeat_at is not None
    assert third.last_heartbeat_at > first.last_heartbeat_at
    store.upsert_robot({"id": "R-2", "location": "MT-B1-DOCK-2", "mode": "charging"}, heartbeat=False)
    assert [r.id for r in store.list_robots()] == ["R-1", "R-2"]
    assert [r.id for r in store.list_robots(mode="charging")] == ["R-2"]
    assert store.get_robot("R-2").last_heartbeat_at is None
    with pytest.raises(InvalidInputError, match=r"robot R-3: battery_pct: 120\.0 is outside 0\.\.100"):
        store.upsert_robot({"id": "R-3", "location": "X", "battery_pct": 120})
    with pytest.raises(NotFoundError):
        store.get_robot("R-9")


def test_custody_round_trip_and_transition(store: Store) -> None:
    """Custody events come back equal, in order; with transition= the task status changes with them."""
    store.add_task(make_task("T-1"), actor="a")
    store.transition_task("T-1", TaskStatus.PLANNED, actor="s", robot_id="R-1")
    loaded = CustodyEvent("T-1", "R-1", CustodyKind.LOADED, "MT-01-PHARMACY", T0 + 60, "badge", "pharm:zhou", 2)
    denied = CustodyEvent("T-1", "R-1", CustodyKind.DENIED, "T1-07-STATION", T0 + 600, "pin", "", 2)
    done = CustodyEvent("T-1", "R-1", CustodyKind.DELIVERED, "T1-07-STATION", T0 + 630, "pin", "nurse:amy", 2)
    store.record_custody(loaded, transition=TaskStatus.PICKED_UP)
    store.record_custody(denied)
    store.record_custody(done, transition="delivered")
    assert store.custody_events(task_id="T-1") == [loaded, denied, done]
    assert store.custody_events(kind="denied") == [denied]
    assert store.custody_events(robot_id="R-2") == []
    assert store.get_task("T-1").status is TaskStatus.DELIVERED
    assert [(h.to_status, h.actor) for h in store.task_history("T-1")][-2:] == [
        (TaskStatus.PICKED_UP, "pharm:zhou"),
        (TaskStatus.DELIVERED, "nurse:amy"),
    ]


def test_custody_refusals(store: Store) -> None:
    """Custody for an unknown task, a bad method or an illegal transition is refused and not recorded."""
    with pytest.raises(NotFoundError, match="task T-X: no such task"):
        store.record_custody(CustodyEvent("T-X", "R-1", CustodyKind.LOADED, "A", T0, "pin"))
    store.add_task(make_task("T-1"), actor="a")
    with pytest.raises(InvalidInputError, match="method: 'face' is not one of pin, badge"):
        store.record_custody(CustodyEvent("T-1", "R-1", CustodyKind.LOADED, "A", T0, "face"))
    with pytest.raises(IllegalTransitionError, match="from requested to delivered"):
        store.record_custody(
            CustodyEvent("T-1", "R-1", CustodyKind.DELIVERED, "A", T0, "pin"), transition=TaskStatus.DELIVERED
        )
    assert store.custody_events() == []


# -- patients, consents, check-ins, triage --------------------------------------------------------

PATIENT = Patient(
    id="P-1", mrn="MRN-0001", name="王小明", birth_year=1958, sex=Sex.MALE,
    id_number_hash="a" * 64, phone="+886 912 345 678", credit_care=True,
)  # fmt: skip


def test_patient_round_trip_and_duplicates(store: Store) -> None:
    """A Patient comes back equal; duplicate id, MRN or id-number hash is refused naming the field."""
    store.add_patient(PATIENT, actor="desk:1")
    assert store.get_patient("P-1") == PATIENT
    assert store.find_patient(mrn="MRN-0001") == PATIENT
    assert store.find_patient(id_number_hash="a" * 64) == PATIENT
    assert store.find_patient(mrn="nope") is None
    with pytest.raises(DuplicateError, match="patient P-1: already exists"):
        store.add_patient(Patient("P-1", "MRN-9", "x"), actor="desk:1")
    with pytest.raises(DuplicateError, match="patient P-2: mrn: already used by patient P-1"):
        store.add_patient(Patient("P-2", "MRN-0001", "x"), actor="desk:1")
    with pytest.raises(DuplicateError, match="patient P-3: id_number_hash: already used by patient P-1"):
        store.add_patient(Patient("P-3", "MRN-3", "x", id_number_hash="a" * 64), actor="desk:1")
    store.add_patient({"id": "P-4", "mrn": "MRN-4", "name": "Anon"}, actor="desk:1")
    assert store.get_patient("P-4") == Patient("P-4", "MRN-4", "Anon")
    with pytest.raises(InvalidInputError, match="patient P-5: sex: 'x' is not one of"):
        store.add_patient({"id": "P-5", "mrn": "MRN-5", "name": "A", "sex": "x"}, actor="desk:1")
    with pytest.raises(NotFoundError):
        store.get_patient("P-9")


def test_consent_latest_decision_counts(store: Store) -> None:
    """Consent decisions are kept as history; has_consent follows the latest; none means no."""
    store.add_patient(PATIENT, actor="desk:1")
    assert not store.has_consent("P-1", "face_identification")
    store.record_consent("P-1", "face_identification", True, actor="kiosk:K-1", source="K-1")
    assert store.has_consent("P-1", "face_identification")
    store.record_consent("P-1", "face_identification", False, actor="desk:1")
    assert not store.has_consent("P-1", "face_identification")
    history = store.consents("P-1")
    assert [(c.purpose, c.granted, c.actor, c.source) for c in history] == [
        ("face_identification", True, "kiosk:K-1", "K-1"),
        ("face_identification", False, "desk:1", ""),
    ]
    with pytest.raises(NotFoundError, match="patient P-9"):
        store.record_consent("P-9", "face_identification", True, actor="desk:1")


def test_check_in_and_triage_round_trip(store: Store) -> None:
    """Check-ins and triage results (bilingual reasons, missing inputs, vitals) come back equal."""
    store.add_patient(PATIENT, actor="desk:1")
    check_in = CheckIn("C-1", "P-1", "K-ED-1", CheckInMethod.FACE, T0 + 5, appointment_id=None)
    store.add_check_in(check_in, actor="kiosk:K-ED-1")
    assert store.get_check_in("C-1") == check_in
    assert store.check_ins(patient_id="P-1") == [check_in]
    result = TriageResult(
        level=TriageLevel.EMERGENT,
        reasons=(
            Reason("spo2_low", "Oxygen saturation below 92 %", "血氧飽和度低於 92 %", 2),
            Reason("chest_pain", "Chest pain", "胸痛", 2),
        ),
        destination="ED-RESUS",
        escalate=True,
        missing=("temperature_c",),
        ruleset="ktas-2024.1",
    )
    vitals = Vitals(heart_rate=118, resp_rate=24, systolic_bp=92, spo2=89.0)
    rec = store.add_triage_result(result, patient_id="P-1", check_in_id="C-1", vitals=vitals, actor="kiosk:K-ED-1")
    (got,) = store.triage_results(patient_id="P-1")
    assert got == rec
    assert (got.result, got.vitals, got.check_in_id) == (result, vitals, "C-1")
    store.add_triage_result(
        {"level": 4, "reasons": [{"code": "minor", "en": "Minor", "zh": "輕微", "level": 4}],
         "destination": "OPD", "escalate": False},
        patient_id="P-1", actor="nurse:amy",
    )  # fmt: skip
    assert [t.result.level for t in store.triage_results(patient_id="P-1")] == [4, 2]  # newest first


def test_check_in_and_triage_refusals(store: Store) -> None:
    """Unknown patient, duplicate check-in, a result without reasons or of another patient's check-in fail."""
    with pytest.raises(NotFoundError, match="check-in C-1: patient P-1: no such patient"):
        store.add_check_in(CheckIn("C-1", "P-1", "K-1", CheckInMethod.QR, T0), actor="k")
    store.add_patient(PATIENT, actor="desk:1")
    store.add_patient(Patient("P-2", "MRN-2", "B"), actor="desk:1")
    store.add_check_in(CheckIn("C-1", "P-1", "K-1", CheckInMethod.QR, T0), actor="k")
    with pytest.raises(DuplicateError, match="check-in C-1: already exists"):
        store.add_check_in(CheckIn("C-1", "P-1", "K-1", CheckInMethod.QR, T0), actor="k")
    with pytest.raises(InvalidInputError, match="triage result: reasons: a triage result must explain itself"):
        store.add_triage_result({"level": 3, "reasons": [], "destination": "ED", "escalate": False},
                                patient_id="P-1", actor="k")  # fmt: skip
    ok = TriageResult(TriageLevel.URGENT, (Reason("x", "x", "x", 3),), "ED", False)
    with pytest.raises(InvalidInputError, match="C-1 is patient P-1's, not P-2's"):
        store.add_triage_result(ok, patient_id="P-2", check_in_id="C-1", actor="k")
    assert store.triage_results() == []


# -- alerts, users, device tokens ---------------------------------------------------------------


def test_alerts_raise_ack_list(store: Store) -> None:
    """Alerts are raised open; the first acknowledgement counts; open_only hides acknowledged ones."""
    a = store.raise_alert("triage.red_flag", "Chest pain at kiosk K-ED-1", severity="critical", subject="patient:P-1")
    b = store.raise_alert("drawer.locked_out", "3 wrong PINs", subject="task:T-1")
    assert a.open and a.severity is AlertSeverity.CRITICAL
    acked = store.ack_alert(a.id, by="nurse:amy")
    assert (acked.acknowledged_by, acked.open) == ("nurse:amy", False)
    again = store.ack_alert(a.id, by="nurse:bo")
    assert again == acked
    assert [x.id for x in store.list_alerts()] == [b.id, a.id]
    assert [x.id for x in store.list_alerts(open_only=True)] == [b.id]
    assert [x.id for x in store.list_alerts(severity="critical")] == [a.id]
    assert [x.id for x in store.list_alerts(kind="drawer.locked_out")] == [b.id]
    with pytest.raises(NotFoundError, match="alert 999"):
        store.ack_alert(999, by="x")
    with pytest.raises(InvalidInputError, match="severity: 'loud' is not one of info, warning, critical"):
        store.raise_alert("x", "y", severity="loud")


def test_users_and_passwords(store: Store) -> None:
    """Users are stored with an argon2 hash; authenticate accepts the password, refuses others,
    unknown and deactivated users; duplicates and short passwords are refused."""
    user = store.add_user("amy.chen", "nurse", "correct horse battery", actor="admin")
    assert store.get_user("amy.chen") == user and user.active
    assert store.authenticate("amy.chen", "correct horse battery") == user
    assert store.authenticate("amy.chen", "wrong horse battery") is None
    assert store.authenticate("nobody", "correct horse battery") is None
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2") and "horse" not in stored
    with pytest.raises(DuplicateError, match=r"user amy\.chen: already exists"):
        store.add_user("amy.chen", "nurse", "another long password", actor="admin")
    with pytest.raises(InvalidInputError, match="password: must be at least 12 characters"):
        store.add_user("bo", "nurse", "short", actor="admin")
    with pytest.raises(InvalidInputError, match="username:"):
        store.add_user("bad name", "nurse", "long enough password", actor="admin")
    store.set_password("amy.chen", "a new long password", actor="admin")
    assert store.authenticate("amy.chen", "correct horse battery") is None
    assert store.authenticate("amy.chen", "a new long password") is not None
    store.set_user_active("amy.chen", False, actor="admin")
    assert store.authenticate("amy.chen", "a new long password") is None
    assert "horse" not in str(store.audit_log()) and "new long" not in str(store.audit_log())


def test_device_tokens(store: Store) -> None:
    """A device token verifies until revoked; only its SHA-256 is stored."""
    token, issued = store.issue_device_token("R-1", "robot", actor="admin")
    assert store.verify_device_token(token) == issued
    assert store.verify_device_token(token + "x") is None
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM device_tokens")).scalar_one()
    assert token not in stored and len(stored) == 64
    assert store.revoke_device_tokens("R-1", actor="admin") == 1
    assert store.verify_device_token(token) is None
    assert store.revoke_device_tokens("R-1", actor="admin") == 0


# -- audit ------------------------------------------------------------------------------------


def test_audit_log_append_and_query(store: Store) -> None:
    """Audit entries are appended in order with their detail; store writes audit themselves."""
    store.add_task(make_task("T-1"), actor="nurse:amy")
    store.audit("amy.chen", "login", "user:amy.chen", {"ip": "10.0.0.7"})
    store.audit("dr.wu", "patient.view", "patient:P-1")
    entries = store.audit_log()
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        ("nurse:amy", "task.add", "task:T-1"),
        ("amy.chen", "login", "user:amy.chen"),
        ("dr.wu", "patient.view", "patient:P-1"),
    ]
    assert entries[1].detail == {"ip": "10.0.0.7"}
    assert [e.action for e in store.audit_log(actor="dr.wu")] == ["patient.view"]
    assert [e.action for e in store.audit_log(newest_first=True, limit=1)] == ["patient.view"]
    assert [e.action for e in store.audit_log(since=entries[1].at)] == ["login", "patient.view"]
    with pytest.raises(InvalidInputError, match="detail: not representable as JSON"):
        store.audit("a", "b", "c", {"when": object()})
    assert not hasattr(store, "update_audit") and not hasattr(store, "delete_audit")


def test_append_only_tables_refuse_update_and_delete(store: Store) -> None:
    """Raw SQL UPDATE or DELETE on the audit log, status history or custody events fails in the
    database itself, and the rows stay."""
    store.add_task(make_task("T-1"), actor="a")
    store.record_custody(CustodyEvent("T-1", "R-1", CustodyKind.LOADED, "A", T0, "badge"))
    for table in APPEND_ONLY_TABLES:
        with store.engine.connect() as conn:
            before = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        assert before >= 1
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(sa.text(statement))
        with store.engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == before


@pytest.mark.postgres
def test_audit_log_refuses_truncate_on_postgresql(postgres_url: str) -> None:
    """TRUNCATE of an append-only table fails on PostgreSQL (SQLite has no TRUNCATE)."""
    db_upgrade(postgres_url)
    with Store.open(postgres_url) as store:
        store.audit("a", "b")
        for table in APPEND_ONLY_TABLES:
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {table} CASCADE"))
        assert len(store.audit_log()) == 1


# -- edges --------------------------------------------------------------------------------------


def test_naive_clock_refused(db_url: str) -> None:
    """A clock returning naive datetimes is refused with a clear message, not stored ambiguously."""
    with Store.open(db_url, clock=lambda: datetime(2026, 1, 1)) as store:
        with pytest.raises(StoreError, match="naive datetime"):
            store.audit("a", "b")
        assert store.audit_log() == []


def test_times_come_back_in_utc(store: Store) -> None:
    """Bookkeeping times are timezone-aware UTC on both databases, equal to the clock's reading."""
    entry = store.audit("a", "b")
    (again,) = store.audit_log()
    assert again.at == entry.at and again.at.tzinfo is not None and again.at.utcoffset().total_seconds() == 0


def test_concurrent_transitions_one_wins(open_store: Callable[[], Store]) -> None:
    """Two stores (as two processes would) finishing the same task at once: exactly one succeeds,
    the other is refused as an illegal transition from the status the first one set."""
    import threading

    setup = open_store()
    for n in range(5):
        setup.add_task(make_task(f"T-{n}"), actor="a")
        drive_to(setup, f"T-{n}", TaskStatus.PICKED_UP)
    stores = [open_store(), open_store()]
    targets = [TaskStatus.DELIVERED, TaskStatus.FAILED]
    for n in range(5):
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def finish(
            i: int, task_id: str = f"T-{n}", barrier: threading.Barrier = barrier, outcomes: list[str] = outcomes
        ) -> None:
            barrier.wait()
            try:
                stores[i].transition_task(task_id, targets[i], actor=f"worker-{i}")
                outcomes.append("ok")
            except IllegalTransitionError:
                outcomes.append("refused")

        threads = [threading.Thread(target=finish, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["ok", "refused"]
        history = setup.task_history(f"T-{n}")
        assert [h.to_status.terminal for h in history].count(True) == 1
