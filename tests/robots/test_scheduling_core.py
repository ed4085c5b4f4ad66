"""Scheduler core without ROS: store + dispatcher + simulated robot cores on a fake clock.

The robots are RobotDriverCore instances stepped by hand; "staff" open the drawers with the
task's PIN whenever a robot waits for a hand-over. Everything the ROS node would do is done by
plain calls, so the bookkeeping (legs sent once, adoption after a restart, custody written once,
lost robots) is checked quickly and deterministically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from robots_testkit import PIN, FakeClock

from hospital_ops.campus import Campus
from hospital_ops.domain import (
    CustodyEvent,
    CustodyKind,
    DeliveryTask,
    Priority,
    Stop,
    StopKind,
    TaskStatus,
    station_badge,
)
from hospital_ops.store import Store
from robots.credentials import FAST_HASHER
from robots.driver_core import DriverConfig, LegOutcome, OpenOutcome, Phase, RobotDriverCore
from robots.scheduling import (
    LegEnd,
    LegReport,
    Outcome,
    SchedulerConfig,
    SchedulerCore,
    decode_leg_id,
    encode_leg_id,
    leg_end,
    planning_location,
)
from robots.store_access import task_pin_hash
from scheduler import DispatchPolicy, GreedyPolicy, OrToolsPolicy, PlannerParams

T0 = 1_800_000_000


class World:
    """A store, robots and a scheduler core on one fake clock."""

    def __init__(
        self,
        campus: Campus,
        store: Store,
        robot_ids: list[str],
        policy: DispatchPolicy | None = None,
        config: SchedulerConfig | None = None,
        handover_timeout_s: float = 3600.0,
        docks: list[str] | None = None,
    ) -> None:
        self.policy = policy or GreedyPolicy()
        self.config = config or SchedulerConfig(state_period_s=0.0)
        self.campus = campus
        self.store = store
        self.wall = FakeClock(0.0)
        self.robots = {
            rid: RobotDriverCore(
                DriverConfig(
                    rid,
                    docks[i % len(docks)] if docks else "DOCK",
                    dwell_s=5.0,
                    handover_timeout_s=handover_timeout_s,
                ),
                campus,
                clock=self.wall,
                start_at_s=T0,
            )
            for i, rid in enumerate(robot_ids)
        }
        self.dead: set[str] = set()
        self.legs: dict[str, str] = {}
        self.sent: list[tuple[str, str]] = []
        #: Robots out of radio reach: they drive on, but nothing they publish arrives (held until
        #: they are back) and nothing sent to them arrives.
        self.silent: set[str] = set()
        self.held: dict[str, list[CustodyEvent]] = {}
        #: Robots whose cancels are lost even when they are reachable.
        self.deaf: set[str] = set()
        #: Every cancel the core asked for: (robot, leg, delivered to a robot driving that leg).
        self.cancels: list[tuple[str, str, bool]] = []
        #: Task → badge the staff use instead of the PIN.
        self.badges: dict[str, str] = {}
        #: Tasks whose hand-overs nobody comes to (the robot waits, then its leg fails).
        self.absent: set[str] = set()
        #: Robots whose leg results are lost (the scheduler is told so instead of getting them).
        self.results_lost: set[str] = set()
        #: Deliver each robot's state before its leg results, and those results only at the end of
        #: the step (after the poll and the tick), as over ROS where the state may arrive first.
        self.state_first = False
        self.core = self.new_core()

    def now(self) -> float:
        return T0 + self.wall.t

    def new_core(self) -> SchedulerCore:
        return SchedulerCore(
            self.store,
            self.campus,
            policy=self.policy,
            clock=self.now,
            config=self.config,
            wall=self.wall,
        )

    def run(self, out: Outcome) -> None:
        for rid, leg_id in out.cancels:
            robot = self.robots[rid]
            reached = rid not in self.dead | self.silent | self.deaf and robot.snapshot().leg_id == leg_id
            if reached:
                robot.cancel_leg("cancelled by the scheduler")
            self.cancels.append((rid, leg_id, reached))
        for order in out.orders:
            robot = self.robots[order.robot_id]
            if order.robot_id in self.dead:
                continue
            robot.start_leg(order.leg_id, order.stops)
            self.legs[order.robot_id] = order.leg_id
            self.sent.append((order.robot_id, order.leg_id))

    def step(self, dt: float = 5.0) -> None:
        self.wall.tick(dt)
        held: list[LegReport] = []
        for rid, robot in self.robots.items():
            if rid in self.dead:
                continue
            robot.step()
            snap = robot.snapshot()
            if snap.phase is Phase.AWAITING_HANDOVER and snap.current_task_id not in self.absent:
                if snap.current_task_id in self.badges:
                    badge = self.badges[snap.current_task_id]
                    res = robot.open_drawer("badge", task_id=snap.current_task_id, badge=badge, actor="porter")
                elif task_pin_hash(self.store, snap.current_task_id):
                    res = robot.open_drawer("pin", task_id=snap.current_task_id, pin=PIN, actor="nurse")
                else:  # an order without a PIN: the signed-in staff at this station open it
                    badge = station_badge(snap.location)
                    res = robot.open_drawer("badge", task_id=snap.current_task_id, badge=badge, actor="nurse")
                assert res.outcome is OpenOutcome.OPENED, res.message
            if rid in self.silent:
                self.held.setdefault(rid, []).extend(robot.drain_custody())
                continue
            for ev in robot.drain_custody():
                self.run(self.core.on_custody(ev))
            leg = self.legs.get(rid)
            if leg is not None and (result := robot.result_of(leg)) is not None:
                del self.legs[rid]
                report = LegReport(rid, leg, result.outcome, result.reason, result.loaded, result.delivered)
                if rid in self.results_lost:
                    self.run(self.core.on_robot_state(robot.snapshot()))
                    self.run(self.core.on_leg_result_lost(rid, leg))
                elif self.state_first:
                    held.append(report)
                else:
                    self.run(self.core.on_leg_result(report))
            self.run(self.core.on_robot_state(robot.snapshot()))
        self.run(self.core.poll_store())
        self.run(self.core.tick())
        for report in held:
            self.run(self.core.on_leg_result(report))

    def reconnect(self, rid: str, *, back: bool = True) -> None:
        """A silent robot is in reach again: its held custody events arrive (transient-local), then
        its state, then (``back``) the fleet manager's "back" alert."""
        self.silent.discard(rid)
        for ev in self.held.pop(rid, []):
            self.run(self.core.on_custody(ev))
        self.run(self.core.on_robot_state(self.robots[rid].snapshot()))
        if back:
            self.run(self.core.on_robot_back(rid))

    def until(self, pred, limit: int = 4000) -> None:  # type: ignore[no-untyped-def]
        for _ in range(limit):
            if pred():
                return
            self.step()
        raise AssertionError("the world did not get there")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'ops.db'}", hasher=FAST_HASHER)
    yield s
    s.close()


