"""How the twin drives the product's rolling dispatcher: re-planning on events, rate-limited.

The twin feeds every event (request filed, item picked up, delivered, robot charging, faulty,
available) to the product's own :class:`scheduler.Dispatcher`, which keeps the state, commits each
robot's next leg and calls its policy. The policy handed to it is a :class:`RateLimitedPolicy`
around the product's :class:`scheduler.OrToolsPolicy` or :class:`scheduler.GreedyPolicy`, in one
of three modes the twin sets before each call:

* ``full``   — the wrapped policy's full re-plan (OR-Tools local search, warm-started);
* ``insert`` — its fast insertion path (keep the routes, fit the new tasks in; milliseconds);
* ``hold``   — between re-plans: the previous plan, minus what is done, with its times brought up
  to date (no new decisions). New requests wait for the next re-plan, except STAT ones, which the
  dispatcher inserts at once through its fast path.

The twin asks for a re-plan at most every ``planner.min_replan_interval_s`` when something changed
(a full one at most every ``planner.full_replan_interval_s``; fast insertion otherwise) and at
least every ``planner.max_replan_interval_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from hospital_ops.domain import Plan, RobotRoute, Stop, StopKind
from sim.scenario import ScenarioError

#: Planner parameters the twin uses unless the scenario overrides them: a search that stops on a
#: solution count (deterministic: same seed → same plan) with a wall-clock safety net.
TWIN_PLANNER_DEFAULTS: dict[str, Any] = {"solution_limit": 2, "time_limit_s": 10.0}


def product_policy(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """The product's dispatch policy ``name`` ('ortools' or 'greedy') with twin-friendly parameters."""
    from scheduler.params import PlannerParams
    from scheduler.policy import GreedyPolicy, OrToolsPolicy

    classes = {"ortools": OrToolsPolicy, "greedy": GreedyPolicy}
    if name not in classes:
        raise ScenarioError(f"planner.policy: unknown policy {name!r} (one of {', '.join(classes)})")
    merged = {**TWIN_PLANNER_DEFAULTS, **(params or {})}
    if isinstance(params, Mapping) and isinstance(params.get("battery"), Mapping):
        merged["battery"] = {**TWIN_PLANNER_DEFAULTS.get("battery", {}), **params["battery"]}
    try:
        p = PlannerParams.from_dict(merged)
    except ValueError as exc:
        raise ScenarioError(f"planner.params: {exc}") from None
    return classes[name](p)


class RateLimitedPolicy:
    """A ``scheduler.DispatchPolicy`` that re-plans only when the twin says so (see module doc)."""

    def __init__(self, inner: Any, travel_s: Callable[[str, str], int], service_s: int) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.mode = "hold"
        self._travel_s = travel_s
        self._service_s = service_s
        self.calls = {"full": 0, "insert": 0, "hold": 0}
        #: Wall seconds spent in each kind of call.
        self.seconds = {"full": 0.0, "insert": 0.0, "hold": 0.0}
        self._cache: dict[str, tuple[tuple[Any, ...], RobotRoute]] = {}

    def plan(self, problem: Any, previous: Plan | None, seed: int = 0) -> Plan:
        mode = self.mode
        if mode == "hold" and previous is None:
            mode = "insert"
        t0 = time.perf_counter()
        if mode == "full":
            result = self.inner.plan(problem, previous, seed)
        elif mode == "insert":
            result = self.inner.insert(problem, previous, seed)
        else:
            if previous is None:  # "hold" without a previous plan was turned into "insert" above
                raise ValueError(f"RateLimitedPolicy.mode: {mode!r} needs a previous plan")
            result = self.hold(problem, previous)
        self.calls[mode] += 1
        self.seconds[mode] += time.perf_counter() - t0
        return result

    def insert(self, problem: Any, previous: Plan | None, seed: int = 0) -> Plan:
        t0 = time.perf_counter()
        result = self.inner.insert(problem, previous, seed)
        self.calls["insert"] += 1
        self.seconds["insert"] += time.perf_counter() - t0
        return result

    def hold(self, problem: Any, previous: Plan) -> Plan:
        """``previous`` restricted to what is still to do, ETAs recomputed from the robots' states."""
        task_by_id = {t.id: t for t in problem.tasks}
        carrier = {tid: r.id for r in problem.robots for tid in r.on_board}
        prev_routes = {r.robot_id: r for r in previous.routes}
        routes: list[RobotRoute] = []
        seen: set[str] = set()
        cache = self._cache
        for robot in problem.robots:
            old = prev_routes.get(robot.id)
            kept: list[tuple[StopKind, str, str | None]] = []
            picked: set[str] = set()
            dropped: set[str] = set()
            for s in old.stops if old is not None else ():
                tid = s.task_id
                if s.kind is StopKind.PICKUP:
                    if tid is not None and tid in task_by_id and tid not in carrier and tid not in seen:
                        kept.append((s.kind, s.location, tid))
                        picked.add(tid)
                        seen.add(tid)
                elif (
                    s.kind is StopKind.DROPOFF
                    and tid is not None
                    and tid in task_by_id
                    and tid not in dropped
                    and (tid in picked or carrier.get(tid) == robot.id)
                ):
                    kept.append((s.kind, s.location, tid))
                    dropped.add(tid)
            for tid in robot.on_board:
                if tid not in dropped and tid in task_by_id:
                    kept.append((StopKind.DROPOFF, task_by_id[tid].dropoff, tid))
            key = (robot.location, robot.available_s, tuple(kept))
            hit = cache.get(robot.id)
            if hit is not None and hit[0] == key:
                routes.append(hit[1])
                continue
            t = robot.available_s
            here = robot.location
            stops: list[Stop] = []
            for kind, loc, tid in kept:
                t += self._travel_s(here, loc)
                stops.append(Stop(kind, loc, t, tid, t + self._service_s))
                t += self._service_s
                here = loc
            route = RobotRoute(robot.id, tuple(stops), 0)
            cache[robot.id] = (key, route)
            routes.append(route)
        unassigned = {
            tid: "waiting for the next re-plan" for tid in task_by_id if tid not in seen and tid not in carrier
        }
        return Plan(tuple(routes), unassigned, problem.now_s, f"{self.name}/hold", previous.objective)
