"""Alerts raised by the robots' cores for staff (drawer lock-outs, battery, lifts, hand-overs)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Same numbering as hospital_ops_interfaces/msg/Alert (SEVERITY_*)."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


class AlertCode(StrEnum):
    """Same strings as hospital_ops_interfaces/msg/Alert (CODE_*)."""

    DRAWER_LOCKED_OUT = "drawer_locked_out"
    BATTERY_LOW = "battery_low"
    BATTERY_EMPTY = "battery_empty"
    HANDOVER_TIMEOUT = "handover_timeout"
    LIFT_OUT_OF_SERVICE = "lift_out_of_service"
    LIFT_TIMEOUT = "lift_timeout"
    ROBOT_LOST = "robot_lost"


@dataclass(frozen=True, slots=True)
class Alert:
    code: AlertCode
    severity: Severity
    message: str
    #: Campus clock, seconds since the Unix epoch.
    at_s: int
    robot_id: str = ""
    task_id: str = ""
    location: str = ""