def add(store: Store, tid: str, pickup: str = "PHARM", dropoff: str = "W3", prio: Priority = Priority.URGENT) -> None:
    task = DeliveryTask(tid, pickup, dropoff, prio, T0 - 60, T0 + 3600)
    store.add_task(task, actor="nurse", pin=PIN)


def statuses(store: Store) -> dict[str, TaskStatus]:
    return {r.id: r.status for r in store.list_tasks()}


def test_leg_ids_round_trip() -> None:
    """A leg id names its stops; ids with odd characters survive; foreign ids decode to None."""
    stops = [
        Stop(StopKind.PICKUP, "PHARM", 0, "T/1+x"),
        Stop(StopKind.DROPOFF, "W3", 0, "T/1+x"),
        Stop(StopKind.CHARGE, "DOCK", 0),
    ]
    leg = encode_leg_id("a1", stops)
    assert decode_leg_id(leg) == [(StopKind.PICKUP, "T/1+x"), (StopKind.DROPOFF, "T/1+x"), (StopKind.CHARGE, "DOCK")]
    assert decode_leg_id("L1") is None and decode_leg_id("x/q:1") is None


@pytest.mark.parametrize("policy", ["greedy", "ortools"])
def test_store_tasks_are_planned_sent_once_and_delivered(tiny_campus: Campus, store: Store, policy: str) -> None:
    """Tasks in the store are delivered by two robots (either policy): two custody events each, every
    leg sent once."""
    for i in range(4):
        add(store, f"T{i}", dropoff="W3" if i % 2 else "W1")
    chosen = GreedyPolicy() if policy == "greedy" else OrToolsPolicy(PlannerParams(time_limit_s=0.1))
    w = World(tiny_campus, store, ["R1", "R2"], chosen)
    for robot in w.robots.values():
        w.core.on_robot_state(robot.snapshot())
    w.run(w.core.start())
    w.until(lambda: all(s is TaskStatus.DELIVERED for s in statuses(store).values()))
    for i in range(4):
        kinds = [e.kind for e in store.custody_events(task_id=f"T{i}")]
        assert kinds == [CustodyKind.LOADED, CustodyKind.DELIVERED]
    assert len(w.sent) == len(set(w.sent))
    # a task added later (the REST API writes the store) is picked up by the poll
    add(store, "T9", dropoff="W1", prio=Priority.STAT)
    w.until(lambda: statuses(store)["T9"] is TaskStatus.DELIVERED)


