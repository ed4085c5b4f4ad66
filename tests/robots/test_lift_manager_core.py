"""The lift manager: FIFO queues, capacity, out-of-service rerouting, stale grants."""

from __future__ import annotations

import pytest
from robots_testkit import FakeClock

from hospital_ops.campus import Campus
from robots.alerts import AlertCode, Severity
from robots.lifts import LiftCall, LiftManager, LiftOp, LiftSpec, LiftStatus, always_grant

TOWER = [
    LiftSpec("A-L1", "A", ("B1", "1", "2", "3"), capacity=1),
    LiftSpec("A-L2", "A", ("1", "2", "3"), capacity=2),
    LiftSpec("B-L1", "B", ("1", "2"), capacity=1),
]


def req(rid: str, robot: str, lift: str = "A-L1", a: str = "1", b: str = "3") -> LiftCall:
    return LiftCall(LiftOp.REQUEST, rid, robot, lift, "", a, b)


@pytest.fixture
def manager(clock: FakeClock) -> LiftManager:
    return LiftManager(TOWER, clock=clock)


def test_grants_in_arrival_order_up_to_capacity(manager: LiftManager) -> None:
    """A one-robot car grants the first caller; the others queue in order with their positions."""
    assert manager.handle(req("q1", "R1")).status is LiftStatus.GRANTED
    second = manager.handle(req("q2", "R2"))
    third = manager.handle(req("q3", "R3"))
    assert (second.status, second.position) == (LiftStatus.QUEUED, 1)
    assert (third.status, third.position) == (LiftStatus.QUEUED, 2)
    view = manager.views()[0]
    assert view.riders == ("R1",) and view.queue == ("R2", "R3")


def test_release_grants_the_next_in_line(manager: LiftManager, clock: FakeClock) -> None:
    """Releasing a place grants the head of the queue, never a later arrival; waits are measured."""
    manager.handle(req("q1", "R1"))
    manager.handle(req("q2", "R2"))
    manager.handle(req("q3", "R3"))
    clock.tick(40.0)
    assert manager.handle(LiftCall(LiftOp.RELEASE, "q1")).status is LiftStatus.RELEASED
    assert manager.status("q2").status is LiftStatus.GRANTED
    assert manager.status("q3").position == 1
    stats = {s.lift_id: s for s in manager.wait_stats()}
    assert stats["A-L1"].granted == 2 and stats["A-L1"].max_wait_s == pytest.approx(40.0)


def test_capacity_two_lift_takes_two_robots(manager: LiftManager) -> None:
    """A two-robot car grants two callers at once and queues the third."""
    got = [manager.handle(req(f"q{i}", f"R{i}", "A-L2")).status for i in range(3)]
    assert got == [LiftStatus.GRANTED, LiftStatus.GRANTED, LiftStatus.QUEUED]


