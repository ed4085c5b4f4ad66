"""Planning of medicine and specimen deliveries: OR-Tools planner, greedy baseline, rolling dispatcher.

Pure Python over the core (no ROS, no Flask): ``scheduler.plan(problem, params, seed) -> Plan``.
"""

from scheduler.checker import check_plan
from scheduler.dispatcher import (
    Dispatcher,
    DispatchError,
    RobotAvailable,
    RobotFault,
    RobotLost,
    RobotStateUpdate,
    TaskAdded,
    TaskCancelled,
    TaskDelivered,
    TaskPickedUp,
)
from scheduler.greedy import plan_greedy
from scheduler.metrics import delivery_metrics, plan_metrics
from scheduler.params import PlannerParams
from scheduler.planner import charge_report, plan, quick_plan
from scheduler.policy import DispatchPolicy, GreedyPolicy, OrToolsPolicy
from scheduler.problem import PlanningError, Problem
from scheduler.staging import staging_targets
from scheduler.travel import MatrixTravel
from scheduler.zones import ZonedDispatcher, Zoning, plan_zones

__all__ = [
    "DispatchError",
    "DispatchPolicy",
    "Dispatcher",
    "GreedyPolicy",
    "MatrixTravel",
    "OrToolsPolicy",
    "PlannerParams",
    "PlanningError",
    "Problem",
    "RobotAvailable",
    "RobotFault",
    "RobotLost",
    "RobotStateUpdate",
    "TaskAdded",
    "TaskCancelled",
    "TaskDelivered",
    "TaskPickedUp",
    "ZonedDispatcher",
    "Zoning",
    "charge_report",
    "check_plan",
    "delivery_metrics",
    "plan",
    "plan_greedy",
    "plan_metrics",
    "plan_zones",
    "quick_plan",
    "staging_targets",
]