def test_restart_adopts_running_legs_without_duplicates(tiny_campus: Campus, store: Store) -> None:
    """A new core (restart) mid-leg adopts the running legs: nothing re-sent, every task delivered once."""
    for i in range(3):
        add(store, f"T{i}")
    w = World(tiny_campus, store, ["R1", "R2"])
    for robot in w.robots.values():
        w.core.on_robot_state(robot.snapshot())
    w.run(w.core.start())
    w.until(lambda: any(r.snapshot().phase is Phase.WALKING for r in w.robots.values()))
    running = {rid: r.snapshot().leg_id for rid, r in w.robots.items() if r.snapshot().leg_id}
    assert running
    # restart: the new core knows nothing but the store and what the robots publish
    w.core = w.new_core()
    for robot in w.robots.values():
        w.run(w.core.on_robot_state(robot.snapshot()))
    out = w.core.start()
    assert not [o for o in out.orders if o.robot_id in running]
    assert set(w.core.inflight().items()) >= set(running.items())
    w.run(out)
    w.until(lambda: all(s is TaskStatus.DELIVERED for s in statuses(store).values()))
    for i in range(3):
        assert [e.kind for e in store.custody_events(task_id=f"T{i}")] == [CustodyKind.LOADED, CustodyKind.DELIVERED]


def test_custody_events_are_written_once(tiny_campus: Campus, store: Store) -> None:
    """A replayed custody event (transient-local after a restart) is not written again."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1"])
    w.core.on_robot_state(w.robots["R1"].snapshot())
    w.run(w.core.start())
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)
    events = store.custody_events(task_id="T1")
    again = w.new_core()
    for ev in events:
        again.on_custody(ev)
        w.core.on_custody(ev)
    assert len(store.custody_events(task_id="T1")) == 2


def test_lost_robot_tasks_are_replanned(tiny_campus: Campus, store: Store) -> None:
    """A robot lost before its pickup: its tasks go to the other robot and are delivered."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1"])
    w.core.on_robot_state(w.robots["R1"].snapshot())
    w.run(w.core.start())
    assert store.get_task("T1").robot_id == "R1"
    w.dead.add("R1")
    lost = w.core.on_robot_lost("R1")
    assert [rid for rid, _ in lost.cancels] == ["R1"]  # a robot that was only silent stops its old leg
    w.run(lost)
    w.robots["R2"] = RobotDriverCore(
        DriverConfig("R2", "DOCK", dwell_s=5.0), tiny_campus, clock=w.wall, start_at_s=w.now()
    )
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)
    assert store.get_task("T1").robot_id == "R2"


def test_order_without_pin_opens_only_for_its_stations_and_ros_submission_keeps_its_hash(
    tiny_campus: Campus, store: Store
) -> None:
    """An order without a PIN (from the HIS) is planned; each stop opens with that stop's station
    credential only (the drop-off ward's is denied at the pharmacy); a submitted PIN hash is
    stored and sent with the leg."""
    store.add_task(DeliveryTask("T0", "PHARM", "W3", Priority.ROUTINE, T0, T0 + 7200), actor="his")
    w = World(tiny_campus, store, ["R1"])
    w.core.on_robot_state(w.robots["R1"].snapshot())
    robot = w.robots["R1"]
    w.run(w.core.start())
    while robot.snapshot().phase is not Phase.AWAITING_HANDOVER:  # step the robot alone to the pharmacy
        w.wall.tick(5.0)
        robot.step()
    wrong = robot.open_drawer("badge", task_id="T0", badge=station_badge("W3"), actor="someone")
    assert wrong.outcome is OpenOutcome.DENIED
    w.until(lambda: statuses(store)["T0"] is TaskStatus.DELIVERED)
    assert [e.kind.value for e in store.custody_events(task_id="T0")][-2:] == ["loaded", "delivered"]
    with pytest.raises(ValueError, match="pin_hash"):
        w.core.submit(DeliveryTask("T9", "PHARM", "W1", Priority.STAT, T0, T0 + 900), "1234", frozenset(), actor="ros")
    pin_hash = FAST_HASHER.hash(PIN)
    out = w.core.submit(
        DeliveryTask("T1", "PHARM", "W1", Priority.STAT, T0, T0 + 900), pin_hash, frozenset(), actor="ros"
    )
    assert task_pin_hash(store, "T1") == pin_hash
    w.run(out)
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)


