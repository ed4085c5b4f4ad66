"""Message conversions between the cores and hospital_ops_interfaces (no processes, no DDS)."""

from __future__ import annotations

import pytest

pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")

from builtin_interfaces.msg import Time
from hospital_ops_interfaces.msg import Stop
from hospital_ops_interfaces.srv import RequestLift
from robots_testkit import FakeClock

from hospital_ops.campus import Campus
from hospital_ops.domain import CustodyEvent, CustodyKind, StopKind
from robots.alerts import Alert, AlertCode, Severity
from robots.driver_core import DriverConfig, LegStop, RobotDriverCore
from robots.lifts import LiftCall, LiftOp, LiftReply, LiftStatus, LiftView
from robots.nodes import convert

STAMP = Time(sec=1, nanosec=2)


@pytest.mark.parametrize(("robot_id", "token"), [("R1", "R1"), ("TUG-01", "TUG_01"), ("7th.floor", "r_7th_floor")])
def test_robot_ids_become_valid_ros_names(robot_id: str, token: str) -> None:
    """Robot ids map to valid name tokens for the per-robot action and service."""
    assert convert.ros_name(robot_id) == token
    assert convert.execute_leg_action(robot_id) == f"/robots/{token}/execute_leg"
    assert convert.open_drawer_service(robot_id) == f"/robots/{token}/open_drawer"


def test_stops_round_trip(pin_hash: str) -> None:
    """A core stop survives the trip through the Stop message, badges and hash included."""
    stop = LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash, frozenset({"B2", "B1"}))
    msg = convert.stop_msg(stop, eta_s=100, service_s=60)
    assert list(msg.badges) == ["B1", "B2"] and msg.eta_s == 100
    assert convert.leg_stops([msg]) == [stop]


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        (Stop(kind="teleport", location="X"), r"stops\[0\]\.kind: must be pickup, dropoff or charge"),
        (Stop(kind="pickup", location="X"), r"stops\[0\]\.task_id: a pickup stop at X needs its task"),
        (Stop(kind="pickup", location="X", task_id="T", pin_hash="1234"), r"stops\[0\]\.pin_hash: task T"),
    ],
)
def test_bad_goal_stops_name_index_and_field(msg: Stop, match: str) -> None:
    """A malformed goal stop is refused naming stops[i] and the field."""
    with pytest.raises(ValueError, match=match):
        convert.leg_stops([msg])


def test_robot_state_message_from_snapshot(tiny_campus: Campus, pin_hash: str) -> None:
    """RobotState carries the snapshot: position with the floor level as z, drawers, leg ETA."""
    core = RobotDriverCore(DriverConfig("R1", "DOCK", drawers=2), tiny_campus, clock=FakeClock())
    msg = convert.robot_state_msg(core.snapshot(), STAMP)
    assert (msg.robot_id, msg.building, msg.floor, msg.location) == ("R1", "A", "B1", "DOCK")
    assert (msg.position.x, msg.position.y, msg.position.z) == (10.0, 0.0, 0.0)
    assert msg.leg_eta_s == -1 and msg.mode == "idle" and len(msg.drawers) == 2 and msg.stamp == STAMP
    core.start_leg("L1", [LegStop(StopKind.PICKUP, "W1", "T1", pin_hash=pin_hash)])
    busy = convert.robot_state_msg(core.snapshot(), STAMP)
    assert busy.mode == "busy" and busy.current_leg_id == "L1" and busy.leg_eta_s > 0
    assert busy.drawers[0].state == busy.drawers[0].STATE_RESERVED and busy.drawers[0].task_id == "T1"


def test_custody_event_round_trip() -> None:
    """A custody event comes back from its message unchanged (the store bridge relies on it)."""
    ev = CustodyEvent("T1", "R1", CustodyKind.DELIVERED, "W3", 1_700_000_000, "badge", "B-7", 2)
    assert convert.custody_event(convert.custody_msg(ev, STAMP)) == ev


def test_alert_message() -> None:
    """Alerts keep code, severity number and text."""
    a = Alert(AlertCode.DRAWER_LOCKED_OUT, Severity.CRITICAL, "locked", 5, "R1", "T1", "W3")
    msg = convert.alert_msg(a, STAMP)
    assert (msg.code, msg.severity, msg.task_id) == ("drawer_locked_out", msg.SEVERITY_CRITICAL, "T1")


def test_lift_calls_and_replies_round_trip() -> None:
    """Lift calls and replies cross the RequestLift service unchanged; UNAVAILABLE never goes on the wire."""
    call = LiftCall(LiftOp.STATUS, "R1:L1:1", "R1", "A-L1", "A", "1", "3")
    assert convert.lift_call(convert.lift_request(call)) == call
    reply = LiftReply(LiftStatus.QUEUED, "R1:L1:1", "A-L2", 2, "A-L1", "moved")
    resp = convert.fill_lift_response(reply, RequestLift.Response())
    assert convert.lift_reply(resp) == reply
    odd = convert.fill_lift_response(LiftReply(LiftStatus.UNAVAILABLE, "x"), RequestLift.Response())
    assert odd.status == RequestLift.Response.STATUS_UNKNOWN
    assert convert.lift_call(RequestLift.Request(op=99)) is None


def test_lift_state_messages() -> None:
    """One LiftState per lift view with riders and queue in order."""
    view = LiftView("A-L1", "A", False, "maintenance", 2, ("1", "2"), ("R1",), ("R2", "R3"))
    (msg,) = convert.lift_state_msgs([view], STAMP)
    assert (msg.lift_id, msg.in_service, msg.reason, msg.capacity) == ("A-L1", False, "maintenance", 2)
    assert list(msg.queue) == ["R2", "R3"] and list(msg.riders) == ["R1"]


def test_robot_state_round_trip_for_the_fleet_tracker(tiny_campus: Campus, pin_hash: str) -> None:
    """A published RobotState turns back into the same snapshot (on-board items included)."""
    core = RobotDriverCore(DriverConfig("R1", "PHARM", drawers=2), tiny_campus, clock=FakeClock(), start_at_s=1.7e9)
    core.start_leg("L1", [LegStop(StopKind.PICKUP, "PHARM", "T1", pin_hash=pin_hash)])
    core.open_drawer("pin", task_id="T1", pin="4321")
    snap = core.snapshot()
    back = convert.snapshot_from_msg(convert.robot_state_msg(snap, STAMP))
    assert back == snap and back.on_board == ("T1",) and back.at_s == 1.7e9


@pytest.mark.parametrize(
    ("outcome", "status", "expected"),
    [
        (0, 4, "DONE"),  # succeeded
        (1, 6, "FAILED"),  # aborted with the driver's reason
        (0, 6, "FAILED"),  # aborted with an empty result: not done
        (0, 5, "CANCELLED"),  # canceled with an empty result: a cancel, not a failure nor done
        (1, 5, "CANCELLED"),
        (2, None, "CANCELLED"),
        (9, None, "FAILED"),  # an outcome this scheduler does not know
    ],
)
def test_a_leg_result_is_read_with_its_goal_status(outcome: int, status: int | None, expected: str) -> None:
    """The goal's final status settles what the result alone cannot: an empty result of a
    cancelled goal is a cancel, of an aborted goal a failure."""
    from hospital_ops_interfaces.action import ExecuteLeg

    report = convert.leg_report("R1", "L1", ExecuteLeg.Result(outcome=outcome), status)
    assert report.outcome.name == expected
    if (outcome, status) == (0, 6):
        assert report.reason == "aborted by the robot"
