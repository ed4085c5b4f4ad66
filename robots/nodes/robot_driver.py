"""ROS 2 node for one simulated delivery robot: a thin shell over robots.driver_core.

One process per robot::

    python -m robots.nodes.robot_driver --robot-id R1 --start T1-B1-DOCK1 --time-scale 20

Publishes RobotState on ``/fleet/robot_state`` (reliable, transient-local) at ``--state-hz``,
custody events on ``/fleet/custody_events`` and alerts on ``/fleet/alerts``; serves the
ExecuteLeg action on ``/robots/<id>/execute_leg`` (feedback, cancel) and OpenDrawer on
``/robots/<id>/open_drawer``; calls the lift manager on ``/lifts/request`` (or grants every lift
itself with ``--no-lift-manager``). The core is advanced by a timer at ``--tick-hz``; every
callback takes the core's lock, so the multi-threaded executor never runs two core calls at once.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence

import rclpy
from hospital_ops_interfaces.action import ExecuteLeg
from hospital_ops_interfaces.msg import Alert as AlertMsg
from hospital_ops_interfaces.msg import CustodyEvent as CustodyEventMsg
from hospital_ops_interfaces.msg import RobotState
from hospital_ops_interfaces.srv import OpenDrawer, RequestLift
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.client import Client
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from hospital_ops.campus import Campus, CampusError, default_campus, load_campus
from hospital_ops.clock import CampusClock
from robots.driver_core import DriverConfig, LegOutcome, LegRejected, RobotDriverCore
from robots.lifts import LiftCall, LiftClient, LiftReply, LiftStatus, always_grant
from robots.nodes import convert
from robots.nodes.spin import spin_node


class RosLiftClient:
    """A :data:`LiftClient` over the /lifts/request service; never blocks longer than ``timeout_s``.

    Called from the tick timer while it holds the core lock; the reply is handled by another
    executor thread (the client has its own callback group), so this only waits on an event.
    """

    def __init__(self, node: Node, timeout_s: float = 2.0) -> None:
        self._client: Client[RequestLift.Request, RequestLift.Response] = node.create_client(
            RequestLift, convert.LIFT_REQUEST_SERVICE, callback_group=ReentrantCallbackGroup()
        )
        self._timeout_s = timeout_s

    def __call__(self, call: LiftCall) -> LiftReply:
        if not self._client.service_is_ready():
            return LiftReply(LiftStatus.UNAVAILABLE, call.request_id, message="lift manager not available")
        done = threading.Event()
        future = self._client.call_async(convert.lift_request(call))
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(self._timeout_s):
            self._client.remove_pending_request(future)
            return LiftReply(LiftStatus.UNAVAILABLE, call.request_id, message="lift manager did not answer in time")
        response = future.result()
        if response is None:
            return LiftReply(LiftStatus.UNAVAILABLE, call.request_id, message="lift call failed")
        return convert.lift_reply(response)


class RobotDriverNode(Node):
    def __init__(
        self,
        core: RobotDriverCore,
        *,
        state_hz: float = 2.0,
        tick_hz: float = 20.0,
        feedback_hz: float = 5.0,
        use_lift_manager: bool = True,
        lift_call_timeout_s: float = 2.0,
    ) -> None:
        robot_id = core.config.robot_id
        super().__init__(f"robot_driver_{convert.ros_name(robot_id)}")
        self._core = core
        self._lock = threading.Lock()
        self._feedback_period = 1.0 / feedback_hz
        self._robot_id = robot_id
        lift: LiftClient = RosLiftClient(self, lift_call_timeout_s) if use_lift_manager else always_grant
        core.set_lift_client(lift)

        self._state_pub = self.create_publisher(RobotState, convert.ROBOT_STATE_TOPIC, convert.STATE_QOS)
        self._custody_pub = self.create_publisher(CustodyEventMsg, convert.CUSTODY_TOPIC, convert.EVENTS_QOS)
        self._alert_pub = self.create_publisher(AlertMsg, convert.ALERTS_TOPIC, convert.EVENTS_QOS)
        self._action = ActionServer(
            self,
            ExecuteLeg,
            convert.execute_leg_action(robot_id),
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda _req: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )
        self.create_service(
            OpenDrawer,
            convert.open_drawer_service(robot_id),
            self._open_drawer,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        timers = MutuallyExclusiveCallbackGroup()
        self.create_timer(1.0 / tick_hz, self._tick, callback_group=timers)
        self.create_timer(1.0 / state_hz, self._publish_state, callback_group=timers)
        self._publish_state()
        self.get_logger().info(
            f"robot {robot_id} at {core.location}, time scale {core.config.time_scale:g}, "
            f"lifts {'via ' + convert.LIFT_REQUEST_SERVICE if use_lift_manager else 'always granted'}"
        )

    # ---- timers -----------------------------------------------------------------------------
    def _tick(self) -> None:
        with self._lock:
            self._core.step()
        self._flush()

    def _publish_state(self) -> None:
        with self._lock:
            snap = self._core.snapshot()
        self._state_pub.publish(convert.robot_state_msg(snap, self.get_clock().now().to_msg()))

    def _flush(self) -> None:
        with self._lock:
            custody, alerts = self._core.drain_custody(), self._core.drain_alerts()
        stamp = self.get_clock().now().to_msg()
        for ev in custody:
            self._custody_pub.publish(convert.custody_msg(ev, stamp))
        for a in alerts:
            self.get_logger().warning(f"alert {a.code.value}: {a.message}")
            self._alert_pub.publish(convert.alert_msg(a, stamp))

    # ---- drawers ----------------------------------------------------------------------------
    def _open_drawer(self, req: OpenDrawer.Request, resp: OpenDrawer.Response) -> OpenDrawer.Response:
        if req.robot_id and req.robot_id != self._robot_id:
            resp.result = OpenDrawer.Response.RESULT_INVALID
            resp.message = f"robot_id: this is robot {self._robot_id}, not {req.robot_id}"
            return resp
        with self._lock:
            res = self._core.open_drawer(
                req.method,
                task_id=req.task_id,
                drawer=None if req.drawer < 0 else int(req.drawer),
                pin=req.pin,
                badge=req.badge_id,
                actor=req.actor,
            )
        self._flush()
        resp.result = int(res.outcome)
        resp.custody_kind = res.custody.kind.value if res.custody is not None else ""
        resp.drawer = int(res.drawer)
        resp.attempts_left = max(0, int(res.attempts_left))
        resp.message = res.message
        return resp

    # ---- ExecuteLeg -------------------------------------------------------------------------
    def _on_goal(self, goal: ExecuteLeg.Goal) -> GoalResponse:
        # wrong robot: reject; anything else is accepted and, if impossible, aborted with a reason
        if goal.robot_id and goal.robot_id != self._robot_id:
            self.get_logger().warning(f"rejected leg {goal.leg_id}: addressed to {goal.robot_id}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle: ServerGoalHandle) -> ExecuteLeg.Result:
        goal: ExecuteLeg.Goal = goal_handle.request
        leg_id = goal.leg_id
        try:
            stops = convert.leg_stops(goal.stops)
            with self._lock:
                self._core.start_leg(leg_id, stops)
        except (ValueError, LegRejected) as exc:
            self.get_logger().warning(f"leg {leg_id} refused: {exc}")
            goal_handle.abort()
            with self._lock:
                return convert.failed_result(str(exc), self._core.location, self._core.battery_pct)
        self.get_logger().info(f"leg {leg_id}: {len(stops)} stop(s)")
        cancel_sent = False
        while True:
            if goal_handle.is_cancel_requested and not cancel_sent:
                with self._lock:
                    self._core.cancel_leg("cancelled by the fleet manager")
                cancel_sent = True
            with self._lock:
                result = self._core.result_of(leg_id)
                progress = self._core.progress() if result is None else None
            if result is not None:
                break
            if not self.context.ok():
                goal_handle.abort()
                return convert.failed_result("robot driver shutting down")
            if progress is not None and progress.leg_id == leg_id:
                goal_handle.publish_feedback(convert.feedback_msg(progress))
            time.sleep(self._feedback_period)
        self._flush()
        match result.outcome:
            case LegOutcome.DONE:
                goal_handle.succeed()
            case LegOutcome.CANCELLED if goal_handle.is_cancel_requested:
                goal_handle.canceled()
            case _:
                goal_handle.abort()
        self.get_logger().info(f"leg {leg_id}: {result.outcome.name.lower()} {result.reason}".rstrip())
        return convert.result_msg(result)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m robots.nodes.robot_driver", description=__doc__.split("\n\n")[0])
    p.add_argument("--robot-id", required=True, help="robot id, e.g. R1 or TUG-01")
    p.add_argument("--start", required=True, help="campus location id where the robot starts")
    p.add_argument("--campus", help="campus YAML (default: the shipped campus)")
    p.add_argument("--speed", type=float, default=1.0, help="driving speed, m/s (default 1.0)")
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument(
        "--clock-origin", type=float, default=None, help="epoch s where campus and wall time agree (shared clock)"
    )
    p.add_argument("--drawers", type=int, default=4, help="lockable drawers (default 4)")
    p.add_argument("--battery", type=float, default=100.0, help="battery at start, %% (default 100)")
    p.add_argument("--consumption-pct-per-km", type=float, default=4.0, help="battery used per km, %% points")
    p.add_argument("--charge-pct-per-h", type=float, default=50.0, help="charging rate at a dock, %% points/h")
    p.add_argument("--low-battery-pct", type=float, default=20.0, help="battery_low alert below this, %%")
    p.add_argument("--handover-timeout-s", type=float, default=900.0, help="simulated s to wait at a stop")
    p.add_argument("--lift-timeout-s", type=float, default=900.0, help="simulated s to wait for a lift")
    p.add_argument("--dwell-s", type=float, default=10.0, help="simulated s after a hand-over before leaving")
    p.add_argument("--state-hz", type=float, default=2.0, help="RobotState rate, Hz (real time)")
    p.add_argument("--tick-hz", type=float, default=20.0, help="simulation steps per real second")
    p.add_argument("--feedback-hz", type=float, default=5.0, help="ExecuteLeg feedback rate, Hz")
    p.add_argument("--lift-call-timeout-s", type=float, default=2.0, help="real s to wait for the lift manager")
    p.add_argument("--no-lift-manager", action="store_true", help="run alone: every lift is granted at once")
    args = p.parse_args(list(argv))
    for name in ("state_hz", "tick_hz", "feedback_hz", "lift_call_timeout_s"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')}: must be positive")
    return args


def build_core(args: argparse.Namespace, campus: Campus | None = None) -> RobotDriverCore:
    config = DriverConfig(
        robot_id=args.robot_id,
        start=args.start,
        speed_mps=args.speed,
        time_scale=args.time_scale,
        drawers=args.drawers,
        battery_pct=args.battery,
        consumption_pct_per_km=args.consumption_pct_per_km,
        charge_pct_per_h=args.charge_pct_per_h,
        low_battery_pct=args.low_battery_pct,
        handover_timeout_s=args.handover_timeout_s,
        lift_timeout_s=args.lift_timeout_s,
        dwell_s=args.dwell_s,
    )
    if campus is None:
        campus = load_campus(args.campus) if args.campus else default_campus()
    origin = getattr(args, "clock_origin", None)
    start_at_s = None if origin is None else CampusClock(args.time_scale, origin).now()
    return RobotDriverCore(config, campus, start_at_s=start_at_s)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    try:
        core = build_core(args)
    except (ValueError, CampusError) as exc:  # CampusError is a ValueError; named for the reader
        print(f"robot_driver: error: {exc}", file=sys.stderr)
        return 2
    return spin_node(
        argv,
        lambda: RobotDriverNode(
            core,
            state_hz=args.state_hz,
            tick_hz=args.tick_hz,
            feedback_hz=args.feedback_hz,
            use_lift_manager=not args.no_lift_manager,
            lift_call_timeout_s=args.lift_call_timeout_s,
        ),
        lambda: MultiThreadedExecutor(num_threads=6),
    )


if __name__ == "__main__":
    sys.exit(main())