# ---- robots declared lost while only out of reach -------------------------------------------------
def _lose_while_driving(w: World, task_id: str) -> tuple[str, str, str]:
    """Start the world, let the task's robot set off, then cut it off and declare it lost.
    Returns (that robot, its revoked leg, the other robot)."""
    for robot in w.robots.values():
        w.core.on_robot_state(robot.snapshot())
    w.run(w.core.start())
    x = w.store.get_task(task_id).robot_id
    assert x is not None
    (y,) = set(w.robots) - {x}
    leg = w.legs[x]
    w.step()
    assert w.robots[x].snapshot().leg_id == leg
    w.silent.add(x)
    w.step()
    w.run(w.core.on_robot_lost(x))
    assert w.cancels == [(x, leg, False)]  # sent, but the robot is out of reach: lost
    assert w.core.revoked() == {leg: x}
    w.step()
    assert w.store.get_task(task_id).robot_id == y and y in w.legs  # re-planned onto the other robot
    assert w.robots[x].snapshot().leg_id == leg  # ... while the silent robot drives on
    return x, leg, y


def _custody(store: Store, task_id: str) -> list[tuple[CustodyKind, str]]:
    return [(e.kind, e.robot_id) for e in store.custody_events(task_id=task_id)]


def test_cancel_lost_while_unreachable_is_sent_again_when_the_robot_is_back(tiny_campus: Campus, store: Store) -> None:
    """A robot declared lost while only out of reach misses the cancel of its leg; when it is back the
    cancel is sent again (its leg is never adopted), it stops, and the task is delivered once, by the
    robot it was re-planned to."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1", "R2"])
    x, leg, y = _lose_while_driving(w, "T1")
    w.silent.discard(x)
    w.run(w.core.on_robot_back(x))
    assert w.cancels[-1] == (x, leg, True)
    assert leg not in w.core.adopted().values() and leg not in w.core.inflight().values()
    w.until(lambda: w.robots[x].result_of(leg) is not None)  # (a lift ride is finished first)
    result = w.robots[x].result_of(leg)
    assert result is not None and result.outcome is LegOutcome.CANCELLED
    assert w.core.revoked() == {}
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)
    assert _custody(store, "T1") == [(CustodyKind.LOADED, y), (CustodyKind.DELIVERED, y)]
    assert store.get_task("T1").robot_id == y


def test_revoked_leg_driven_on_is_recorded_truthfully_and_its_task_moves_to_that_robot(
    tiny_campus: Campus, store: Store
) -> None:
    """Cancels that never arrive are sent again on the robot's states showing the revoked leg, at most
    max_cancel_resends times. The robot that drove on loads the task after all: the store records it on
    that robot, the leg of the robot the task was re-planned to is revoked, the dispatcher has the item
    on the robot that holds it, and the task is delivered exactly once."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1", "R2"], config=SchedulerConfig(state_period_s=0.0, max_cancel_resends=3))
    x, leg, y = _lose_while_driving(w, "T1")
    y_leg = w.legs[y]
    w.deaf.add(x)  # its cancels keep getting lost
    w.reconnect(x)
    w.until(lambda: statuses(store)["T1"] is TaskStatus.PICKED_UP)
    rec = store.get_task("T1")
    assert rec.robot_id == x
    disp = w.core.dispatcher
    assert disp is not None
    assert "T1" in disp.robots[x].on_board and "T1" not in disp.robots[y].on_board
    assert all(st.task_id != "T1" or rid == x for rid, stops in disp.commitments.items() for st in stops)
    assert (y, y_leg, True) in w.cancels  # the other robot no longer drives to a pickup that is gone
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)
    assert _custody(store, "T1") == [(CustodyKind.LOADED, x), (CustodyKind.DELIVERED, x)]
    assert store.get_task("T1").robot_id == x
    # the first cancel, then three more (bounded), none of which arrived
    assert [c for c in w.cancels if c[1] == leg] == [(x, leg, False)] * 4
    w.step()
    assert w.core.revoked() == {} and w.core.inflight() == {}


