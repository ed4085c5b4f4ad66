"""Fleet manager core: which robots are alive, from their RobotState heartbeats.

Every RobotState a robot publishes is a heartbeat. :meth:`FleetTracker.check` (called by the
fleet node a few times a second) declares a robot LOST once nothing was heard from it for
``lost_after_s`` seconds (5 s by default) on the tracker's own clock — the receive time, so a
robot with a wrong clock is judged fairly — and raises one ROBOT_LOST alert; a heartbeat after that
brings it back (one INFO alert). The planner's view (:meth:`robots`) marks lost robots LOST so
nothing new is planned on them, and :meth:`stranded_tasks` lists the items locked inside them.
No ROS, no I/O; the clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from hospital_ops.domain import Robot, RobotMode
from robots.alerts import Alert, AlertCode, Severity
from robots.driver_core import RobotSnapshot


class Liveness(StrEnum):
    ALIVE = "alive"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Transition:
    robot_id: str
    liveness: Liveness
    #: Seconds since the last heartbeat when it happened.
    silent_s: float


@dataclass
class _Tracked:
    snapshot: RobotSnapshot
    last_seen: float
    liveness: Liveness = Liveness.ALIVE


class FleetTracker:
    def __init__(self, clock: Callable[[], float] = time.monotonic, lost_after_s: float = 5.0) -> None:
        if lost_after_s <= 0:
            raise ValueError(f"lost_after_s: must be positive seconds, got {lost_after_s}")
        self._clock = clock
        self._lost_after_s = lost_after_s
        self._robots: dict[str, _Tracked] = {}
        self._alerts: list[Alert] = []

    @property
    def lost_after_s(self) -> float:
        return self._lost_after_s

    def heartbeat(self, snap: RobotSnapshot) -> Transition | None:
        """Record a state; returns the ALIVE transition if the robot was lost (None otherwise).

        A state older (by its own campus clock) than the last one kept is a late or replayed
        message: it still proves the robot's publisher exists but does not overwrite newer state.
        """
        if not snap.robot_id:
            raise ValueError("robot_id: a heartbeat needs the robot's id")
        now = self._clock()
        tracked = self._robots.get(snap.robot_id)
        if tracked is None:
            self._robots[snap.robot_id] = _Tracked(snap, now)
            return None
        silent = now - tracked.last_seen
        if snap.at_s >= tracked.snapshot.at_s:
            tracked.snapshot = snap
        tracked.last_seen = now
        if tracked.liveness is Liveness.LOST:
            tracked.liveness = Liveness.ALIVE
            self._alerts.append(
                Alert(
                    AlertCode.ROBOT_LOST,
                    Severity.INFO,
                    f"robot {snap.robot_id} is back after {silent:.1f} s of silence at {snap.location}",
                    int(snap.at_s),
                    snap.robot_id,
                    location=snap.location,
                )
            )
            return Transition(snap.robot_id, Liveness.ALIVE, silent)
        return None

    def check(self) -> list[Transition]:
        """Declare robots silent for ``lost_after_s`` or longer LOST (once each)."""
        now = self._clock()
        out = []
        for rid, t in self._robots.items():
            silent = now - t.last_seen
            if t.liveness is Liveness.ALIVE and silent >= self._lost_after_s:
                t.liveness = Liveness.LOST
                out.append(Transition(rid, Liveness.LOST, silent))
                on_board = ", ".join(t.snapshot.on_board) or "nothing"
                self._alerts.append(
                    Alert(
                        AlertCode.ROBOT_LOST,
                        Severity.CRITICAL,
                        f"robot {rid} silent for {silent:.1f} s; last seen at {t.snapshot.location} "
                        f"carrying {on_board}",
                        int(t.snapshot.at_s + silent),
                        rid,
                        location=t.snapshot.location,
                    )
                )
        return out

    def forget(self, robot_id: str) -> bool:
        """Stop tracking a robot (retired from the fleet)."""
        return self._robots.pop(robot_id, None) is not None

    # ---- queries ----------------------------------------------------------------------------
    def liveness(self, robot_id: str) -> Liveness | None:
        t = self._robots.get(robot_id)
        return None if t is None else t.liveness

    def snapshot(self, robot_id: str) -> RobotSnapshot | None:
        t = self._robots.get(robot_id)
        return None if t is None else t.snapshot

    def alive(self) -> list[str]:
        return sorted(r for r, t in self._robots.items() if t.liveness is Liveness.ALIVE)

    def lost(self) -> list[str]:
        return sorted(r for r, t in self._robots.items() if t.liveness is Liveness.LOST)

    def stranded_tasks(self) -> dict[str, str]:
        """Task id → lost robot holding its items (they cannot be re-planned elsewhere)."""
        return {
            task: rid for rid, t in self._robots.items() if t.liveness is Liveness.LOST for task in t.snapshot.on_board
        }

    def robots(self, consumption_pct_per_km: float = 4.0, min_battery_pct: float = 20.0) -> list[Robot]:
        """The planner's view of every tracked robot, lost ones marked LOST."""
        out = []
        for rid in sorted(self._robots):
            t = self._robots[rid]
            s = t.snapshot
            out.append(
                Robot(
                    id=rid,
                    location=s.location,
                    available_s=int(s.at_s) + (s.leg_eta_s or 0),
                    capacity_units=max(1, len(s.drawers)),
                    speed_mps=s.speed_mps if s.speed_mps > 0 else 1.0,
                    battery_pct=max(0.0, min(100.0, s.battery_pct)),
                    consumption_pct_per_km=consumption_pct_per_km,
                    min_battery_pct=min_battery_pct,
                    mode=RobotMode.LOST if t.liveness is Liveness.LOST else s.mode,
                    on_board=s.on_board,
                )
            )
        return out

    def drain_alerts(self) -> list[Alert]:
        out, self._alerts = self._alerts, []
        return out
