"""The simulated robot: travel, lifts, battery, drawers and custody — all on a fake clock."""

from __future__ import annotations

import re

import pytest
from robots_testkit import PIN, FakeClock

from hospital_ops.campus import Campus
from hospital_ops.domain import CustodyKind, RobotMode, StopKind
from robots.alerts import AlertCode, Severity
from robots.credentials import FAST_HASHER, hash_pin
from robots.driver_core import (
    DrawerStatus,
    DriverConfig,
    LegOutcome,
    LegRejected,
    LegStop,
    OpenOutcome,
    Phase,
    RobotDriverCore,
)
from robots.lifts import LiftCall, LiftManager, LiftReply, LiftStatus


def make(
    campus: Campus,
    start: str = "PHARM",
    clock: FakeClock | None = None,
    lifts: LiftManager | None = None,
    **cfg: object,
) -> RobotDriverCore:
    config = DriverConfig(robot_id=str(cfg.pop("robot_id", "R1")), start=start, **cfg)  # type: ignore[arg-type]
    kwargs: dict[str, object] = {"clock": clock or FakeClock(), "start_at_s": 1_700_000_000}
    if lifts is not None:
        kwargs["lift"] = lifts
    return RobotDriverCore(config, campus, **kwargs)  # type: ignore[arg-type]


def delivery(pin_hash: str, task: str = "T1", pickup: str = "PHARM", dropoff: str = "W3") -> list[LegStop]:
    return [
        LegStop(StopKind.PICKUP, pickup, task, pin_hash=pin_hash, badges=frozenset({"BADGE-PHARM"})),
        LegStop(StopKind.DROPOFF, dropoff, task, pin_hash=pin_hash, badges=frozenset({"BADGE-NURSE"})),
    ]


def run_until(robot: RobotDriverCore, phase: Phase, step: float = 1.0, limit: float = 10_000.0) -> float:
    """Advance in small steps until the robot is in ``phase``; returns the simulated seconds used."""
    used = 0.0
    while robot.snapshot().phase is not phase:
        robot.advance(step)
        used += step
        assert used <= limit, f"robot never reached {phase}; now {robot.snapshot()}"
    return used


# ---- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("speed_mps", 0.0, "speed_mps: must be positive"),
        ("time_scale", -1.0, "time_scale: must be positive"),
        ("drawers", 0, "drawers: must be 1..32"),
        ("battery_pct", 120.0, "battery_pct: 120.0 is outside 0..100"),
        ("max_pin_attempts", 0, "max_pin_attempts: must be at least 1"),
        ("dwell_s", -1.0, "dwell_s: must not be negative"),
    ],
)
def test_config_rejects_bad_values(field: str, value: object, match: str) -> None:
    """A bad configuration value is refused with the field's name and the reason."""
    with pytest.raises(ValueError, match=match):
        DriverConfig(robot_id="R1", start="PHARM", **{field: value})  # type: ignore[arg-type]


def test_unknown_start_location_is_refused(tiny_campus: Campus) -> None:
    """A robot cannot start at a place the campus does not have."""
    with pytest.raises(ValueError, match="start: unknown campus location 'NOWHERE'"):
        make(tiny_campus, start="NOWHERE")


def test_stop_refuses_a_clear_pin_instead_of_a_hash() -> None:
    """A stop carrying the PIN itself instead of its hash is refused before it reaches a drawer."""
    with pytest.raises(ValueError, match="pin_hash: task T1: not an argon2id hash"):
        LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash="4321")
    with pytest.raises(ValueError, match="task_id: a pickup stop at PHARM needs its task"):
        LegStop(StopKind.PICKUP, "PHARM")


# ---- the happy path ------------------------------------------------------------------------


