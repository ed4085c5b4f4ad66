"""The ROS → web bridge's plain part: what the dashboard gets, and the drawer commands it sends.

Contract of the web app (ops_dashboard/live.py, ops_dashboard/rest.py), used as it is:

- ``POST /api/v1/fleet/report`` with ``Authorization: Bearer <device token of kind bridge>`` and
  ``{"robots": [{"id", "mode", ...}], "lifts": [{"id", ...}]}``; ``mode`` must be a RobotMode value.
- Socket.IO namespace ``/bridge`` (``auth={"token": ...}``): the app emits ``open_drawer`` with
  ``{"robot_id", "task_id", "end": "pickup"|"dropoff", "method": "pin"|"badge", "secret", "actor"}``
  and waits (5 s) for the acknowledgement ``{"ok": bool, "reason"?, ...}``.

No ROS and no HTTP here: the node (robots.nodes.bridge) does the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hospital_ops.domain import RobotMode
from robots.driver_core import OpenOutcome, RobotSnapshot
from robots.lifts import LiftView


def robot_report(snap: RobotSnapshot, lost: bool = False) -> dict[str, Any]:
    """One robot for the fleet report (JSON-safe; ``mode`` a RobotMode value)."""
    return {
        "id": snap.robot_id,
        "mode": RobotMode.LOST.value if lost else snap.mode.value,
        "phase": snap.phase.value,
        "location": snap.location,
        "building": snap.building,
        "floor": snap.floor,
        "x": round(snap.x, 1),
        "y": round(snap.y, 1),
        "battery_pct": round(snap.battery_pct, 1),
        "on_board": list(snap.on_board),
        "current_task_id": snap.current_task_id,
        "leg_id": snap.leg_id,
        "leg_progress": round(snap.leg_progress, 3),
        "leg_eta_s": snap.leg_eta_s,
        "drawers": [
            {"index": d.index, "state": d.status.name.lower(), "task_id": d.task_id, "loaded": d.loaded}
            for d in snap.drawers
        ],
        "at_s": int(snap.at_s),
    }


def lift_report(v: LiftView) -> dict[str, Any]:
    return {
        "id": v.lift_id,
        "building": v.building,
        "in_service": v.in_service,
        "reason": v.reason,
        "capacity": v.capacity,
        "riders": list(v.riders),
        "queue": len(v.queue),  # the dashboard's contract: how many robots wait
        "waiting": list(v.queue),
    }


@dataclass(frozen=True, slots=True)
class DrawerCommand:
    """An ``open_drawer`` request from the web app, checked."""

    robot_id: str
    task_id: str
    end: str
    method: str
    pin: str
    badge: str
    actor: str


def drawer_command(data: Any) -> DrawerCommand:
    """ValueError naming the field for anything missing or wrong (the secret is never echoed)."""
    if not isinstance(data, Mapping):
        raise ValueError("open_drawer: expected an object")
    fields = {}
    for name in ("robot_id", "task_id", "end", "method", "secret"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}: required")
        fields[name] = value
    if fields["end"] not in ("pickup", "dropoff"):
        raise ValueError(f"end: must be pickup or dropoff, got {fields['end']!r}")
    if fields["method"] not in ("pin", "badge"):
        raise ValueError(f"method: must be pin or badge, got {fields['method']!r}")
    actor = data.get("actor")
    secret = fields["secret"]
    return DrawerCommand(
        robot_id=fields["robot_id"],
        task_id=fields["task_id"],
        end=fields["end"],
        method=fields["method"],
        pin=secret if fields["method"] == "pin" else "",
        badge=secret if fields["method"] == "badge" else "",
        actor=actor if isinstance(actor, str) else "",
    )


_REASONS = {
    OpenOutcome.DENIED: "wrong PIN or badge",
    OpenOutcome.LOCKED_OUT: "drawer locked out; a supervisor is called",
    OpenOutcome.NOT_AT_STOP: "the robot is not waiting at this stop yet",
    OpenOutcome.NOT_FOUND: "no drawer for this task on that robot",
    OpenOutcome.INVALID: "invalid request",
}


def drawer_answer(
    outcome: OpenOutcome, custody_kind: str, drawer: int, attempts_left: int, message: str
) -> dict[str, Any]:
    """The acknowledgement the web app expects: ``ok`` plus a ``reason`` when refused."""
    out: dict[str, Any] = {
        "ok": outcome is OpenOutcome.OPENED,
        "outcome": outcome.name.lower(),
        "custody_kind": custody_kind,
        "drawer": drawer,
        "attempts_left": attempts_left,
        "message": message,
    }
    if outcome is not OpenOutcome.OPENED:
        out["reason"] = (
            f"{_REASONS.get(outcome, 'refused')}: {message}" if message else _REASONS.get(outcome, "refused")
        )
    return out
