"""Scheduler core without ROS: store + dispatcher + simulated robot cores on a fake clock.

The robots are RobotDriverCore instances stepped by hand; "staff" open the drawers with the
task's PIN whenever a robot waits for a hand-over. Everything the ROS node would do is done by
plain calls, so the bookkeeping (legs sent once, adoption after a restart, custody written once,
lost robots) is checked quickly and deterministically.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from robots_testkit import PIN, FakeClock

from hospital_ops.campus import Campus
from hospital_ops.domain import CustodyKind, DeliveryTask, Priority, Stop, StopKind, TaskStatus, station_badge
from hospital_ops.store import Store
from robots.credentials import FAST_HASHER
from robots.driver_core import DriverConfig, OpenOutcome, Phase, RobotDriverCore
from robots.scheduling import (
    LegReport,
    Outcome,
    SchedulerConfig,
    SchedulerCore,
    decode_leg_id,
    encode_leg_id,
)
from robots.store_access import task_pin_hash
from scheduler import DispatchPolicy, GreedyPolicy, OrToolsPolicy, PlannerParams

T0 = 1_800_000_000


class World:
    """A store, robots and a scheduler core on one fake clock."""

    def __init__(
        self, campus: Campus, store: Store, robot_ids: list[str], policy: DispatchPolicy | None = None
    ) -> None:
        self.policy = policy or GreedyPolicy()
        self.campus = campus
        self.store = store
        self.wall = FakeClock(0.0)
        self.robots = {
            rid: RobotDriverCore(
                DriverConfig(rid, "DOCK", dwell_s=5.0, handover_timeout_s=3600.0),
                campus,
                clock=self.wall,
                start_at_s=T0,
            )
            for rid in robot_ids
        }
        self.dead: set[str] = set()
        self.legs: dict[str, str] = {}
        self.sent: list[tuple[str, str]] = []
        self.core = self.new_core()

    def now(self) -> float:
        return T0 + self.wall.t

    def new_core(self) -> SchedulerCore:
        return SchedulerCore(
            self.store,
            self.campus,
            policy=self.policy,
            clock=self.now,
            credentials=lambda tid: (task_pin_hash(self.store, tid), frozenset()),
            config=SchedulerConfig(state_period_s=0.0),
            wall=self.wall,
        )

    def run(self, out: Outcome) -> None:
        for order in out.orders:
            robot = self.robots[order.robot_id]
            if order.robot_id in self.dead:
                continue
            robot.start_leg(order.leg_id, order.stops)
            self.legs[order.robot_id] = order.leg_id
            self.sent.append((order.robot_id, order.leg_id))

    def step(self, dt: float = 5.0) -> None:
        self.wall.tick(dt)
        for rid, robot in self.robots.items():
            if rid in self.dead:
                continue
            robot.step()
            snap = robot.snapshot()
            if snap.phase is Phase.AWAITING_HANDOVER:
                if task_pin_hash(self.store, snap.current_task_id):
                    res = robot.open_drawer("pin", task_id=snap.current_task_id, pin=PIN, actor="nurse")
                else:  # an order without a PIN: the signed-in staff at this station open it
                    badge = station_badge(snap.location)
                    res = robot.open_drawer("badge", task_id=snap.current_task_id, badge=badge, actor="nurse")
                assert res.outcome is OpenOutcome.OPENED, res.message
            for ev in robot.drain_custody():
                self.run(self.core.on_custody(ev))
            leg = self.legs.get(rid)
            if leg is not None and (result := robot.result_of(leg)) is not None:
                del self.legs[rid]
                report = LegReport(rid, leg, result.outcome, result.reason, result.loaded, result.delivered)
                self.run(self.core.on_leg_result(report))
            self.run(self.core.on_robot_state(robot.snapshot()))
        self.run(self.core.poll_store())
        self.run(self.core.tick())

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