def test_full_delivery_across_floors(tiny_campus: Campus, pin_hash: str, clock: FakeClock) -> None:
    """Pickup in the pharmacy, lift to floor 3, drop-off: two custody events, lift used and released."""
    lifts = LiftManager.from_campus(tiny_campus, clock=clock)
    robot = make(tiny_campus, clock=clock, lifts=lifts, start="W1")
    robot.start_leg("L1", delivery(pin_hash))
    snap = robot.snapshot()
    assert snap.mode is RobotMode.BUSY and snap.leg_id == "L1" and snap.current_task_id == "T1"
    assert snap.drawers[0].status is DrawerStatus.RESERVED and snap.drawers[0].task_id == "T1"

    run_until(robot, Phase.AWAITING_HANDOVER)
    assert robot.location == "PHARM"
    opened = robot.open_drawer("pin", task_id="T1", pin=PIN, actor="pharmacist-7")
    assert opened.outcome is OpenOutcome.OPENED and opened.custody is not None
    assert opened.custody.kind is CustodyKind.LOADED and opened.custody.actor == "pharmacist-7"
    assert robot.snapshot().phase is Phase.DWELLING

    run_until(robot, Phase.RIDING_LIFT)
    assert lifts.views()[0].riders == ("R1",)
    run_until(robot, Phase.AWAITING_HANDOVER)
    assert robot.location == "W3" and robot.snapshot().floor == "3"
    assert lifts.views()[0].riders == ()  # released after the ride
    delivered = robot.open_drawer("badge", task_id="T1", badge="BADGE-NURSE")
    assert delivered.outcome is OpenOutcome.OPENED
    run_until(robot, Phase.IDLE)

    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.DONE and result.success
    assert result.loaded == ("T1",) and result.delivered == ("T1",)
    assert result.lifts_used == ("A-L1",) and result.final_location == "W3" and result.stops_done == 2
    events = robot.drain_custody()
    assert [(e.kind, e.method, e.location, e.drawer) for e in events] == [
        (CustodyKind.LOADED, "pin", "PHARM", 0),
        (CustodyKind.DELIVERED, "badge", "W3", 0),
    ]
    assert events[1].actor == "BADGE-NURSE"
    assert robot.drain_custody() == []
    assert robot.snapshot().drawers[0].status is DrawerStatus.EMPTY
    assert robot.snapshot().mode is RobotMode.IDLE


def test_battery_drains_per_kilometre_and_odometer_counts_metres(tiny_campus: Campus, pin_hash: str) -> None:
    """PHARM→W3 is 230 m of walking: 4 %/km drains 0.92 points; lift rides cost nothing."""
    robot = make(tiny_campus, consumption_pct_per_km=4.0, dwell_s=0.0)
    robot.start_leg("L1", delivery(pin_hash))
    robot.open_drawer("pin", task_id="T1", pin=PIN)  # already at the pharmacy
    run_until(robot, Phase.AWAITING_HANDOVER)
    assert robot.snapshot().odometer_m == pytest.approx(230.0)
    assert robot.battery_pct == pytest.approx(100.0 - 0.92)


def test_one_large_advance_never_skips_a_hand_over(tiny_campus: Campus, pin_hash: str) -> None:
    """Even a day-long step stops at the hand-over: the robot waits for the drawer, not the clock."""
    robot = make(tiny_campus, start="W1", handover_timeout_s=10**9)
    robot.start_leg("L1", delivery(pin_hash))
    robot.advance(86_400.0)
    assert robot.snapshot().phase is Phase.AWAITING_HANDOVER and robot.location == "PHARM"
    robot.open_drawer("pin", task_id="T1", pin=PIN)
    robot.advance(86_400.0)
    assert robot.snapshot().phase is Phase.AWAITING_HANDOVER and robot.location == "W3"


def test_step_uses_the_injected_clock_and_time_scale(tiny_campus: Campus, pin_hash: str) -> None:
    """step() turns real seconds into simulated ones with the time scale; nothing sleeps."""
    clock = FakeClock()
    robot = make(tiny_campus, clock=clock, time_scale=60.0, start="W1")
    before = robot.now_s
    robot.start_leg("L1", delivery(pin_hash))
    clock.tick(2.0)
    assert robot.step() == pytest.approx(120.0)
    assert robot.now_s == pytest.approx(before + 120.0)
    # W1 -> PHARM is a 250 m walk: after 120 s the robot is 120 m along it
    snap = robot.snapshot()
    assert snap.phase is Phase.WALKING and snap.location == "W1"
    assert (snap.x, snap.y) == pytest.approx((0.0 + 210.0 * 120 / 250, 50.0 - 50.0 * 120 / 250))


