"""Fleet manager core: robots.fleet.FleetTracker + the store, as plain Python (no ROS).

The fleet manager node (robots.nodes.fleet_manager) feeds it every RobotState (``on_state``) and
every alert seen on ``/fleet/alerts`` (``on_alert``), and calls ``check`` a few times a second;
it publishes the alerts these return. What it does:

- a robot silent for ``lost_after_s`` is LOST: a critical ``robot_lost`` alert about the robot,
  one more per item on board (``task_id`` set: fetch it), and the robot upserted LOST in the store;
  a heartbeat after that brings it back (INFO alert);
- every alert (its own and the robots', drawer lock-outs included) is stored once
  (``store.raise_alert``, kind ``robot.<code>``, subject ``task:<id>`` or ``robot:<id>``, the
  campus second in the message, which makes replays recognisable, also across restarts);
- robot states are upserted into the store at most every ``store_period_s``;
- at start-up, robots known to the store are tracked from now (a robot that died while the
  manager was down has no transient-local state left to say so); those already LOST in the store
  are not alerted again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from hospital_ops.domain import Robot, RobotMode
from hospital_ops.store import Store
from hospital_ops.store.errors import StoreError
from robots.alerts import Alert, AlertCode, Severity
from robots.driver_core import DrawerStatus, DrawerView, Phase, RobotSnapshot
from robots.fleet import FleetTracker, Liveness
from robots.scheduling import SchedulerConfig, robot_from_snapshot

_SEVERITY = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.CRITICAL: "critical"}


def alert_subject(a: Alert) -> str:
    return f"task:{a.task_id}" if a.task_id else f"robot:{a.robot_id}" if a.robot_id else ""


def alert_text(a: Alert) -> str:
    """The stored message: the alert's own line plus its campus second (which makes it unique)."""
    return f"{a.message} [campus {a.at_s}]"


def seed_snapshot(
    robot_id: str, location: str, battery_pct: float, speed_mps: float, on_board: tuple[str, ...]
) -> RobotSnapshot:
    """A stand-in state for a robot known only from the store (older than anything a robot publishes)."""
    return RobotSnapshot(
        robot_id=robot_id,
        building="",
        floor="",
        level=0.0,
        location=location,
        x=0.0,
        y=0.0,
        battery_pct=battery_pct,
        mode=RobotMode.IDLE,
        phase=Phase.IDLE,
        drawers=tuple(DrawerView(i, DrawerStatus.LOADED, t, 0, True) for i, t in enumerate(on_board)),
        current_task_id="",
        leg_id="",
        leg_progress=0.0,
        leg_eta_s=None,
        speed_mps=speed_mps,
        odometer_m=0.0,
        at_s=0.0,
    )


class FleetService:
    """See the module doc. ``log`` receives one line per notable event (the node's logger)."""

    def __init__(
        self,
        store: Store,
        *,
        campus_now: Callable[[], float],
        lost_after_s: float = 4.5,
        store_period_s: float = 2.0,
        wall: Callable[[], float] = time.monotonic,
        log: Callable[[str], object] = lambda _m: None,
    ) -> None:
        self.store = store
        self.tracker = FleetTracker(clock=wall, lost_after_s=lost_after_s)
        self._campus_now = campus_now
        self._wall = wall
        self._store_period_s = store_period_s
        self._log = log
        self._config = SchedulerConfig()
        self._persisted = {(a.kind, a.subject, a.message) for a in store.list_alerts(limit=5000)}
        self._stored_at: dict[str, float] = {}
        self._already_lost: set[str] = set()
        self._seeded: dict[str, Robot] = {}
        for rec in store.list_robots():
            r = rec.robot
            self._seeded[r.id] = r
            if r.mode is RobotMode.LOST:
                self._already_lost.add(r.id)
            self.tracker.heartbeat(seed_snapshot(r.id, r.location, r.battery_pct, r.speed_mps, r.on_board))

    def on_state(self, snap: RobotSnapshot) -> list[Alert]:
        back = self.tracker.heartbeat(snap)
        self._already_lost.discard(snap.robot_id)
        now = self._wall()
        if back is not None or now - self._stored_at.get(snap.robot_id, -1e18) >= self._store_period_s:
            self._stored_at[snap.robot_id] = now
            self._upsert(snap, None)
        if back is not None:
            self._log(f"robot {snap.robot_id} is back after {back.silent_s:.1f} s")
        return self._emit(self.tracker.drain_alerts())

    def on_alert(self, alert: Alert) -> None:
        self._persist(alert)

    def check(self) -> list[Alert]:
        out: list[Alert] = []
        for t in self.tracker.check():
            if t.liveness is not Liveness.LOST:
                continue
            snap = self.tracker.snapshot(t.robot_id)
            again = t.robot_id in self._already_lost
            self._log(
                f"robot {t.robot_id} lost after {t.silent_s:.1f} s of silence"
                + (" (already lost before a restart)" if again else "")
            )
            if snap is not None:
                self._upsert(snap, RobotMode.LOST)
            if again or snap is None:
                continue
            now = int(self._campus_now())
            out.append(
                Alert(
                    AlertCode.ROBOT_LOST,
                    Severity.CRITICAL,
                    f"robot {t.robot_id} silent for {t.silent_s:.1f} s; last seen at {snap.location} carrying "
                    f"{', '.join(snap.on_board) or 'nothing'}",
                    now,
                    t.robot_id,
                    location=snap.location,
                )
            )
            for task_id in snap.on_board:
                out.append(
                    Alert(
                        AlertCode.ROBOT_LOST,
                        Severity.CRITICAL,
                        f"items of task {task_id} are on board lost robot {t.robot_id} near {snap.location}: fetch them",
                        now,
                        t.robot_id,
                        task_id,
                        snap.location,
                    )
                )
        self.tracker.drain_alerts()  # replaced by the ones above (campus time, per item)
        return self._emit(out)

    def _emit(self, alerts: list[Alert]) -> list[Alert]:
        for a in alerts:
            self._persist(a)
        return alerts

    def _persist(self, a: Alert) -> None:
        key = (f"robot.{a.code.value}", alert_subject(a), alert_text(a))
        if key in self._persisted:
            return
        self._persisted.add(key)
        try:
            self.store.raise_alert(
                key[0], key[2], severity=_SEVERITY[a.severity], subject=key[1], actor="fleet_manager"
            )
        except StoreError as exc:
            self._log(f"could not store alert {key[0]}: {exc}")

    def _upsert(self, snap: RobotSnapshot, mode: RobotMode | None) -> None:
        try:
            seeded = self._seeded.get(snap.robot_id)
            if seeded is not None and snap.at_s == 0.0:  # never heard since start-up: keep what the store had
                robot = dataclasses.replace(seeded, mode=mode or seeded.mode)
            else:
                robot = robot_from_snapshot(snap, self._config, mode)
            self.store.upsert_robot(robot, heartbeat=mode is not RobotMode.LOST)
        except (StoreError, ValueError) as exc:
            self._log(f"could not store robot {snap.robot_id}: {exc}")
