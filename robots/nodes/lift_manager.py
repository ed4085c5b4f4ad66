"""ROS 2 node of the lift manager: a thin shell over robots.lifts.LiftManager.

::

    python -m robots.nodes.lift_manager [--campus FILE] [--out-of-service T1-L2 ...]

Serves RequestLift on ``/lifts/request`` and SetLiftInService on ``/lifts/set_in_service``;
publishes one LiftState per lift on ``/lifts/state`` whenever something changed (and every
``1/--state-hz`` seconds anyway), and alerts on ``/fleet/alerts``. All callbacks share the node's
default mutually exclusive group, so the manager core is never entered concurrently.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import rclpy
from hospital_ops_interfaces.msg import Alert as AlertMsg
from hospital_ops_interfaces.msg import LiftState
from hospital_ops_interfaces.srv import RequestLift, SetLiftInService
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from hospital_ops.campus import CampusError, default_campus, load_campus
from robots.lifts import LiftManager
from robots.nodes import convert
from robots.nodes.spin import spin_node


class LiftManagerNode(Node):
    def __init__(self, manager: LiftManager, *, state_hz: float = 1.0, tick_hz: float = 1.0) -> None:
        super().__init__("lift_manager")
        self._manager = manager
        self._published_version = -1
        self._state_pub = self.create_publisher(LiftState, convert.LIFT_STATE_TOPIC, convert.LIFT_STATE_QOS)
        self._alert_pub = self.create_publisher(AlertMsg, convert.ALERTS_TOPIC, convert.EVENTS_QOS)
        self.create_service(RequestLift, convert.LIFT_REQUEST_SERVICE, self._on_request)
        self.create_service(SetLiftInService, convert.LIFT_SET_IN_SERVICE_SERVICE, self._on_set_in_service)
        self.create_timer(1.0 / state_hz, self._publish_all)
        self.create_timer(1.0 / tick_hz, self._tick)
        self.create_timer(0.1, self._publish_if_changed)
        self._publish_all()
        self.get_logger().info(f"managing {len(manager.lift_ids)} lifts")

    def _now_s(self) -> int:
        return int(time.time())

    def _on_request(self, req: RequestLift.Request, resp: RequestLift.Response) -> RequestLift.Response:
        call = convert.lift_call(req)
        if call is None:
            resp.status = RequestLift.Response.STATUS_REFUSED
            resp.request_id = req.request.request_id
            resp.message = f"op: unknown operation code {req.op}"
            return resp
        reply = self._manager.handle(call)
        self._publish_if_changed()
        return convert.fill_lift_response(reply, resp)

    def _on_set_in_service(
        self, req: SetLiftInService.Request, resp: SetLiftInService.Response
    ) -> SetLiftInService.Response:
        try:
            change = self._manager.set_in_service(req.lift_id, req.in_service, req.reason, at_s=self._now_s())
        except ValueError as exc:
            resp.ok, resp.message = False, str(exc)
            return resp
        resp.ok = True
        resp.message = f"lift {req.lift_id} {'in' if req.in_service else 'out of'} service"
        resp.rerouted_robots = [robot for robot, _ in change.rerouted]
        resp.stranded_robots = list(change.stranded)
        self.get_logger().info(resp.message)
        self._publish_if_changed()
        return resp

    def _tick(self) -> None:
        self._manager.tick(at_s=self._now_s())
        self._publish_if_changed()

    def _publish_if_changed(self) -> None:
        alerts = self._manager.drain_alerts()
        stamp = self.get_clock().now().to_msg()
        for a in alerts:
            self.get_logger().warning(f"alert {a.code.value}: {a.message}")
            self._alert_pub.publish(convert.alert_msg(a, stamp))
        if self._manager.version != self._published_version:
            self._publish_all()

    def _publish_all(self) -> None:
        self._published_version = self._manager.version
        for msg in convert.lift_state_msgs(self._manager.views(), self.get_clock().now().to_msg()):
            self._state_pub.publish(msg)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m robots.nodes.lift_manager", description=__doc__.split("\n\n")[0])
    p.add_argument("--campus", help="campus YAML (default: the shipped campus)")
    p.add_argument("--hold-timeout-s", type=float, default=600.0, help="force-release a lift held this long, s")
    p.add_argument("--state-hz", type=float, default=1.0, help="LiftState refresh rate, Hz")
    p.add_argument("--out-of-service", nargs="*", default=[], metavar="LIFT", help="lifts out of service at start")
    args = p.parse_args(list(argv))
    if args.state_hz <= 0:
        p.error("--state-hz: must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    try:
        campus = load_campus(args.campus) if args.campus else default_campus()
        manager = LiftManager.from_campus(campus, hold_timeout_s=args.hold_timeout_s)
        for lift_id in args.out_of_service:
            manager.set_in_service(lift_id, False, "out of service at start-up", at_s=int(time.time()))
    except (ValueError, CampusError) as exc:
        print(f"lift_manager: error: {exc}", file=sys.stderr)
        return 2
    return spin_node(
        argv,
        lambda: LiftManagerNode(manager, state_hz=args.state_hz),
        lambda: SingleThreadedExecutor(),
    )


if __name__ == "__main__":
    sys.exit(main())