def test_progress_rises_and_eta_falls(tiny_campus: Campus, pin_hash: str) -> None:
    """Feedback progress never goes backwards and the ETA shrinks as the robot drives."""
    robot = make(tiny_campus, start="W1", dwell_s=0.0)
    robot.start_leg("L1", delivery(pin_hash))
    first = robot.progress()
    assert first is not None and first.progress == 0.0
    assert first.eta_s == 250 + 264 and first.eta_at_s == pytest.approx(robot.now_s + first.eta_s, abs=1)
    last = first
    for _ in range(40):
        robot.advance(5.0)
        if robot.snapshot().phase is Phase.AWAITING_HANDOVER and robot.location == "PHARM":
            robot.open_drawer("pin", task_id="T1", pin=PIN)
        now = robot.progress()
        assert now is not None
        assert now.progress >= last.progress and now.eta_s <= last.eta_s
        last = now
    assert 0.0 < last.progress < 1.0


def test_task_stays_on_board_between_legs(tiny_campus: Campus, pin_hash: str) -> None:
    """A task picked up in one leg is dropped off in the next; the planner sees it on board."""
    robot = make(tiny_campus, dwell_s=0.0)
    robot.start_leg("L1", [LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash=pin_hash)])
    robot.open_drawer("pin", task_id="T1", pin=PIN)
    robot.advance(1.0)
    assert robot.result_of("L1") is not None and not robot.busy
    assert robot.as_robot().on_board == ("T1",)
    robot.start_leg("L2", [LegStop(StopKind.DROPOFF, "W1", "T1")])
    run_until(robot, Phase.AWAITING_HANDOVER)
    assert robot.open_drawer("pin", task_id="T1", pin=PIN).outcome is OpenOutcome.OPENED
    robot.advance(1.0)
    assert robot.result_of("L2").delivered == ("T1",)  # type: ignore[union-attr]
    assert robot.as_robot().on_board == ()


# ---- drawers and custody -------------------------------------------------------------------


def test_three_wrong_pins_lock_the_drawer_and_raise_an_alert(tiny_campus: Campus, pin_hash: str) -> None:
    """Two denials, then a lock-out with a critical alert; the leg fails; the PIN is never recorded."""
    robot = make(tiny_campus)
    robot.start_leg("L1", delivery(pin_hash))
    outcomes = [robot.open_drawer("pin", task_id="T1", pin="8642", actor="x").outcome for _ in range(3)]
    assert outcomes == [OpenOutcome.DENIED, OpenOutcome.DENIED, OpenOutcome.LOCKED_OUT]
    # even the right PIN no longer opens it
    again = robot.open_drawer("pin", task_id="T1", pin=PIN)
    assert again.outcome is OpenOutcome.LOCKED_OUT and again.custody is None
    events = robot.drain_custody()
    assert [e.kind for e in events] == [CustodyKind.DENIED, CustodyKind.DENIED, CustodyKind.LOCKED_OUT]
    assert all("8642" not in repr(e) and PIN not in repr(e) for e in events)
    alerts = robot.drain_alerts()
    assert [(a.code, a.severity, a.task_id) for a in alerts] == [(AlertCode.DRAWER_LOCKED_OUT, Severity.CRITICAL, "T1")]
    robot.advance(1.0)
    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.FAILED and "locked out" in result.reason
    assert robot.snapshot().drawers[0].status is DrawerStatus.LOCKED_OUT


def test_denial_reports_attempts_left_and_success_resets_them(tiny_campus: Campus, pin_hash: str) -> None:
    """A wrong PIN says how many tries remain; the right one afterwards opens and resets the count."""
    robot = make(tiny_campus)
    robot.start_leg("L1", delivery(pin_hash))
    denied = robot.open_drawer("pin", task_id="T1", pin="9999")
    assert denied.outcome is OpenOutcome.DENIED and denied.attempts_left == 2
    assert "2 attempt(s) left" in denied.message
    assert robot.snapshot().drawers[0].failed_attempts == 1
    assert robot.open_drawer("pin", task_id="T1", pin=PIN).outcome is OpenOutcome.OPENED
    assert robot.snapshot().drawers[0].failed_attempts == 0


def test_badges_open_only_when_authorised(tiny_campus: Campus, pin_hash: str) -> None:
    """An authorised badge opens the drawer; a stranger's badge is a denial recorded with its id."""
    robot = make(tiny_campus)
    robot.start_leg("L1", delivery(pin_hash))
    denied = robot.open_drawer("badge", task_id="T1", badge="BADGE-VISITOR")
    assert denied.outcome is OpenOutcome.DENIED and denied.custody is not None
    assert denied.custody.actor == "BADGE-VISITOR" and denied.custody.method == "badge"
    assert robot.open_drawer("badge", drawer=0, badge="BADGE-PHARM").outcome is OpenOutcome.OPENED