def test_custody_from_a_robot_still_lost_leaves_the_plan_until_it_is_back(tiny_campus: Campus, store: Store) -> None:
    """A LOADED from a robot still declared lost (its events arrive before the "back" alert) is stored on
    that robot and the other robot's leg for it is revoked; the task leaves the plan while the robot is
    lost, and once it is back its drop-off is planned on it: delivered once, by the robot holding it."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1", "R2"])
    x, leg, y = _lose_while_driving(w, "T1")
    y_leg = w.legs[y]
    w.until(lambda: any(e.kind is CustodyKind.LOADED for e in w.held.get(x, [])))
    # its first state heard again is from the same campus second as the LOADED event (whole seconds),
    # from just before the drawer was opened: the store, not that state, says what it holds
    (loaded,) = (e for e in w.held[x] if e.kind is CustodyKind.LOADED)
    now = w.robots[x].snapshot()
    empty = tuple(dataclasses.replace(d, loaded=False) for d in now.drawers)
    before = dataclasses.replace(now, at_s=loaded.at_s + 0.4, drawers=empty)
    w.silent.discard(x)
    w.run(w.core.on_robot_state(before))
    w.reconnect(x, back=False)
    assert store.get_task("T1").status is TaskStatus.PICKED_UP and store.get_task("T1").robot_id == x
    assert (y, y_leg, True) in w.cancels
    disp = w.core.dispatcher
    assert disp is not None and "T1" not in disp.tasks
    w.run(w.core.on_robot_back(x))
    assert w.cancels[-1] == (x, leg, True)  # its old leg is cancelled now that it is in reach
    disp = w.core.dispatcher
    assert disp is not None and disp.robots[x].on_board == ("T1",)
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)
    assert _custody(store, "T1") == [(CustodyKind.LOADED, x), (CustodyKind.DELIVERED, x)]


def test_badges_of_a_ros_submission_survive_a_scheduler_restart(tiny_campus: Campus, store: Store) -> None:
    """A task submitted over ROS with badges only: the store keeps a hash of each, a scheduler started
    afresh from the store sends those hashes (never the badges) with the leg, the drawer opens with the
    badge, not with the hash itself, and the task is delivered."""
    w = World(tiny_campus, store, ["R1"])
    w.core.persist_submission(
        DeliveryTask("T5", "PHARM", "W1", Priority.URGENT, T0, T0 + 3600), "", frozenset({"BADGE-77"}), actor="ros"
    )
    assert store.get_task("T5").has_pin is False
    w.core = w.new_core()  # restart: nothing but the store
    w.core.on_robot_state(w.robots["R1"].snapshot())
    out = w.core.start()
    (order,) = out.orders
    for stop in order.stops:
        assert "BADGE-77" not in stop.badges
        hashes = [b for b in stop.badges if b.startswith("$argon2")]
        assert len(hashes) == 1 and FAST_HASHER.verify(hashes[0], "BADGE-77")
    w.run(out)
    robot = w.robots["R1"]
    while robot.snapshot().phase is not Phase.AWAITING_HANDOVER:
        w.wall.tick(5.0)
        robot.step()
    (hashed,) = (b for b in order.stops[0].badges if b.startswith("$argon2"))
    assert robot.open_drawer("badge", task_id="T5", badge=hashed, actor="someone").outcome is OpenOutcome.DENIED
    w.badges["T5"] = "BADGE-77"
    w.until(lambda: statuses(store)["T5"] is TaskStatus.DELIVERED)
    assert [(e.kind, e.method) for e in store.custody_events(task_id="T5")][-2:] == [
        (CustodyKind.LOADED, "badge"),
        (CustodyKind.DELIVERED, "badge"),
    ]


def test_cancel_retry_settings_are_checked_and_a_lift_lobby_is_planned_from_a_nearby_location(
    tiny_campus: Campus,
) -> None:
    """Negative cancel retry settings are refused naming the field; a robot left at a lift lobby by a
    cancelled leg is planned from the nearest location on that floor (the planner knows no lobbies)."""
    with pytest.raises(ValueError, match="cancel_retry_s"):
        SchedulerConfig(cancel_retry_s=-1)
    with pytest.raises(ValueError, match="max_cancel_resends"):
        SchedulerConfig(max_cancel_resends=-1)
    with pytest.raises(ValueError, match="robots_per_zone"):
        SchedulerConfig(robots_per_zone=-1)
    assert planning_location(tiny_campus, "A@1") == "W1"
    assert planning_location(tiny_campus, "A@B1") == "DOCK"
    assert planning_location(tiny_campus, "A@2") in tiny_campus.locations  # no location on it: the building's
    assert planning_location(tiny_campus, "PHARM") == "PHARM"


# ---- why a leg ended: only genuine failures count against its tasks ------------------------------
def _pickups(leg_id: str) -> list[str]:
    return [ref for kind, ref in decode_leg_id(leg_id) or [] if kind is StopKind.PICKUP]


def test_a_cancelled_task_never_fails_the_others_on_its_leg(tiny_campus: Campus, store: Store) -> None:
    """Three times a task is cancelled (CancelTask, then twice by staff through the store) while the
    robot drives a leg that also picks up task A at the pharmacy: each time the whole leg is cancelled
    and A goes back to the pool with no failure counted (max_leg_failures is 3), and A is delivered."""
    for tid in "ABCD":
        add(store, tid)
    w = World(tiny_campus, store, ["R1"], OrToolsPolicy(PlannerParams(time_limit_s=0.1)))
    w.core.on_robot_state(w.robots["R1"].snapshot())
    w.run(w.core.start())
    for n, victim in enumerate("BCD"):
        w.until(lambda: "R1" in w.legs)
        leg = w.legs["R1"]
        assert {"A", victim} <= set(_pickups(leg)), f"expected A and {victim} picked up in one leg, got {leg}"
        assert statuses(store)["A"] is TaskStatus.PLANNED  # not on board yet: a failure would count against A
        if n == 0:
            out = w.core.cancel(victim, "no longer needed", actor="nurse")  # CancelTask over ROS
        else:  # staff through the REST API: the store only, the core hears it at its poll
            store.transition_task(victim, TaskStatus.CANCELLED, actor="nurse", reason="no longer needed")
            out = w.core.poll_store()
        assert ("R1", leg) in out.cancels
        w.run(out)
        w.until(lambda leg=leg: w.robots["R1"].result_of(leg) is not None and w.legs.get("R1", leg) != leg)
        result = w.robots["R1"].result_of(leg)
        assert result is not None and result.outcome is LegOutcome.CANCELLED
        assert w.core.leg_failures() == {}
        assert statuses(store)["A"] is not TaskStatus.FAILED
    w.until(lambda: statuses(store)["A"] is TaskStatus.DELIVERED)
    assert statuses(store) == {
        "A": TaskStatus.DELIVERED,
        "B": TaskStatus.CANCELLED,
        "C": TaskStatus.CANCELLED,
        "D": TaskStatus.CANCELLED,
    }
    assert w.core.leg_failures() == {}


def test_genuine_leg_failures_count_and_fail_the_task_after_max_leg_failures(tiny_campus: Campus, store: Store) -> None:
    """A leg the robot could not finish (nobody came for the hand-over) counts against its task: the
    task is re-planned after the first and second failures and failed after the third
    (max_leg_failures), with the reason in the store."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1"], handover_timeout_s=120.0)
    w.absent.add("T1")
    w.core.on_robot_state(w.robots["R1"].snapshot())
    w.run(w.core.start())
    legs: list[str] = []
    for n in (1, 2, 3):
        w.until(lambda: "R1" in w.legs and w.legs["R1"] not in legs)
        leg = w.legs["R1"]
        legs.append(leg)
        w.until(lambda leg=leg: w.robots["R1"].result_of(leg) is not None and w.legs.get("R1") != leg)
        result = w.robots["R1"].result_of(leg)
        assert result is not None and result.outcome is LegOutcome.FAILED and "no hand-over" in result.reason
        assert w.core.leg_failures() == {"T1": n}
        assert statuses(store)["T1"] is (TaskStatus.FAILED if n == 3 else TaskStatus.PLANNED)
    assert all(_pickups(leg) == ["T1"] for leg in legs)
    (failed,) = (c for c in store.task_history("T1") if c.to_status is TaskStatus.FAILED)
    assert failed.reason.startswith("leg failed 3 time(s): no hand-over")
    w.step()
    assert "R1" not in w.legs  # a failed task is not planned again