def test_cancel_leaves_the_queue_and_frees_a_grant(manager: LiftManager) -> None:
    """A cancelled waiter leaves the queue; a cancelled holder frees its place for the next."""
    manager.handle(req("q1", "R1"))
    manager.handle(req("q2", "R2"))
    manager.handle(req("q3", "R3"))
    assert manager.handle(LiftCall(LiftOp.CANCEL, "q2")).status is LiftStatus.CANCELLED
    assert manager.views()[0].queue == ("R3",)
    manager.handle(LiftCall(LiftOp.CANCEL, "q1"))
    assert manager.status("q3").status is LiftStatus.GRANTED


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (req("", "R1"), "request_id: must not be empty"),
        (req("q1", ""), "robot_id: must not be empty"),
        (req("q1", "R1", lift="Z-L9"), "lift_id: unknown lift 'Z-L9'"),
        (req("q1", "R1", lift="A-L2", a="B1"), "from_floor: lift A-L2 does not serve floor 'B1'"),
        (req("q1", "R1", b="9"), "to_floor: lift A-L1 does not serve floor '9'"),
        (req("q1", "R1", a="2", b="2"), "to_floor: same as from_floor"),
        (LiftCall(LiftOp.REQUEST, "q1", "R1", "A-L1", "B", "1", "3"), "building: lift A-L1 is in A, not B"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(manager: LiftManager, call: LiftCall, match: str) -> None:
    """Unknown lifts, floors and empty ids are refused with the field and the reason."""
    reply = manager.handle(call)
    assert reply.status is LiftStatus.REFUSED and match in reply.message


def test_retried_request_gets_the_same_answer(manager: LiftManager) -> None:
    """A request sent twice (a lost reply) is not queued twice; a used id cannot be reused."""
    manager.handle(req("q1", "R1"))
    manager.handle(req("q2", "R2"))
    again = manager.handle(req("q2", "R2"))
    assert (again.status, again.position) == (LiftStatus.QUEUED, 1)
    assert manager.views()[0].queue == ("R2",)
    assert "belongs to robot R2" in manager.handle(req("q2", "R3")).message
    manager.handle(LiftCall(LiftOp.CANCEL, "q2"))
    assert "already used" in manager.handle(req("q2", "R2")).message


def test_new_request_supersedes_the_robots_older_one(manager: LiftManager) -> None:
    """A robot is in one place: its new request ends its older live one."""
    manager.handle(req("q1", "R1"))
    manager.handle(req("q2", "R2"))
    manager.handle(req("q3", "R2", lift="A-L2"))
    assert manager.status("q2").status is LiftStatus.CANCELLED
    assert manager.views()[0].queue == ()


def test_unknown_request_and_ops(manager: LiftManager) -> None:
    """Status, release and cancel of an unknown id answer UNKNOWN (the robot then asks again)."""
    for op in (LiftOp.STATUS, LiftOp.RELEASE, LiftOp.CANCEL):
        assert manager.handle(LiftCall(op, "nope")).status is LiftStatus.UNKNOWN


def test_out_of_service_moves_waiters_to_another_lift_of_the_tower(manager: LiftManager) -> None:
    """Waiters move (in order) to A-L2; the robot in the car finishes; a warning alert names them."""
    manager.handle(req("q1", "R1"))
    manager.handle(req("q2", "R2"))
    manager.handle(req("q3", "R3"))
    change = manager.set_in_service("A-L1", False, "door fault", at_s=123)
    assert change.rerouted == (("R2", "A-L2"), ("R3", "A-L2")) and change.stranded == ()
    r2 = manager.status("q2")
    assert (r2.status, r2.lift_id, r2.rerouted_from) == (LiftStatus.GRANTED, "A-L2", "A-L1")
    assert manager.status("q1").status is LiftStatus.GRANTED  # still riding
    (alert,) = manager.drain_alerts()
    assert alert.code is AlertCode.LIFT_OUT_OF_SERVICE and alert.severity is Severity.WARNING
    assert "door fault" in alert.message and alert.at_s == 123
    # the rider leaves; the broken lift grants nobody new
    manager.handle(LiftCall(LiftOp.RELEASE, "q1"))
    late = manager.handle(req("q4", "R4"))
    assert (late.status, late.lift_id, late.rerouted_from) == (LiftStatus.QUEUED, "A-L2", "A-L1")
    view = {v.lift_id: v for v in manager.views()}["A-L1"]
    assert not view.in_service and view.reason == "door fault" and view.riders == ()


def test_out_of_service_strands_robots_no_other_lift_serves(manager: LiftManager) -> None:
    """Only A-L1 reaches B1: its waiters for B1 are told OUT_OF_SERVICE, with a critical alert."""
    manager.handle(req("q1", "R1", a="B1", b="3"))
    manager.handle(req("q2", "R2", a="B1", b="3"))
    change = manager.set_in_service("A-L1", False, "flooded pit")
    assert change.stranded == ("R2",)
    reply = manager.status("q2")
    assert reply.status is LiftStatus.OUT_OF_SERVICE and "no other lift of building A" in reply.message
    assert manager.drain_alerts()[0].severity is Severity.CRITICAL
    assert manager.handle(req("q3", "R3", a="B1", b="1")).status is LiftStatus.OUT_OF_SERVICE
    manager.set_in_service("A-L1", True)
    manager.handle(LiftCall(LiftOp.RELEASE, "q1"))
    assert manager.handle(req("q4", "R4", a="B1", b="1")).status is LiftStatus.GRANTED


def test_reroute_never_crosses_buildings(clock: FakeClock) -> None:
    """A lift in another building serving the same floors is not an alternative."""
    manager = LiftManager([LiftSpec("A-L1", "A", ("1", "2")), LiftSpec("B-L1", "B", ("1", "2"))], clock=clock)
    manager.handle(req("q1", "R1", a="1", b="2"))
    manager.handle(req("q2", "R2", a="1", b="2"))
    assert manager.set_in_service("A-L1", False, "x").stranded == ("R2",)


def test_reroute_picks_the_least_loaded_lift(clock: FakeClock) -> None:
    """Among the tower's other lifts, waiters go to the one with the shortest line per place."""
    manager = LiftManager(
        [
            LiftSpec("A-L1", "A", ("1", "2")),
            LiftSpec("A-L2", "A", ("1", "2")),
            LiftSpec("A-L3", "A", ("1", "2"), capacity=4),
        ],
        clock=clock,
    )
    manager.handle(req("q1", "R1", lift="A-L1", a="1", b="2"))
    manager.handle(req("q2", "R2", lift="A-L1", a="1", b="2"))
    manager.handle(req("q9", "R9", lift="A-L3", a="1", b="2"))
    assert manager.set_in_service("A-L1", False, "x").rerouted == (("R2", "A-L2"),)


def test_grant_held_too_long_is_force_released(clock: FakeClock) -> None:
    """A robot that died in the car does not block the lift forever: tick() frees it with an alert."""
    manager = LiftManager(TOWER, clock=clock, hold_timeout_s=300.0)
    manager.handle(req("q1", "R1"))
    manager.handle(req("q2", "R2"))
    clock.tick(200.0)
    assert manager.tick() == []
    clock.tick(200.0)
    assert manager.tick(at_s=9) == ["q1"]
    assert manager.status("q2").status is LiftStatus.GRANTED
    assert [a.code for a in manager.drain_alerts()] == [AlertCode.LIFT_TIMEOUT]


def test_from_campus_manages_every_campus_lift(tiny_campus: Campus) -> None:
    """The campus's lifts become managed lifts with their floors and capacities."""
    manager = LiftManager.from_campus(tiny_campus)
    assert manager.lift_ids == ["A-L1", "A-L2"]
    assert {v.lift_id: v.floors for v in manager.views()}["A-L2"] == ("1", "2", "3")


def test_version_changes_only_on_visible_changes(manager: LiftManager) -> None:
    """The version counter lets the node publish LiftState on change, not on polls."""
    v0 = manager.version
    manager.handle(req("q1", "R1"))
    v1 = manager.version
    manager.status("q1")
    assert v1 > v0 and manager.version == v1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"id": "", "building": "A", "floors": ("1", "2")}, "id: a lift needs an id"),
        ({"id": "L", "building": "A", "floors": ("1",)}, "floors: must serve at least two floors"),
        ({"id": "L", "building": "A", "floors": ("1", "2"), "capacity": 0}, "capacity: must be at least 1"),
    ],
)
def test_bad_lift_specs_are_refused(kwargs: dict[str, object], match: str) -> None:
    """A lift spec checks itself."""
    with pytest.raises(ValueError, match=match):
        LiftSpec(**kwargs)  # type: ignore[arg-type]


def test_duplicate_lifts_and_unknown_service_changes_are_refused(manager: LiftManager) -> None:
    """Duplicate lift ids and service changes for unknown lifts name the problem."""
    with pytest.raises(ValueError, match="duplicate lift id 'A-L1'"):
        LiftManager([TOWER[0], TOWER[0]])
    with pytest.raises(ValueError, match="lift_id: unknown lift 'Z'"):
        manager.set_in_service("Z", False)


def test_always_grant_for_a_lone_robot() -> None:
    """The stand-alone lift client grants every request and acknowledges releases."""
    assert always_grant(req("q1", "R1")).status is LiftStatus.GRANTED
    assert always_grant(LiftCall(LiftOp.RELEASE, "q1")).status is LiftStatus.RELEASED