def test_drawer_does_not_open_away_from_its_stop(tiny_campus: Campus, pin_hash: str) -> None:
    """While driving, even the right PIN is refused and no attempt is counted or recorded."""
    robot = make(tiny_campus, start="W1")
    robot.start_leg("L1", delivery(pin_hash))
    robot.advance(10.0)
    res = robot.open_drawer("pin", task_id="T1", pin="0000")
    assert res.outcome is OpenOutcome.NOT_AT_STOP and res.custody is None
    assert robot.snapshot().drawers[0].failed_attempts == 0
    assert robot.drain_custody() == []


def test_only_the_current_stops_drawer_opens(tiny_campus: Campus, pin_hash: str) -> None:
    """At T1's pickup, T2's drawer stays shut even with T2's own PIN."""
    other = hash_pin("5555", FAST_HASHER)
    robot = make(tiny_campus)
    robot.start_leg(
        "L1",
        [
            LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash=pin_hash),
            LegStop(StopKind.PICKUP, "PHARM", "T2", pin_hash=other),
        ],
    )
    assert robot.open_drawer("pin", task_id="T2", pin="5555").outcome is OpenOutcome.NOT_AT_STOP
    assert robot.open_drawer("pin", task_id="T1", pin=PIN).drawer == 0
    run_until(robot, Phase.AWAITING_HANDOVER)
    assert robot.open_drawer("pin", task_id="T2", pin="5555").drawer == 1


@pytest.mark.parametrize(
    ("kwargs", "outcome", "match"),
    [
        ({"method": "face"}, OpenOutcome.INVALID, "method: must be 'pin' or 'badge'"),
        ({"method": "pin"}, OpenOutcome.INVALID, "pin: required"),
        ({"method": "badge"}, OpenOutcome.INVALID, "badge_id: required"),
        ({"method": "pin", "pin": "1", "task_id": "T9"}, OpenOutcome.NOT_FOUND, "task T9: no such"),
        ({"method": "pin", "pin": "1", "drawer": 3}, OpenOutcome.NOT_FOUND, "drawer 3: no such"),
    ],
)
def test_bad_open_requests_are_explained(
    tiny_campus: Campus, pin_hash: str, kwargs: dict[str, object], outcome: OpenOutcome, match: str
) -> None:
    """Malformed or misdirected openings name the field and the reason, and count no attempt."""
    robot = make(tiny_campus)
    robot.start_leg("L1", delivery(pin_hash))
    res = robot.open_drawer(**kwargs)  # type: ignore[arg-type]
    assert res.outcome is outcome and match in res.message
    assert robot.drain_custody() == []


def test_supervisor_reset_frees_a_locked_out_empty_drawer(tiny_campus: Campus, pin_hash: str) -> None:
    """A drawer locked out at the pickup held nothing: the supervisor's reset frees it."""
    robot = make(tiny_campus)
    robot.start_leg("L1", delivery(pin_hash))
    for _ in range(3):
        robot.open_drawer("pin", task_id="T1", pin="0000")
    robot.advance(1.0)
    assert not robot.reset_drawer(0, actor="")
    assert robot.reset_drawer(0, actor="supervisor-1")
    assert robot.snapshot().drawers[0].status is DrawerStatus.EMPTY


def test_hand_over_timeout_fails_the_leg_and_frees_the_drawer(tiny_campus: Campus, pin_hash: str) -> None:
    """Nobody comes to load: after the timeout the leg fails, an alert is raised, the drawer is free."""
    robot = make(tiny_campus, handover_timeout_s=300.0)
    robot.start_leg("L1", delivery(pin_hash))
    robot.advance(299.0)
    assert robot.busy
    robot.advance(2.0)
    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.FAILED and "no hand-over" in result.reason
    assert [a.code for a in robot.drain_alerts()] == [AlertCode.HANDOVER_TIMEOUT]
    assert robot.snapshot().drawers[0].status is DrawerStatus.EMPTY


# ---- leg validation ------------------------------------------------------------------------


