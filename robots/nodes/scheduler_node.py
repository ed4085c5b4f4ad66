"""ROS 2 node of the scheduler: a thin shell over robots.scheduling.SchedulerCore.

::

    python -m robots.nodes.scheduler_node [--database-url URL] [--campus FILE] [--policy ortools|greedy]
        [--time-limit-s 0.5] [--time-scale K --clock-origin T0] [--warmup-s 2] [--poll-s 0.5] [--tick-s 1]

Takes new and cancelled tasks from the store (polled; the REST API only writes the store) and from
the SubmitTask / CancelTask services on ``/fleet/submit_task`` / ``/fleet/cancel_task`` (written to
the store first, then acknowledged; planned right after), runs the rolling dispatcher, records
the plan in the store and sends each idle robot its next leg as an ExecuteLeg goal on
``/robots/<id>/execute_leg`` with the drawer credentials. Custody events (``/fleet/custody_events``)
and leg results move the tasks picked_up / delivered / failed in the store. ``robot_lost`` alerts
of the fleet manager (``/fleet/alerts``) hand a lost robot's unpicked tasks back for re-planning.

Restart: after ``--warmup-s`` of listening (robot states and custody events are transient-local)
the core is built from the store, adopting the legs the robots are driving (see
robots.scheduling). Core calls run in one mutually exclusive callback group; the two services run
in their own group and touch only the store, so an acknowledgement never waits for a re-plan.
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Sequence
from typing import Any

import rclpy
from hospital_ops_interfaces.action import ExecuteLeg
from hospital_ops_interfaces.msg import Alert as AlertMsg
from hospital_ops_interfaces.msg import CustodyEvent as CustodyEventMsg
from hospital_ops_interfaces.msg import RobotState
from hospital_ops_interfaces.srv import CancelTask, SubmitTask
from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future
from unique_identifier_msgs.msg import UUID

from hospital_ops.campus import Campus, CampusError, default_campus, load_campus
from hospital_ops.clock import CampusClock
from hospital_ops.domain import DeliveryTask, RobotMode, TaskStatus
from hospital_ops.store import Store
from hospital_ops.store.errors import DuplicateError, IllegalTransitionError, NotFoundError, StoreError
from robots.alerts import AlertCode, Severity
from robots.driver_core import LegOutcome
from robots.nodes import convert
from robots.nodes.fleet_manager import clock_from_args
from robots.nodes.spin import spin_node
from robots.scheduling import (
    LegOrder,
    LegReport,
    Outcome,
    SchedulerConfig,
    SchedulerCore,
    persist_submission,
)
from scheduler import DispatchPolicy, GreedyPolicy, OrToolsPolicy, PlannerParams


class SchedulerNode(Node):
    def __init__(
        self,
        store: Store,
        campus: Campus,
        clock: CampusClock,
        policy: DispatchPolicy,
        *,
        config: SchedulerConfig | None = None,
        warmup_s: float = 2.0,
        poll_s: float = 0.5,
        tick_s: float = 1.0,
    ) -> None:
        super().__init__("scheduler")
        self._store = store
        # drawer credentials (PIN hash, badge hashes) are read from the store for each leg, so a
        # restarted node hands the robots the same ones
        self.core = SchedulerCore(store, campus, policy=policy, clock=clock.now, config=config)
        self._core_group = MutuallyExclusiveCallbackGroup()
        self._service_group = ReentrantCallbackGroup()
        self._intake: collections.deque[DeliveryTask] = collections.deque()
        self._cancelled: collections.deque[str] = collections.deque()
        self._leg_clients: dict[str, ActionClient] = {}
        self._leg_goals: dict[tuple[str, str], Any] = {}
        self._unsent: list[LegOrder] = []
        #: robot id -> latest robot_lost alert was CRITICAL (lost) rather than INFO (back); before start
        self._early_lost: dict[str, bool] = {}
        self._heard: set[str] = set()
        g = self._core_group
        self.create_subscription(
            RobotState, convert.ROBOT_STATE_TOPIC, self._on_state, convert.STATE_SUB_QOS, callback_group=g
        )
        self.create_subscription(
            CustodyEventMsg, convert.CUSTODY_TOPIC, self._on_custody, convert.EVENTS_QOS, callback_group=g
        )
        self.create_subscription(AlertMsg, convert.ALERTS_TOPIC, self._on_alert, convert.EVENTS_QOS, callback_group=g)
        self.create_service(
            SubmitTask, convert.SUBMIT_TASK_SERVICE, self._on_submit, callback_group=self._service_group
        )
        self.create_service(
            CancelTask, convert.CANCEL_TASK_SERVICE, self._on_cancel, callback_group=self._service_group
        )
        self._warmup = self.create_timer(warmup_s, self._start, callback_group=g)
        self._warmup_rounds = 0
        self._max_warmup_rounds = max(1, int(10.0 / warmup_s))
        self.create_timer(poll_s, self._poll, callback_group=g)
        self.create_timer(tick_s, self._tick, callback_group=g)
        self.get_logger().info(
            f"scheduler: policy {policy.name}, time scale {clock.scale:g}, starting in {warmup_s:g} s"
        )

    # ---- start / timers ---------------------------------------------------------------------------
    def _start(self) -> None:
        # wait (a little longer) for the robots the store knows to be heard: their transient-local
        # states tell which legs they are driving, so the start can adopt them
        expected = {r.id for r in self._store.list_robots() if r.robot.mode is not RobotMode.LOST}
        self._warmup_rounds += 1
        if not expected <= self._heard and self._warmup_rounds < self._max_warmup_rounds:
            return
        self._warmup.cancel()
        for rid, lost in self._early_lost.items():
            if lost and rid not in self._heard:
                self._run(self.core.on_robot_lost(rid))
        self._run(self.core.start())
        self.get_logger().info(f"scheduler started; adopted legs: {self.core.adopted() or 'none'}")

    def _poll(self) -> None:
        if not self.core.started:
            return
        while self._intake:
            self._run(self.core.intake(self._intake.popleft()))
        while self._cancelled:
            self._run(self.core.cancelled(self._cancelled.popleft()))
        self._run(self.core.poll_store())
        unsent, self._unsent = self._unsent, []
        for order in unsent:
            self._send(order)

    def _tick(self) -> None:
        if self.core.started:
            self._run(self.core.tick())

    # ---- subscriptions ----------------------------------------------------------------------------
    def _on_state(self, msg: RobotState) -> None:
        try:
            snap = convert.snapshot_from_msg(msg)
        except ValueError as exc:
            self.get_logger().warning(f"bad RobotState from {msg.robot_id!r}: {exc}")
            return
        self._heard.add(snap.robot_id)
        self._run(self.core.on_robot_state(snap))

    def _on_custody(self, msg: CustodyEventMsg) -> None:
        try:
            ev = convert.custody_event(msg)
        except ValueError as exc:
            self.get_logger().warning(f"bad custody event: {exc}")
            return
        try:
            self._run(self.core.on_custody(ev))
        except StoreError as exc:
            self.get_logger().error(f"could not record custody {ev.kind.value} of {ev.task_id}: {exc}")

    def _on_alert(self, msg: AlertMsg) -> None:
        if msg.code != AlertCode.ROBOT_LOST.value or msg.task_id or not msg.robot_id:
            return
        lost = msg.severity == int(Severity.CRITICAL)
        if not self.core.started:
            self._early_lost[msg.robot_id] = lost
            return
        if lost:
            # the goal handles are kept: the core sends the cancel again when the robot is back
            self._run(self.core.on_robot_lost(msg.robot_id))
        else:
            self._run(self.core.on_robot_back(msg.robot_id))

    # ---- services (store only; the core takes the task at the next poll) ------------------------
    def _on_submit(self, req: SubmitTask.Request, resp: SubmitTask.Response) -> SubmitTask.Response:
        resp.task_id = req.task.id
        try:
            task = convert.task_from_msg(req.task)
            badges = frozenset(b for b in req.badges if b)
            persist_submission(self._store, task, req.pin_hash, badges, actor=req.task.requester or "ros")
        except DuplicateError as exc:
            resp.accepted, resp.reason = False, f"task.id: {exc}"
            return resp
        except (ValueError, StoreError) as exc:
            resp.accepted, resp.reason = False, str(exc)
            return resp
        self._intake.append(task)
        resp.accepted = True
        return resp

    def _on_cancel(self, req: CancelTask.Request, resp: CancelTask.Response) -> CancelTask.Response:
        try:
            self._store.transition_task(
                req.task_id, TaskStatus.CANCELLED, actor=req.actor or "ros", reason=req.reason or "cancelled"
            )
        except NotFoundError as exc:
            resp.cancelled, resp.message = False, f"task_id: {exc}"
            return resp
        except IllegalTransitionError as exc:
            resp.cancelled, resp.message = False, str(exc)
            return resp
        self._cancelled.append(req.task_id)
        resp.cancelled, resp.message = True, f"task {req.task_id} cancelled"
        return resp

    # ---- legs -------------------------------------------------------------------------------------
    def _run(self, out: Outcome) -> None:
        for note in out.notes:
            self.get_logger().info(note)
        for rid, leg_id in out.cancels:
            self._cancel(rid, leg_id)
        for order in out.orders:
            self._send(order)

    def _cancel(self, robot_id: str, leg_id: str) -> None:
        handle = self._leg_goals.get((robot_id, leg_id))
        self.get_logger().info(f"cancelling leg {leg_id} of {robot_id}")
        if handle is not None:
            handle.cancel_goal_async()
            return
        # a leg this node did not send (adopted after a restart): no goal id to name. A cancel
        # request with a zero goal id and stamp cancels every goal of the robot's server; a robot
        # drives one leg at a time and is sent none while its state shows one running.
        client = self._client(robot_id)
        anonymous = ClientGoalHandle(client, UUID(uuid=[0] * 16), ExecuteLeg.Impl.SendGoalService.Response())
        anonymous.cancel_goal_async()

    def _client(self, robot_id: str) -> ActionClient:
        client = self._leg_clients.get(robot_id)
        if client is None:
            client = ActionClient(
                self, ExecuteLeg, convert.execute_leg_action(robot_id), callback_group=self._core_group
            )
            self._leg_clients[robot_id] = client
        return client

    def _send(self, order: LegOrder) -> None:
        client = self._client(order.robot_id)
        if not client.server_is_ready():
            self._unsent.append(order)
            return
        stops = [convert.stop_msg(s, p.eta_s, 0) for s, p in zip(order.stops, order.planned, strict=True)]
        goal = ExecuteLeg.Goal(leg_id=order.leg_id, robot_id=order.robot_id, stops=stops)
        self.get_logger().info(f"leg {order.leg_id} -> {order.robot_id}")
        future = client.send_goal_async(goal)
        future.add_done_callback(lambda f: self._on_goal_response(order, f))

    def _on_goal_response(self, order: LegOrder, future: Future) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            report = LegReport(order.robot_id, order.leg_id, LegOutcome.FAILED, "goal rejected by the robot")
            self._run(self.core.on_leg_result(report))
            return
        self._leg_goals[(order.robot_id, order.leg_id)] = handle
        handle.get_result_async().add_done_callback(lambda f, o=order: self._on_result(o, f))

    def _on_result(self, order: LegOrder, future: Future) -> None:
        self._leg_goals.pop((order.robot_id, order.leg_id), None)
        response = future.result()
        if response is None:  # the result is lost (server gone): do not wait for it forever
            self.get_logger().warning(f"leg {order.leg_id} of {order.robot_id}: result lost")
            self._run(self.core.on_leg_result_lost(order.robot_id, order.leg_id))
            return
        report = convert.leg_report(order.robot_id, order.leg_id, response.result, response.status)
        self.get_logger().info(
            f"leg {order.leg_id} of {order.robot_id}: {report.outcome.name.lower()} {report.reason}".rstrip()
        )
        self._run(self.core.on_leg_result(report))


def make_policy(name: str, time_limit_s: float) -> DispatchPolicy:
    params = PlannerParams(time_limit_s=time_limit_s)
    if name == "greedy":
        return GreedyPolicy(params)
    if name == "ortools":
        return OrToolsPolicy(params)
    raise ValueError(f"policy: must be ortools or greedy, got {name!r}")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m robots.nodes.scheduler_node", description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", help="store URL (default: HOSPITAL_OPS_DATABASE_URL or the data dir's SQLite)")
    p.add_argument("--campus", help="campus YAML (default: the shipped campus)")
    p.add_argument("--policy", choices=("ortools", "greedy"), default="ortools", help="dispatch policy")
    p.add_argument("--time-limit-s", type=float, default=0.5, help="full re-plan time limit, real s")
    p.add_argument(
        "--robots-per-zone",
        type=int,
        default=20,
        help="plan fleets of 30+ robots in dispatch zones of about this many robots per tower group "
        "(scheduler/zones.py, as the twin does); 0 = one dispatcher",
    )
    p.add_argument("--time-scale", type=float, default=None, help="campus seconds per real second")
    p.add_argument("--clock-origin", type=float, default=None, help="epoch s where campus and wall time agree")
    p.add_argument("--warmup-s", type=float, default=2.0, help="listen this long before planning, real s")
    p.add_argument("--poll-s", type=float, default=0.5, help="store poll period, real s")
    p.add_argument("--tick-s", type=float, default=1.0, help="dispatcher tick period, real s")
    p.add_argument("--state-period-s", type=float, default=5.0, help="robot state to the planner at most this often")
    p.add_argument("--commit-within-s", type=int, default=120, help="commit a leg this long before it is due, campus s")
    args = p.parse_args(list(argv))
    for name in ("time_limit_s", "warmup_s", "poll_s", "tick_s"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')}: must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    try:
        clock = clock_from_args(args)
        campus = load_campus(args.campus) if args.campus else default_campus()
        policy = make_policy(args.policy, args.time_limit_s)
        config = SchedulerConfig(
            state_period_s=args.state_period_s,
            commit_within_s=args.commit_within_s,
            robots_per_zone=args.robots_per_zone,
        )
        store = Store.open(args.database_url)
    except (ValueError, CampusError, StoreError) as exc:
        print(f"scheduler_node: error: {exc}", file=sys.stderr)
        return 2
    return spin_node(
        argv,
        lambda: SchedulerNode(
            store,
            campus,
            clock,
            policy,
            config=config,
            warmup_s=args.warmup_s,
            poll_s=args.poll_s,
            tick_s=args.tick_s,
        ),
        lambda: MultiThreadedExecutor(num_threads=3),
        finally_=store.close,
    )


if __name__ == "__main__":
    sys.exit(main())