@pytest.mark.parametrize("state_first", [True, False], ids=["state-first", "result-first"])
def test_leg_failures_count_across_a_full_replan_whichever_of_state_and_result_comes_first(
    tiny_campus: Campus, store: Store, state_first: bool
) -> None:
    """A full re-plan (rebuild) while the robot drives a leg this core sent does not make that leg
    adopted: it keeps its identity, and its failure (nobody came for the hand-over) counts exactly
    once whether the leg's result arrives before or after the state showing the leg over (even after
    a new leg was sent); the task is failed after max_leg_failures with the reason in the store."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1"], handover_timeout_s=120.0)
    w.state_first = state_first
    w.absent.add("T1")
    w.core.on_robot_state(w.robots["R1"].snapshot())
    w.run(w.core.start())
    legs: list[str] = []
    for n in (1, 2, 3):
        w.until(lambda: "R1" in w.legs and w.legs["R1"] not in legs)
        leg = w.legs["R1"]
        legs.append(leg)
        w.step()  # the core sees the leg running
        assert w.robots["R1"].snapshot().leg_id == leg
        w.run(w.core.rebuild("a full re-plan mid-leg"))
        assert w.core.inflight() == {"R1": leg} and w.core.adopted() == {}
        w.until(lambda leg=leg: w.robots["R1"].result_of(leg) is not None and w.legs.get("R1") != leg)
        result = w.robots["R1"].result_of(leg)
        assert result is not None and result.outcome is LegOutcome.FAILED and "no hand-over" in result.reason
        assert w.core.leg_failures() == {"T1": n}
        assert statuses(store)["T1"] is (TaskStatus.FAILED if n == 3 else TaskStatus.PLANNED)
    (failed,) = (c for c in store.task_history("T1") if c.to_status is TaskStatus.FAILED)
    assert failed.reason.startswith("leg failed 3 time(s): no hand-over")
    w.until(lambda: "R1" not in w.legs)  # (a leg sent before the late result failed the task is cancelled)
    for _ in range(3):
        w.step()
    assert "R1" not in w.legs and w.core.inflight() == {}  # a failed task is not planned again
    assert w.core.leg_failures() == {"T1": 3}


@pytest.mark.parametrize("cancelled", [False, True], ids=["failed", "cancel-asked"])
def test_a_result_after_the_state_showing_its_leg_over_is_judged_once(
    tiny_campus: Campus, store: Store, cancelled: bool
) -> None:
    """After a full re-plan, the robot's state shows a leg this core sent over before its result comes
    (reported failed, then repeated). With max_leg_failures=1 it fails the task exactly once, and the
    leg already sent to pick that task up again is cancelled; had the core asked to cancel the leg (its
    task cancelled, the cancel lost on its way) the same result is CANCELLED: no failure counted."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1"], config=SchedulerConfig(state_period_s=0.0, max_leg_failures=1))
    robot = w.robots["R1"]
    w.core.on_robot_state(robot.snapshot())
    w.run(w.core.start())
    leg = w.legs["R1"]
    w.step()
    w.run(w.core.rebuild("a full re-plan mid-leg"))
    if cancelled:
        assert ("R1", leg) in w.core.cancel("T1", "no longer needed", actor="nurse").cancels  # (not delivered)
    now = robot.snapshot()
    seen_over = w.core.on_robot_state(dataclasses.replace(now, leg_id="", at_s=now.at_s + 1))
    assert leg not in w.core.inflight().values()  # the robot is free: planned from its state again
    again = [o.leg_id for o in seen_over.orders]
    assert again == ([] if cancelled else [w.core.inflight()["R1"]])
    report = LegReport("R1", leg, LegOutcome.FAILED, "no hand-over for the pickup of task T1 at PHARM")
    late = w.core.on_leg_result(report)
    repeated = w.core.on_leg_result(report)
    assert repeated.cancels == [] and repeated.orders == []
    if cancelled:
        assert w.core.leg_failures() == {} and statuses(store)["T1"] is TaskStatus.CANCELLED
        return
    assert w.core.leg_failures() == {"T1": 1}
    assert statuses(store)["T1"] is TaskStatus.FAILED
    (failed,) = (c for c in store.task_history("T1") if c.to_status is TaskStatus.FAILED)
    assert failed.reason.startswith("leg failed 1 time(s): no hand-over")
    assert late.cancels == [("R1", again[0])]
    disp = w.core.dispatcher
    assert disp is not None and "T1" not in disp.tasks