def test_leg_rejections_name_the_stop_and_reason(tiny_campus: Campus, pin_hash: str) -> None:
    """check_leg explains every refusal; start_leg raises LegRejected with the same text."""
    robot = make(tiny_campus, drawers=1)
    cases = {
        "stops: a leg needs at least one stop": [],
        "stops[0] (pickup at NOWHERE): unknown campus location 'NOWHERE'": [
            LegStop(StopKind.PICKUP, "NOWHERE", "T1", pin_hash=pin_hash)
        ],
        "neither picked up earlier in this leg nor on board": [LegStop(StopKind.DROPOFF, "W3", "T1")],
        "has neither a PIN hash nor a badge": [LegStop(StopKind.PICKUP, "PHARM", "T1")],
        "charge stops must be at a dock": [LegStop(StopKind.CHARGE, "W3")],
        "2 pickups need 2 drawers but only 1 are free": [
            LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash=pin_hash),
            LegStop(StopKind.PICKUP, "PHARM", "T2", pin_hash=pin_hash),
        ],
    }
    for reason, stops in cases.items():
        got = robot.check_leg("L1", stops)
        assert got is not None and reason in got, (reason, got)
        with pytest.raises(LegRejected, match=re.escape(reason)):
            robot.start_leg("L1", stops)
    robot.start_leg("L1", delivery(pin_hash))
    assert "busy with leg L1" in (robot.check_leg("L2", delivery(pin_hash, task="T2")) or "")


# ---- cancel --------------------------------------------------------------------------------


def test_cancel_while_walking_stops_at_the_nearer_end(tiny_campus: Campus, pin_hash: str) -> None:
    """Cancelled 200 m into a 250 m corridor, the robot stops at the far end; the drawer is freed."""
    robot = make(tiny_campus, start="W1")
    robot.start_leg("L1", delivery(pin_hash))
    robot.advance(200.0)
    assert robot.cancel_leg("replanned")
    robot.advance(0.5)
    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.CANCELLED and result.reason == "replanned"
    assert robot.location == "PHARM" and not robot.busy
    assert robot.snapshot().drawers[0].status is DrawerStatus.EMPTY
    assert not robot.cancel_leg()


def test_cancel_in_a_lift_finishes_the_ride_first(tiny_campus: Campus, pin_hash: str) -> None:
    """A robot cannot leave a moving car: cancel takes effect at the upper lobby; loaded items stay."""
    robot = make(tiny_campus, dwell_s=0.0)
    robot.start_leg("L1", delivery(pin_hash))
    robot.open_drawer("pin", task_id="T1", pin=PIN)
    run_until(robot, Phase.RIDING_LIFT)
    robot.cancel_leg("fire alarm")
    robot.advance(1.0)
    assert robot.busy and robot.snapshot().phase is Phase.RIDING_LIFT
    robot.advance(30.0)
    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.CANCELLED
    assert robot.location == "A@3" and robot.as_robot().on_board == ("T1",)


def test_cancel_while_queued_for_a_lift_leaves_the_queue(tiny_campus: Campus, pin_hash: str, clock: FakeClock) -> None:
    """A cancelled robot gives up its place in the lift queue."""
    lifts = LiftManager.from_campus(tiny_campus, clock=clock)
    lifts.request(LiftCall("request", "blocker", "R9", "A-L1", "A", "1", "3"))  # type: ignore[arg-type]
    robot = make(tiny_campus, clock=clock, lifts=lifts, start="W1")
    robot.start_leg("L1", [LegStop(StopKind.CHARGE, "DOCK")])  # W1 -> A@1, lift down to B1
    run_until(robot, Phase.WAITING_LIFT)
    assert lifts.views()[0].queue == ("R1",)
    robot.cancel_leg("new plan")
    robot.advance(1.0)
    assert lifts.views()[0].queue == ()


# ---- lifts ---------------------------------------------------------------------------------


def test_second_robot_waits_for_a_full_lift(tiny_campus: Campus, pin_hash: str, clock: FakeClock) -> None:
    """With a one-robot car, R2 queues until R1 has ridden and released it, then boards."""
    lifts = LiftManager.from_campus(tiny_campus, clock=clock)
    r1 = make(tiny_campus, clock=clock, lifts=lifts, robot_id="R1", start="DOCK")
    r2 = make(tiny_campus, clock=clock, lifts=lifts, robot_id="R2", start="DOCK")
    r1.start_leg("L1", [LegStop(StopKind.PICKUP, "W1", "T1", pin_hash=pin_hash)])
    r2.start_leg("L2", [LegStop(StopKind.PICKUP, "W1", "T2", pin_hash=pin_hash)])
    for _ in range(10):
        r1.advance(1.0)
        r2.advance(1.0)
    assert r1.snapshot().phase is Phase.RIDING_LIFT
    assert r2.snapshot().phase is Phase.WAITING_LIFT
    assert lifts.views()[0].queue == ("R2",)
    for _ in range(20):
        r1.advance(1.0)
        r2.advance(1.0)
    assert r1.location != "A@B1" and r2.snapshot().phase in (Phase.RIDING_LIFT, Phase.WALKING)


