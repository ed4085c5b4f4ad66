"""Conversions between the pure cores' types and hospital_ops_interfaces messages; names and QoS.

Plain functions (no node, no executor) so the node shells stay thin and the mapping is tested on
its own. Importing this module needs the generated interfaces (``make interfaces``) and rclpy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from action_msgs.msg import GoalStatus
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from hospital_ops_interfaces.action import ExecuteLeg
from hospital_ops_interfaces.msg import Alert as AlertMsg
from hospital_ops_interfaces.msg import CustodyEvent as CustodyEventMsg
from hospital_ops_interfaces.msg import DeliveryTask as DeliveryTaskMsg
from hospital_ops_interfaces.msg import DrawerState, LiftRequest, LiftState, RobotState, Stop
from hospital_ops_interfaces.srv import RequestLift
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from hospital_ops.domain import (
    CustodyEvent,
    CustodyKind,
    DeliveryTask,
    Handling,
    Priority,
    RobotMode,
    StopKind,
    TaskKind,
)
from robots.alerts import Alert, AlertCode, Severity
from robots.driver_core import (
    DrawerStatus,
    DrawerView,
    LegOutcome,
    LegProgress,
    LegResult,
    LegStop,
    Phase,
    RobotSnapshot,
)
from robots.lifts import LiftCall, LiftOp, LiftReply, LiftStatus, LiftView
from robots.scheduling import LegReport

# ---- names ---------------------------------------------------------------------------------

ROBOT_STATE_TOPIC = "/fleet/robot_state"
CUSTODY_TOPIC = "/fleet/custody_events"
ALERTS_TOPIC = "/fleet/alerts"
LIFT_REQUEST_SERVICE = "/lifts/request"
LIFT_SET_IN_SERVICE_SERVICE = "/lifts/set_in_service"
LIFT_STATE_TOPIC = "/lifts/state"

_BAD = re.compile(r"[^A-Za-z0-9_]")


def ros_name(robot_id: str) -> str:
    """A robot id as a ROS name token ('TUG-01' → 'TUG_01'; a leading digit gets 'r_')."""
    if not robot_id:
        raise ValueError("robot_id: must not be empty")
    token = _BAD.sub("_", robot_id)
    return f"r_{token}" if token[0].isdigit() else token


def execute_leg_action(robot_id: str) -> str:
    return f"/robots/{ros_name(robot_id)}/execute_leg"


def open_drawer_service(robot_id: str) -> str:
    return f"/robots/{ros_name(robot_id)}/open_drawer"


# ---- QoS -----------------------------------------------------------------------------------

#: Latest state per robot, delivered to late joiners at once.
STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
#: Custody events and alerts: never dropped, recent ones replayed to a (re)starting consumer,
#: which de-duplicates them.
EVENTS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=200,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
#: One message per lift per publication; deep enough to hold the latest of every campus lift.
LIFT_STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=64,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# ---- stops ---------------------------------------------------------------------------------


def leg_stops(msgs: Sequence[Stop]) -> list[LegStop]:
    """Goal stops as core stops; ValueError naming ``stops[i]`` and the field."""
    out = []
    for i, m in enumerate(msgs):
        try:
            kind = StopKind(m.kind)
        except ValueError:
            raise ValueError(f"stops[{i}].kind: must be pickup, dropoff or charge, got {m.kind!r}") from None
        try:
            out.append(LegStop(kind, m.location, m.task_id, m.pin_hash, frozenset(m.badges)))
        except ValueError as exc:
            raise ValueError(f"stops[{i}].{exc}") from None
    return out


def stop_msg(stop: LegStop, eta_s: int = 0, service_s: int = 0) -> Stop:
    return Stop(
        kind=stop.kind.value,
        location=stop.location,
        task_id=stop.task_id,
        eta_s=int(eta_s),
        service_s=int(service_s),
        pin_hash=stop.pin_hash,
        badges=sorted(stop.badges),
    )


# ---- robot state, events -------------------------------------------------------------------


def robot_state_msg(s: RobotSnapshot, stamp: Time) -> RobotState:
    return RobotState(
        robot_id=s.robot_id,
        building=s.building,
        floor=s.floor,
        location=s.location,
        position=Point(x=float(s.x), y=float(s.y), z=float(s.level)),
        battery_pct=float(s.battery_pct),
        mode=s.mode.value,
        phase=s.phase.value,
        drawers=[
            DrawerState(
                index=d.index,
                state=int(d.status),
                task_id=d.task_id,
                failed_attempts=d.failed_attempts,
                loaded=d.loaded,
            )
            for d in s.drawers
        ],
        current_task_id=s.current_task_id,
        current_leg_id=s.leg_id,
        leg_progress=float(s.leg_progress),
        leg_eta_s=-1 if s.leg_eta_s is None else int(s.leg_eta_s),
        speed_mps=float(s.speed_mps),
        odometer_m=float(s.odometer_m),
        at_s=float(s.at_s),
        stamp=stamp,
    )


def snapshot_from_msg(m: RobotState) -> RobotSnapshot:
    """A received RobotState as a core snapshot (for the fleet tracker); ValueError on bad enums."""
    return RobotSnapshot(
        robot_id=m.robot_id,
        building=m.building,
        floor=m.floor,
        level=float(m.position.z),
        location=m.location,
        x=float(m.position.x),
        y=float(m.position.y),
        battery_pct=float(m.battery_pct),
        mode=RobotMode(m.mode),
        phase=Phase(m.phase),
        drawers=tuple(
            DrawerView(d.index, DrawerStatus(d.state), d.task_id, d.failed_attempts, d.loaded) for d in m.drawers
        ),
        current_task_id=m.current_task_id,
        leg_id=m.current_leg_id,
        leg_progress=float(m.leg_progress),
        leg_eta_s=None if m.leg_eta_s < 0 else int(m.leg_eta_s),
        speed_mps=float(m.speed_mps),
        odometer_m=float(m.odometer_m),
        at_s=float(m.at_s),
    )


def custody_msg(ev: CustodyEvent, stamp: Time) -> CustodyEventMsg:
    return CustodyEventMsg(
        task_id=ev.task_id,
        robot_id=ev.robot_id,
        kind=ev.kind.value,
        location=ev.location,
        at_s=int(ev.at_s),
        method=ev.method,
        actor=ev.actor,
        drawer=int(ev.drawer),
        stamp=stamp,
    )


def custody_event(msg: CustodyEventMsg) -> CustodyEvent:
    """Back to the domain type (for the store bridge); ValueError on an unknown kind."""
    return CustodyEvent(
        task_id=msg.task_id,
        robot_id=msg.robot_id,
        kind=CustodyKind(msg.kind),
        location=msg.location,
        at_s=int(msg.at_s),
        method=msg.method,
        actor=msg.actor,
        drawer=int(msg.drawer),
    )


def alert_msg(a: Alert, stamp: Time) -> AlertMsg:
    return AlertMsg(
        severity=int(a.severity),
        code=a.code.value,
        robot_id=a.robot_id,
        task_id=a.task_id,
        location=a.location,
        message=a.message,
        at_s=int(a.at_s),
        stamp=stamp,
    )


# ---- action --------------------------------------------------------------------------------


def feedback_msg(p: LegProgress) -> ExecuteLeg.Feedback:
    return ExecuteLeg.Feedback(
        progress=float(p.progress),
        eta_s=int(p.eta_s),
        eta_at_s=int(p.eta_at_s),
        current_location=p.current_location,
        phase=p.phase.value,
        stop_index=int(p.stop_index),
        current_task_id=p.current_task_id,
        battery_pct=float(p.battery_pct),
    )


def result_msg(r: LegResult) -> ExecuteLeg.Result:
    return ExecuteLeg.Result(
        outcome=int(r.outcome),
        success=r.success,
        reason=r.reason,
        stops_done=int(r.stops_done),
        loaded_task_ids=list(r.loaded),
        delivered_task_ids=list(r.delivered),
        lifts_used=list(r.lifts_used),
        final_location=r.final_location,
        battery_pct=float(r.battery_pct),
    )


def failed_result(reason: str, location: str = "", battery_pct: float = 0.0) -> ExecuteLeg.Result:
    return ExecuteLeg.Result(
        outcome=ExecuteLeg.Result.OUTCOME_FAILED,
        success=False,
        reason=reason,
        final_location=location,
        battery_pct=float(battery_pct),
    )


# ---- lifts ---------------------------------------------------------------------------------

_OPS = {
    RequestLift.Request.OP_REQUEST: LiftOp.REQUEST,
    RequestLift.Request.OP_STATUS: LiftOp.STATUS,
    RequestLift.Request.OP_RELEASE: LiftOp.RELEASE,
    RequestLift.Request.OP_CANCEL: LiftOp.CANCEL,
}
_OP_CODES = {v: k for k, v in _OPS.items()}
_STATUSES = {
    RequestLift.Response.STATUS_QUEUED: LiftStatus.QUEUED,
    RequestLift.Response.STATUS_GRANTED: LiftStatus.GRANTED,
    RequestLift.Response.STATUS_RELEASED: LiftStatus.RELEASED,
    RequestLift.Response.STATUS_CANCELLED: LiftStatus.CANCELLED,
    RequestLift.Response.STATUS_OUT_OF_SERVICE: LiftStatus.OUT_OF_SERVICE,
    RequestLift.Response.STATUS_REFUSED: LiftStatus.REFUSED,
    RequestLift.Response.STATUS_UNKNOWN: LiftStatus.UNKNOWN,
}
_STATUS_CODES = {v: k for k, v in _STATUSES.items()}


def lift_request(call: LiftCall) -> RequestLift.Request:
    return RequestLift.Request(
        op=_OP_CODES[call.op],
        request=LiftRequest(
            request_id=call.request_id,
            robot_id=call.robot_id,
            lift_id=call.lift_id,
            building=call.building,
            from_floor=call.from_floor,
            to_floor=call.to_floor,
        ),
    )


def lift_call(req: RequestLift.Request) -> LiftCall | None:
    """None for an unknown op code."""
    op = _OPS.get(req.op)
    if op is None:
        return None
    r = req.request
    return LiftCall(op, r.request_id, r.robot_id, r.lift_id, r.building, r.from_floor, r.to_floor)


def fill_lift_response(reply: LiftReply, resp: RequestLift.Response) -> RequestLift.Response:
    # UNAVAILABLE is client-side only; the manager never answers it
    resp.status = _STATUS_CODES.get(reply.status, RequestLift.Response.STATUS_UNKNOWN)
    resp.request_id = reply.request_id
    resp.lift_id = reply.lift_id
    resp.rerouted_from = reply.rerouted_from
    resp.position = int(reply.position)
    resp.message = reply.message
    return resp


def lift_reply(resp: RequestLift.Response) -> LiftReply:
    return LiftReply(
        _STATUSES.get(resp.status, LiftStatus.UNKNOWN),
        resp.request_id,
        resp.lift_id,
        int(resp.position),
        resp.rerouted_from,
        resp.message,
    )


def lift_state_msgs(views: Iterable[LiftView], stamp: Time) -> list[LiftState]:
    return [
        LiftState(
            lift_id=v.lift_id,
            building=v.building,
            in_service=v.in_service,
            reason=v.reason,
            capacity=int(v.capacity),
            floors=list(v.floors),
            riders=list(v.riders),
            queue=list(v.queue),
            stamp=stamp,
        )
        for v in views
    ]


# ---- fleet services, tasks, leg results ------------------------------------------------------

SUBMIT_TASK_SERVICE = "/fleet/submit_task"
CANCEL_TASK_SERVICE = "/fleet/cancel_task"

#: Subscribers of /fleet/robot_state: every robot's transient-local sample must fit at once.
STATE_SUB_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=256,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


def task_from_msg(m: DeliveryTaskMsg) -> DeliveryTask:
    """A SubmitTask task as the domain type; ValueError naming the field."""
    try:
        priority = Priority(m.priority)
    except ValueError:
        raise ValueError(f"task.priority: must be stat, urgent or routine, got {m.priority!r}") from None
    try:
        kind = TaskKind(m.kind or "medication")
    except ValueError:
        raise ValueError(f"task.kind: must be medication, specimen or supply, got {m.kind!r}") from None
    try:
        handling = Handling(
            cold_chain=bool(m.cold_chain),
            controlled=bool(m.controlled),
            max_transit_s=int(m.max_transit_s) if m.max_transit_s > 0 else None,
        )
        return DeliveryTask(
            id=m.id,
            pickup=m.pickup,
            dropoff=m.dropoff,
            priority=priority,
            earliest_s=int(m.earliest_s),
            deadline_s=int(m.deadline_s),
            kind=kind,
            units=int(m.units) or 1,
            items=tuple(m.items),
            handling=handling,
            requester=m.requester,
            service_s=int(m.service_s) if m.service_s > 0 else 60,
        )
    except ValueError as exc:
        raise ValueError(f"task.{exc}") from None


def task_msg(t: DeliveryTask) -> DeliveryTaskMsg:
    return DeliveryTaskMsg(
        id=t.id,
        pickup=t.pickup,
        dropoff=t.dropoff,
        priority=t.priority.value,
        kind=t.kind.value,
        earliest_s=int(t.earliest_s),
        deadline_s=int(t.deadline_s),
        units=int(t.units),
        items=list(t.items),
        cold_chain=t.handling.cold_chain,
        controlled=t.handling.controlled,
        max_transit_s=int(t.handling.max_transit_s or 0),
        requester=t.requester,
        service_s=int(t.service_s),
    )


def leg_report(robot_id: str, leg_id: str, result: ExecuteLeg.Result, status: int | None = None) -> LegReport:
    """The scheduler's view of an ExecuteLeg result; ``status`` (the goal's final GoalStatus)
    overrides an outcome that contradicts it: a cancelled goal is CANCELLED, an aborted one that
    claims DONE is FAILED."""
    try:
        outcome = LegOutcome(result.outcome)
    except ValueError:
        outcome = LegOutcome.FAILED
    reason = result.reason
    # the driver's own result can be empty when a goal ends by cancel or abort (it reads as DONE)
    if status == GoalStatus.STATUS_CANCELED:
        outcome = LegOutcome.CANCELLED
    elif status == GoalStatus.STATUS_ABORTED and outcome is LegOutcome.DONE:
        outcome, reason = LegOutcome.FAILED, reason or "aborted by the robot"
    return LegReport(
        robot_id=robot_id,
        leg_id=leg_id,
        outcome=outcome,
        reason=reason,
        loaded=tuple(result.loaded_task_ids),
        delivered=tuple(result.delivered_task_ids),
    )


def alert_from_msg(m: AlertMsg) -> Alert:
    """Back to the core type; ValueError on an unknown code or severity."""
    return Alert(
        code=AlertCode(m.code),
        severity=Severity(m.severity),
        message=m.message,
        at_s=int(m.at_s),
        robot_id=m.robot_id,
        task_id=m.task_id,
        location=m.location,
    )