def test_a_revoked_leg_of_a_lost_robot_is_no_failure(tiny_campus: Campus, store: Store) -> None:
    """The leg of a robot declared lost is revoked; when that robot's result comes late (even as a
    failure) it counts against no task: with max_leg_failures=1 any count would fail the task, yet it
    is delivered by the robot it was re-planned to."""
    add(store, "T1")
    config = SchedulerConfig(state_period_s=0.0, max_leg_failures=1)
    w = World(tiny_campus, store, ["R1", "R2"], config=config)
    x, leg, y = _lose_while_driving(w, "T1")
    w.dead.add(x)  # its battery died out of reach; its last result arrives late
    w.silent.discard(x)
    late = LegReport(x, leg, LegOutcome.FAILED, "battery empty near A@1")
    assert leg_end(late, revoked=True) is LegEnd.REVOKED
    w.run(w.core.on_leg_result(late))
    assert w.core.revoked() == {} and w.core.leg_failures() == {}
    assert statuses(store)["T1"] is not TaskStatus.FAILED
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)
    assert _custody(store, "T1") == [(CustodyKind.LOADED, y), (CustodyKind.DELIVERED, y)]
    assert w.core.leg_failures() == {}


def test_leg_end_says_why_a_leg_ended() -> None:
    """A revoked leg is REVOKED whatever the robot said; then the robot's DONE / CANCELLED; a refusal
    at the start is REFUSED; a leg the core asked to cancel that the robot reports failed is CANCELLED;
    only the rest is FAILED, and only FAILED counts as a failure."""

    def report(outcome: LegOutcome, reason: str = "") -> LegReport:
        return LegReport("R1", "n1/p:T1", outcome, reason)

    no_handover = report(LegOutcome.FAILED, "no hand-over for the pickup of task T1 at PHARM")
    assert leg_end(report(LegOutcome.DONE)) is LegEnd.DONE
    assert leg_end(report(LegOutcome.CANCELLED, "cancelled by the fleet manager")) is LegEnd.CANCELLED
    assert leg_end(no_handover) is LegEnd.FAILED
    assert leg_end(no_handover, cancel_asked=True) is LegEnd.CANCELLED
    assert leg_end(no_handover, revoked=True) is LegEnd.REVOKED
    assert leg_end(report(LegOutcome.DONE), revoked=True) is LegEnd.REVOKED
    assert leg_end(report(LegOutcome.FAILED, "goal rejected by the robot")) is LegEnd.REFUSED
    assert leg_end(report(LegOutcome.FAILED, "robot R1 is busy with leg x; cancel it first")) is LegEnd.REFUSED
    assert [e for e in LegEnd if e.counts_as_failure] == [LegEnd.FAILED]