def test_lift_out_of_service_without_alternative_fails_the_leg(
    tiny_campus: Campus, pin_hash: str, clock: FakeClock
) -> None:
    """B1 is served by A-L1 only: with it out of service the leg fails saying why."""
    lifts = LiftManager.from_campus(tiny_campus, clock=clock)
    lifts.set_in_service("A-L1", False, "maintenance")
    robot = make(tiny_campus, clock=clock, lifts=lifts, start="DOCK")
    robot.start_leg("L1", [LegStop(StopKind.PICKUP, "W1", "T1", pin_hash=pin_hash)])
    robot.advance(20.0)
    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.FAILED
    assert "out_of_service" in result.reason and "maintenance" in result.reason


def test_rerouted_robot_rides_the_other_lift(tiny_campus: Campus, pin_hash: str, clock: FakeClock) -> None:
    """A-L1 goes out of service while R1 waits for it: R1 is moved to A-L2 and rides that."""
    lifts = LiftManager.from_campus(tiny_campus, clock=clock)
    lifts.request(LiftCall("request", "blocker", "R9", "A-L1", "A", "1", "3"))  # type: ignore[arg-type]
    robot = make(tiny_campus, clock=clock, lifts=lifts, start="W1", dwell_s=0.0)
    robot.start_leg("L1", [LegStop(StopKind.PICKUP, "W3", "T1", pin_hash=pin_hash)])
    run_until(robot, Phase.WAITING_LIFT)
    change = lifts.set_in_service("A-L1", False, "door fault")
    assert change.rerouted == (("R1", "A-L2"),)
    run_until(robot, Phase.AWAITING_HANDOVER)
    robot.open_drawer("pin", task_id="T1", pin=PIN)
    robot.advance(1.0)
    assert robot.result_of("L1").lifts_used == ("A-L2",)  # type: ignore[union-attr]


def test_unreachable_lift_manager_times_out_with_an_alert(tiny_campus: Campus, pin_hash: str) -> None:
    """A lift client that raises is retried; after lift_timeout_s the leg fails with LIFT_TIMEOUT."""
    calls: list[LiftCall] = []

    def broken(call: LiftCall) -> LiftReply:
        calls.append(call)
        raise TimeoutError("no answer from /lifts/request")

    config = DriverConfig(robot_id="R1", start="W1", lift_timeout_s=60.0, lift_poll_s=5.0)
    robot = RobotDriverCore(config, tiny_campus, lift=broken, clock=FakeClock())
    robot.start_leg("L1", [LegStop(StopKind.CHARGE, "DOCK")])
    for _ in range(200):
        robot.advance(1.0)
    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.FAILED and "no lift within 60 s" in result.reason
    assert 10 <= len(calls) <= 14  # one try per poll interval, not one per tick
    assert AlertCode.LIFT_TIMEOUT in [a.code for a in robot.drain_alerts()]


def test_forgotten_request_is_asked_again(tiny_campus: Campus, pin_hash: str) -> None:
    """If the lift manager restarted and answers UNKNOWN, the robot requests the lift anew."""
    ops: list[str] = []

    def forgetful(call: LiftCall) -> LiftReply:
        ops.append(call.op)
        if call.op == "request":
            return LiftReply(LiftStatus.QUEUED if len(ops) == 1 else LiftStatus.GRANTED, call.request_id, call.lift_id)
        if call.op == "status":
            return LiftReply(LiftStatus.UNKNOWN, call.request_id)
        return LiftReply(LiftStatus.RELEASED, call.request_id)

    config = DriverConfig(robot_id="R1", start="W1", lift_poll_s=1.0)
    robot = RobotDriverCore(config, tiny_campus, lift=forgetful, clock=FakeClock())
    robot.start_leg("L1", [LegStop(StopKind.CHARGE, "DOCK")])
    for _ in range(120):
        robot.advance(1.0)
    assert ops[:3] == ["request", "status", "request"] and ops[-1] == "release"
    assert robot.result_of("L1").outcome is LegOutcome.DONE  # type: ignore[union-attr]


# ---- battery -------------------------------------------------------------------------------


