"""ROS 2 node of the fleet manager: a thin shell over robots.fleet.FleetTracker and the store.

::

    python -m robots.nodes.fleet_manager [--database-url URL] [--lost-after-s 4.5] [--check-hz 10]

Tracks every robot by its RobotState heartbeat on ``/fleet/robot_state``. A robot silent for
``--lost-after-s`` (4.5 s, checked 10 times a second: a dead robot is LOST within 5 s) is LOST:
a critical ``robot_lost`` Alert on ``/fleet/alerts`` (the
scheduler node re-plans its not-yet-picked tasks on it), one more per item on board (task id set:
someone must fetch it), each also raised in the store; the robot is upserted LOST. A heartbeat
after that brings it back (INFO alert). Every alert on ``/fleet/alerts`` (drawer lock-outs,
batteries, lifts...) is persisted once in the store (``store.raise_alert``, kind
``robot.<code>``), and each robot's state is upserted at ``--store-hz``.

Start-up after a crash: robots known to the store are tracked from now, so one that died while
the manager was down is declared LOST 4.5 s later (its transient-local state died with it).
The logic is robots.fleet_service.FleetService (plain, unit-tested); this node only does ROS.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import rclpy
from hospital_ops_interfaces.msg import Alert as AlertMsg
from hospital_ops_interfaces.msg import RobotState
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from hospital_ops.clock import CampusClock
from hospital_ops.store import Store
from hospital_ops.store.errors import StoreError
from robots.alerts import Alert
from robots.fleet_service import FleetService
from robots.nodes import convert
from robots.nodes.spin import spin_node


class FleetManagerNode(Node):
    def __init__(
        self,
        store: Store,
        clock: CampusClock,
        *,
        lost_after_s: float = 4.5,
        check_hz: float = 10.0,
        store_hz: float = 0.5,
    ) -> None:
        super().__init__("fleet_manager")
        log = self.get_logger()
        self.service = FleetService(
            store, campus_now=clock.now, lost_after_s=lost_after_s, store_period_s=1.0 / store_hz, log=log.info
        )
        self._alert_pub = self.create_publisher(AlertMsg, convert.ALERTS_TOPIC, convert.EVENTS_QOS)
        self.create_subscription(RobotState, convert.ROBOT_STATE_TOPIC, self._on_state, convert.STATE_SUB_QOS)
        self.create_subscription(AlertMsg, convert.ALERTS_TOPIC, self._on_alert, convert.EVENTS_QOS)
        self.create_timer(1.0 / check_hz, self._check)
        log.info(
            f"fleet manager: {len(self.service.tracker.alive())} robot(s) known from the store, "
            f"lost after {lost_after_s:g} s"
        )

    def _on_state(self, msg: RobotState) -> None:
        try:
            snap = convert.snapshot_from_msg(msg)
        except ValueError as exc:
            self.get_logger().warning(f"bad RobotState from {msg.robot_id!r}: {exc}")
            return
        self._publish(self.service.on_state(snap))

    def _on_alert(self, msg: AlertMsg) -> None:
        try:
            alert = convert.alert_from_msg(msg)
        except ValueError as exc:
            self.get_logger().warning(f"alert with an unknown code or severity ignored: {exc}")
            return
        self.service.on_alert(alert)

    def _check(self) -> None:
        self._publish(self.service.check())

    def _publish(self, alerts: list[Alert]) -> None:
        stamp = self.get_clock().now().to_msg()
        for a in alerts:
            self.get_logger().warning(f"alert {a.code.value}: {a.message}")
            self._alert_pub.publish(convert.alert_msg(a, stamp))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m robots.nodes.fleet_manager", description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", help="store URL (default: HOSPITAL_OPS_DATABASE_URL or the data dir's SQLite)")
    p.add_argument(
        "--lost-after-s", type=float, default=4.5, help="silence before a robot is LOST, real s (detected within 5 s)"
    )
    p.add_argument("--check-hz", type=float, default=10.0, help="liveness checks per second")
    p.add_argument("--store-hz", type=float, default=0.5, help="robot state upserts per robot per second")
    p.add_argument("--time-scale", type=float, default=None, help="campus seconds per real second")
    p.add_argument("--clock-origin", type=float, default=None, help="epoch s where campus and wall time agree")
    args = p.parse_args(list(argv))
    for name in ("lost_after_s", "check_hz", "store_hz"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')}: must be positive")
    return args


def clock_from_args(args: argparse.Namespace) -> CampusClock:
    """--time-scale / --clock-origin over the environment (HOSPITAL_OPS_TIME_SCALE / _CLOCK_ORIGIN)."""
    base = CampusClock.from_env()
    scale = base.scale if args.time_scale is None else args.time_scale
    origin = base.origin_s if args.clock_origin is None else args.clock_origin
    return CampusClock(scale, origin)


def open_store(url: str | None) -> Store:
    return Store.open(url)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    try:
        clock = clock_from_args(args)
        store = open_store(args.database_url)
    except (ValueError, StoreError) as exc:
        print(f"fleet_manager: error: {exc}", file=sys.stderr)
        return 2
    return spin_node(
        argv,
        lambda: FleetManagerNode(
            store, clock, lost_after_s=args.lost_after_s, check_hz=args.check_hz, store_hz=args.store_hz
        ),
        lambda: SingleThreadedExecutor(),
        finally_=store.close,
    )


if __name__ == "__main__":
    sys.exit(main())