def test_a_large_fleet_is_planned_in_dispatch_zones_like_the_twin(store: Store) -> None:
    """With robots_per_zone set so the fleet makes two zones (the default 20 does from 30 robots),
    the scheduler node plans per tower group as the twin does: every task is delivered, each by a
    robot of its own zone, and the plan recorded covers both zones."""
    from hospital_ops.campus import parse_campus
    from hospital_ops.campus_gen import generate_campus
    from scheduler import ZonedDispatcher

    campus = parse_campus(generate_campus(1000), "<1,000 beds>")
    wards = {b: [w.station for w in campus.wards if w.building == b] for b in ("T1", "T2")}
    docks = ["T1-B1-DOCK1", "T2-B1-DOCK1"]
    w = World(
        campus,
        store,
        ["R1", "R2", "R3", "R4"],
        config=SchedulerConfig(state_period_s=0.0, robots_per_zone=2),
        docks=docks,
    )
    for i in range(6):
        tower = "T1" if i % 2 else "T2"
        add(store, f"T{i}", pickup="MT-01-PHARMACY", dropoff=wards[tower][i % len(wards[tower])])
    for robot in w.robots.values():
        w.core.on_robot_state(robot.snapshot())
    w.run(w.core.start())
    disp = w.core.dispatcher
    assert isinstance(disp, ZonedDispatcher) and len(disp.zoning.zones) == 2
    zone_of_task = {f"T{i}": disp.task_zone(f"T{i}") for i in range(6)}
    w.until(lambda: all(s is TaskStatus.DELIVERED for s in statuses(store).values()))
    for tid, zone in zone_of_task.items():
        [loaded] = [e for e in store.custody_events(task_id=tid) if e.kind is CustodyKind.LOADED]
        assert disp.robot_zone(loaded.robot_id) == zone, tid
    assert {zone_of_task[f"T{i}"] for i in range(6)} == set(disp.zoning.ids)


def test_a_lost_leg_result_does_not_leave_the_robot_waiting_forever(tiny_campus: Campus, store: Store) -> None:
    """When a leg's result is lost (the action server died), the scheduler is told so: the robot
    is freed once its state shows the leg over and goes on with the next tasks; every task is
    delivered exactly once (the hand-overs are known from custody events)."""
    for i in range(4):
        add(store, f"T{i}", dropoff="W3" if i % 2 else "W1")
    w = World(tiny_campus, store, ["R1"])
    w.results_lost.add("R1")
    for robot in w.robots.values():
        w.core.on_robot_state(robot.snapshot())
    w.run(w.core.start())
    w.until(lambda: all(s is TaskStatus.DELIVERED for s in statuses(store).values()))
    for i in range(4):
        assert [e.kind for e in store.custody_events(task_id=f"T{i}")] == [CustodyKind.LOADED, CustodyKind.DELIVERED]
    assert len(w.sent) >= 2 and not w.core.leg_failures()
    assert w.core.on_leg_result_lost("R1", "no-such-leg").orders == []


def test_a_restarted_scheduler_still_knows_a_revoked_leg(tiny_campus: Campus, store: Store) -> None:
    """A scheduler restarted while a robot is lost reads the revoked leg back from the store (an
    open alert staff see too): when the robot is back still driving it, the leg is not adopted but
    cancelled, the task is delivered once by the robot it was re-planned to, and the alert is
    closed once the robot is off the leg."""
    add(store, "T1")
    w = World(tiny_campus, store, ["R1", "R2"])
    x, leg, y = _lose_while_driving(w, "T1")
    [alert] = store.list_alerts(open_only=True, kind="robot.leg_revoked")
    assert alert.subject == f"robot:{x} leg:{leg}"
    w.core = w.new_core()  # restart while the robot is still out of reach
    assert w.core.revoked() == {leg: x}
    for rid, robot in w.robots.items():
        if rid != x:
            w.core.on_robot_state(robot.snapshot())
    w.run(w.core.start())
    w.silent.discard(x)
    w.run(w.core.on_robot_state(w.robots[x].snapshot()))
    w.run(w.core.on_robot_back(x))
    assert leg not in w.core.adopted().values() and leg not in w.core.inflight().values()
    assert (x, leg, True) in w.cancels
    w.until(lambda: statuses(store)["T1"] is TaskStatus.DELIVERED)
    assert _custody(store, "T1") == [(CustodyKind.LOADED, y), (CustodyKind.DELIVERED, y)]
    w.until(lambda: not store.list_alerts(open_only=True, kind="robot.leg_revoked"))
    assert w.core.revoked() == {}