def test_empty_battery_stops_the_robot_in_fault(tiny_campus: Campus, pin_hash: str) -> None:
    """At 0.4 % and 4 %/km the robot makes 100 m of a 250 m corridor, stops, alerts, refuses new legs."""
    robot = make(tiny_campus, start="W1", battery_pct=0.4, low_battery_pct=0.0)
    robot.start_leg("L1", [LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash=pin_hash)])
    robot.advance(10_000.0)
    result = robot.result_of("L1")
    assert result is not None and result.outcome is LegOutcome.FAILED and "battery empty" in result.reason
    assert robot.snapshot().mode is RobotMode.FAULT and robot.battery_pct == 0.0
    assert robot.snapshot().odometer_m == pytest.approx(100.0)
    assert robot.location == "W1"  # 40 % along: stopped nearer the start
    assert [a.code for a in robot.drain_alerts()] == [AlertCode.BATTERY_EMPTY]
    assert "fault" in (robot.check_leg("L2", [LegStop(StopKind.CHARGE, "DOCK")]) or "")


def test_low_battery_alert_is_raised_once(tiny_campus: Campus, pin_hash: str) -> None:
    """Crossing the low threshold raises one warning, not one per tick."""
    robot = make(tiny_campus, start="W1", battery_pct=21.0, consumption_pct_per_km=10.0, dwell_s=0.0)
    robot.start_leg("L1", delivery(pin_hash))
    robot.advance(1_000.0)
    robot.open_drawer("pin", task_id="T1", pin=PIN)
    robot.advance(1_000.0)
    codes = [a.code for a in robot.drain_alerts()]
    assert codes == [AlertCode.BATTERY_LOW]


def test_idle_robot_charges_at_a_dock(tiny_campus: Campus) -> None:
    """Idle at a dock at 50 %/h, a robot at 40 % is charging and full after 72 minutes; not elsewhere."""
    robot = make(tiny_campus, start="DOCK", battery_pct=40.0, charge_pct_per_h=50.0)
    assert robot.snapshot().mode is RobotMode.CHARGING and robot.snapshot().phase is Phase.CHARGING
    robot.advance(3600.0)
    assert robot.battery_pct == pytest.approx(90.0)
    robot.advance(1200.0)
    assert robot.battery_pct == 100.0 and robot.snapshot().mode is RobotMode.IDLE
    away = make(tiny_campus, start="W1", battery_pct=40.0)
    away.advance(3600.0)
    assert away.battery_pct == 40.0


def test_charge_stop_ends_at_the_dock_and_charging_starts(tiny_campus: Campus) -> None:
    """A leg to a dock finishes on arrival; the robot then charges while idle."""
    robot = make(tiny_campus, start="W1", battery_pct=50.0)
    robot.start_leg("C1", [LegStop(StopKind.CHARGE, "DOCK")])
    robot.advance(200.0)
    assert robot.result_of("C1").outcome is LegOutcome.DONE  # type: ignore[union-attr]
    assert robot.location == "DOCK" and robot.snapshot().mode is RobotMode.CHARGING
    level = robot.battery_pct
    robot.advance(360.0)
    assert robot.battery_pct == pytest.approx(level + 5.0)


# ---- snapshot ------------------------------------------------------------------------------


def test_snapshot_describes_the_robot_for_publishing(tiny_campus: Campus, pin_hash: str) -> None:
    """Snapshot carries building, floor, level, position, drawers, leg and a planner view."""
    robot = make(tiny_campus, start="DOCK", drawers=2)
    snap = robot.snapshot()
    assert (snap.building, snap.floor, snap.level, snap.x, snap.y) == ("A", "B1", 0.0, 10.0, 0.0)
    assert snap.leg_eta_s is None and snap.leg_id == "" and len(snap.drawers) == 2
    robot.start_leg("L1", [LegStop(StopKind.PICKUP, "W3", "T1", pin_hash=pin_hash)])
    run_until(robot, Phase.RIDING_LIFT)
    robot.advance(7.0)  # into the 16 s ride B1 -> 3 (doors 2 x 5 s, 3 floors x 2 s)
    riding = robot.snapshot()
    assert riding.phase is Phase.RIDING_LIFT and 0.0 < riding.level < 3.0
    assert riding.leg_eta_s is not None and riding.leg_eta_s > 0
    planner = robot.as_robot()
    assert planner.id == "R1" and planner.mode is RobotMode.BUSY and planner.capacity_units == 2
