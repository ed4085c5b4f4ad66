"""The compiled planning instance shared by the OR-Tools model, the insertion heuristics, the
greedy baseline and the plan decoder. Pure Python and numpy; no OR-Tools here.

Inside the instance every time is an integer second relative to ``now_s`` (the Plan gets absolute
times back). A route is a list of *visit codes*: ``2k`` is the pickup of modelled task ``k``,
``2k + 1`` its drop-off. Tasks already on board have only a drop-off visit.

Scheduling a route: each visit starts at ``max(arrival, earliest)`` (waiting allowed), pickups no
earlier than the task's earliest time, and where a specimen's max transit would be exceeded the
pickup is postponed (the least solution of the difference constraints, found by fixed-point
iteration). Because lateness costs never decrease with time, this earliest schedule is also the
cheapest one for the sequence: it is the schedule OR-Tools' cumul optimiser finds, so
:meth:`Instance.evaluate` reproduces the routing objective exactly.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import numpy as np

from hospital_ops.domain import DeliveryTask, Plan, Priority, Robot, RobotMode, RobotRoute, Stop, StopKind
from scheduler._insertion import RouteCache, best_in_route, build_cache
from scheduler.params import PlannerParams
from scheduler.problem import UNAVAILABLE_MODES, PlanningError, Problem, describe_capabilities
from scheduler.travel import as_matrix

#: Battery range used when a robot consumes nothing (metres); keeps every value far inside int64.
UNLIMITED_RANGE_M = 10**9
#: At most this many tasks are moved by one repair pass under the real deadlines.
REPAIR_LIMIT = 8
#: The objective must stay below this (OR-Tools sums costs in int64).
_OBJECTIVE_LIMIT = 2**62


class Fail(StrEnum):
    """Why a route cannot be driven."""

    CAPACITY = "capacity"
    BATTERY = "battery"
    TRANSIT = "transit"
    HORIZON = "horizon"


@dataclass(slots=True)
class TaskData:
    task: DeliveryTask
    pick_loc: int
    drop_loc: int
    #: Earliest pickup, relative seconds (≥ 0).
    earliest: int
    #: Drop-off target: the deadline less the priority's safety margin (``params.deadline_margin``),
    #: relative seconds, clamped to ≥ 0 (lateness before now is sunk).
    deadline: int
    #: Objective cost per second late.
    late_w: int
    #: Objective cost per second the pickup starts after ``wait_from``.
    wait_w: int
    #: Relative second from which the pickup costs ``wait_w`` (the earliest pickup).
    wait_from: int
    #: Objective cost if not served.
    penalty: int
    units: int
    service: int
    max_transit: int | None
    #: Vehicle index that has the items on board (drop-off only), else None.
    onboard: int | None
    #: Vehicles allowed to serve it.
    vehicles: tuple[int, ...]


@dataclass(slots=True)
class VehicleData:
    robot: Robot
    start_loc: int
    #: Relative second it can start.
    start: int
    #: Drawer units on board at the start.
    load: int
    capacity: int
    #: Metres it may drive for tasks (above its battery reserve; above 0 if already under it).
    range_m: int
    speed_class: int
    #: False when below the battery reserve: it only delivers what it has on board.
    may_pickup: bool


@dataclass(slots=True)
class RouteEval:
    #: Service start per visit, relative seconds.
    times: list[int]
    travel_s: int
    metres: int
    #: travel cost + weighted lateness.
    cost: int


class Instance:
    """A :class:`Problem` compiled to integer arrays, with the objective weights fixed."""

    def __init__(self, problem: Problem, params: PlannerParams) -> None:
        self.problem = problem
        self.params = params
        self.now = problem.now_s
        #: Candidate pruning in :meth:`best_insertion` (None = every allowed vehicle); set by
        #: :func:`scheduler.quick_plan` from ``params.insertion_candidates``, never by the full search.
        self.candidate_limit: int | None = None
        self._anchor_memo: dict[int, tuple[list[int], list[tuple[int, int, int]]]] = {}

        robots = [r for r in problem.robots if r.mode not in UNAVAILABLE_MODES]
        on_board = problem.on_board()
        robot_by_id = {r.id: r for r in problem.robots}
        by_id = {t.id: t for t in problem.tasks}

        # ---- locations and matrices -------------------------------------------------------
        points: dict[str, None] = {}
        for r in robots:
            points.setdefault(r.location, None)
        for t in problem.tasks:
            points.setdefault(t.pickup, None)
            points.setdefault(t.dropoff, None)
        for r in robots:
            if r.home_dock:
                points.setdefault(r.home_dock, None)
        for d in problem.docks:
            points.setdefault(d, None)
        self.locs: list[str] = list(points)
        self.loc_index = {p: i for i, p in enumerate(self.locs)}
        speeds = sorted({r.speed_mps for r in robots}) or [1.0]
        self.speeds = speeds
        self.T_np: list[np.ndarray] = []
        metres_np: np.ndarray | None = None
        for s in speeds:
            m = as_matrix(problem.travel.matrix(self.locs, s)) if self.locs else None
            if m is None:
                self.T_np.append(np.zeros((0, 0), dtype=np.int64))
                metres_np = np.zeros((0, 0), dtype=np.int64)
                continue
            order = np.array([m.index[p] for p in self.locs], dtype=np.int64)
            self.T_np.append(m.seconds[np.ix_(order, order)])
            if metres_np is None:
                metres_np = m.metres[np.ix_(order, order)]
        self.M_np: np.ndarray = metres_np if metres_np is not None else np.zeros((0, 0), dtype=np.int64)
        self.T: list[list[list[int]]] = [t.tolist() for t in self.T_np]
        self.M: list[list[int]] = self.M_np.tolist()

        # ---- vehicles ------------------------------------------------------------------------
        self.vehicles: list[VehicleData] = []
        self.vehicle_of: dict[str, int] = {}
        for r in robots:
            load = sum(by_id[t].units for t in r.on_board)
            under = r.battery_pct < r.min_battery_pct
            above = r.battery_pct if under else r.battery_pct - r.min_battery_pct
            rng = UNLIMITED_RANGE_M if r.consumption_pct_per_km <= 0 else int(above / r.consumption_pct_per_km * 1000)
            self.vehicle_of[r.id] = len(self.vehicles)
            self.vehicles.append(
                VehicleData(
                    robot=r,
                    start_loc=self.loc_index[r.location],
                    start=max(0, r.available_s - self.now),
                    load=load,
                    capacity=r.capacity_units,
                    range_m=min(rng, UNLIMITED_RANGE_M),
                    speed_class=speeds.index(r.speed_mps),
                    may_pickup=not under,
                )
            )

        # ---- tasks: screen the hopeless ones, keep the rest ----------------------------------
        self.reasons: dict[str, str] = {}
        kept: list[tuple[DeliveryTask, int | None, tuple[int, ...]]] = []
        # the screen depends only on the task's needs and size: once per kind of task, not per task
        screened: dict[tuple[frozenset, int], tuple[str, tuple[int, ...]]] = {}
        for t in problem.tasks:
            carrier = on_board.get(t.id)
            if carrier is not None:
                v = self.vehicle_of.get(carrier)
                if v is None:
                    mode = robot_by_id[carrier].mode
                    self.reasons[t.id] = f"on board robot {carrier} ({mode.value}): items need recovery"
                    continue
                kept.append((t, v, (v,)))
                continue
            need = (t.handling.required_capabilities(), t.units)
            hit = screened.get(need)
            if hit is None:
                hit = screened[need] = self._screen(t, problem.robots)
            reason, allowed = hit
            if reason:
                self.reasons[t.id] = reason
            else:
                kept.append((t, None, allowed))

        # the soft bound of each drop-off: its deadline less the priority's safety margin (never
        # before now); the real deadlines are kept for the repair pass (:meth:`deadline_repair`)
        margin = params.deadline_margin
        self.real_deadline = {t.id: max(0, t.deadline_s - self.now) for t, _, _ in kept}
        rel = [max(0, t.deadline_s - margin.of(t.priority) - self.now) for t, _, _ in kept]
        ear = [max(0, t.earliest_s - self.now) for t, _, _ in kept]
        # the pickup's time cost: waiting from the earliest pickup (nothing for items on board)
        wait_from = ear
        wait_w = [0 if onboard is not None else params.weights.wait_per_s for _, onboard, _ in kept]
        starts = [v.start for v in self.vehicles]
        self.horizon = max([0, *rel, *ear, *starts]) + params.horizon_slack_s + 1

        # ---- objective weights ---------------------------------------------------------------
        self.dominant_stat = params.weights.late_per_s_stat is None
        self._set_weights(kept, rel, wait_from, wait_w, dominant=self.dominant_stat)
        if self._max_objective >= _OBJECTIVE_LIMIT and self.dominant_stat:
            # too many tasks for lexicographic STAT weights in 63 bits: fall back to a fixed ratio
            self.dominant_stat = False
            self._set_weights(kept, rel, wait_from, wait_w, dominant=False)
        if self._max_objective >= _OBJECTIVE_LIMIT:
            raise PlanningError(
                "problem: too large for a 64-bit objective with these weights "
                f"({len(problem.tasks)} tasks, horizon {self.horizon} s); lower the weights or plan fewer tasks"
            )

        self.tasks: list[TaskData] = []
        self.task_index: dict[str, int] = {}
        for (t, onboard, allowed), dl, e, wf, ww in zip(kept, rel, ear, wait_from, wait_w, strict=True):
            self.task_index[t.id] = len(self.tasks)
            self.tasks.append(
                TaskData(
                    task=t,
                    pick_loc=self.loc_index[t.pickup],
                    drop_loc=self.loc_index[t.dropoff],
                    earliest=e,
                    deadline=dl,
                    late_w=self.late_w[t.priority],
                    wait_w=ww,
                    wait_from=wf,
                    penalty=self.onboard_penalty if onboard is not None else self.penalty_of(t),
                    units=t.units,
                    service=t.service_s,
                    max_transit=t.handling.max_transit_s,
                    onboard=onboard,
                    vehicles=allowed,
                )
            )
        for td in self.tasks:
            if td.onboard is None:
                reason = self._screen_trip(td)
                if reason:
                    self.reasons[td.task.id] = reason
                    td.vehicles = ()

    # ---- construction helpers ----------------------------------------------------------------
    def penalty_of(self, task: DeliveryTask) -> int:
        return self.drop_base * self.params.weights.drop_multiplier(task.priority)

    def _set_weights(
        self,
        kept: list[tuple[DeliveryTask, int | None, tuple[int, ...]]],
        rel: list[int],
        wait_from: list[int],
        wait_w: list[int],
        *,
        dominant: bool,
    ) -> None:
        """Per-second lateness weights and drop penalties (see :class:`scheduler.params.Weights`).

        With ``dominant``, the STAT weight is one more than the largest value travel plus urgent
        and routine lateness can reach within the horizon (each lateness is at most
        ``horizon − deadline``); otherwise it is the explicit weight, or 100 × the urgent weight
        when the dominance weights would not fit in 63 bits. The base drop penalty exceeds every
        cost a served task set can reach; an on-board drop-off weighs ten times the heaviest task.
        """
        w = self.params.weights
        H = self.horizon
        late = {Priority.ROUTINE: w.late_per_s_routine, Priority.URGENT: w.late_per_s_urgent}
        travel_max = w.travel_per_s * sum(H - v.start for v in self.vehicles)
        wait_max = sum(ww * max(0, H - wf) for wf, ww in zip(wait_from, wait_w, strict=True))
        rest = (
            travel_max
            + wait_max
            + sum(
                late[t.priority] * (H - d)
                for (t, _, _), d in zip(kept, rel, strict=True)
                if t.priority is not Priority.STAT
            )
        )
        if w.late_per_s_stat is not None:
            late[Priority.STAT] = w.late_per_s_stat
        elif dominant:
            late[Priority.STAT] = rest + 1
        else:
            late[Priority.STAT] = 100 * max(1, w.late_per_s_urgent)
        c_all = rest + sum(
            late[Priority.STAT] * (H - d) for (t, _, _), d in zip(kept, rel, strict=True) if t.priority is Priority.STAT
        )
        self.late_w = late
        self.drop_base = c_all + 1
        heaviest = max(w.drop_routine, w.drop_urgent, w.drop_stat)
        self.onboard_penalty = self.drop_base * 10 * heaviest
        n_onboard = sum(1 for _, onboard, _ in kept if onboard is not None)
        mult_sum = sum(w.drop_multiplier(t.priority) for t in self.problem.tasks)
        self._max_objective = self.drop_base * mult_sum + self.onboard_penalty * n_onboard

    def _screen(self, t: DeliveryTask, robots: Sequence[Robot]) -> tuple[str, tuple[int, ...]]:
        """Reason no robot can ever take ``t`` (empty if some can) and the vehicles allowed."""
        if not robots:
            return "no robot in the fleet", ()
        need = t.handling.required_capabilities()
        equipped = [r for r in robots if need <= r.capabilities]
        if not equipped:
            return f"no robot with {describe_capabilities(need)}", ()
        roomy = [r for r in equipped if t.units <= r.capacity_units]
        if not roomy:
            biggest = max(r.capacity_units for r in equipped)
            return (
                f"no capacity: robots with {describe_capabilities(need)} hold at most {biggest} drawer units, "
                f"task needs {t.units}"
            ), ()
        working = [r for r in roomy if r.mode not in UNAVAILABLE_MODES]
        if not working:
            return "no suitable robot available (all in fault or lost)", ()
        charged = [r for r in working if r.battery_pct >= r.min_battery_pct]
        if not charged:
            return "every suitable robot is below its battery reserve (charging needed)", ()
        return "", tuple(self.vehicle_of[r.id] for r in charged)

    def _screen_trip(self, td: TaskData) -> str:
        """Reason the direct trip alone is impossible for every allowed vehicle (else '')."""
        if td.max_transit is not None:
            direct = min(
                td.service + self.T[self.vehicles[v].speed_class][td.pick_loc][td.drop_loc] for v in td.vehicles
            )
            if direct > td.max_transit:
                return f"cannot meet max transit: the direct trip takes {direct} s, the limit is {td.max_transit} s"
        ok = False
        for v in td.vehicles:
            veh = self.vehicles[v]
            if self.M[veh.start_loc][td.pick_loc] + self.M[td.pick_loc][td.drop_loc] <= veh.range_m:
                ok = True
                break
        if not ok:
            return "not enough battery: the trip is beyond every suitable robot's range above its reserve"
        return ""

    # ---- routes --------------------------------------------------------------------------------
    def location_of(self, code: int) -> int:
        td = self.tasks[code >> 1]
        return td.drop_loc if code & 1 else td.pick_loc

    def evaluate(self, v: int, seq: Sequence[int]) -> RouteEval | Fail:
        """Schedule ``seq`` on vehicle ``v`` (earliest times) or say why it cannot be driven."""
        veh = self.vehicles[v]
        T = self.T[veh.speed_class]
        M = self.M
        tasks = self.tasks
        n = len(seq)
        locs = [0] * n
        lb = [0] * n
        serv = [0] * n
        load = veh.load
        cap = veh.capacity
        dist = 0
        prev = veh.start_loc
        transit: list[tuple[int, int, int]] = []
        pick_pos: dict[int, int] = {}
        for i, code in enumerate(seq):
            k = code >> 1
            td = tasks[k]
            if code & 1:
                loc = td.drop_loc
                load -= td.units
                if td.max_transit is not None and k in pick_pos:
                    transit.append((pick_pos[k], i, td.max_transit))
            else:
                loc = td.pick_loc
                load += td.units
                lb[i] = td.earliest
                pick_pos[k] = i
                if load > cap:
                    return Fail.CAPACITY
            dist += M[prev][loc]
            prev = loc
            locs[i] = loc
            serv[i] = td.service
        if dist > veh.range_m:
            return Fail.BATTERY
        for pi, di, mt in transit:
            rigid = 0
            for i in range(pi, di):
                rigid += serv[i] + T[locs[i]][locs[i + 1]]
            if rigid > mt:
                return Fail.TRANSIT
        H = self.horizon
        times = [0] * n
        for _ in range(2 * len(transit) + 2):
            t = veh.start
            prev = veh.start_loc
            prev_serv = 0
            for i in range(n):
                arrive = t + prev_serv + T[prev][locs[i]]
                t = arrive if arrive > lb[i] else lb[i]
                times[i] = t
                prev = locs[i]
                prev_serv = serv[i]
            if n and t > H:
                return Fail.HORIZON
            changed = False
            for pi, di, mt in transit:
                if times[di] - times[pi] > mt:
                    lb[pi] = times[di] - mt
                    changed = True
            if not changed:
                break
        else:
            return Fail.TRANSIT
        travel = 0
        prev = veh.start_loc
        for i in range(n):
            travel += T[prev][locs[i]]
            prev = locs[i]
        cost = self.params.weights.travel_per_s * travel
        for i, code in enumerate(seq):
            td = tasks[code >> 1]
            if code & 1:
                late = times[i] - td.deadline
                if late > 0:
                    cost += td.late_w * late
            else:
                wait = times[i] - td.wait_from
                if wait > 0:
                    cost += td.wait_w * wait
        return RouteEval(times, travel, dist, cost)

    def route_cost(self, v: int, seq: Sequence[int]) -> int | None:
        ev = self.evaluate(v, seq)
        return ev.cost if isinstance(ev, RouteEval) else None

    def objective(self, routes: Sequence[Sequence[int]]) -> int:
        """Routing objective of ``routes`` (infeasible routes raise: callers repair first)."""
        served: set[int] = set()
        total = 0
        for v, seq in enumerate(routes):
            ev = self.evaluate(v, seq)
            if not isinstance(ev, RouteEval):
                raise AssertionError(f"route of vehicle {v} infeasible: {ev}")
            total += ev.cost
            served.update(c >> 1 for c in seq)
        total += sum(td.penalty for k, td in enumerate(self.tasks) if k not in served)
        total += sum(self.penalty_of(self.problem.task(tid)) for tid in self.reasons if tid not in self.task_index)
        return total

    def empty_routes(self) -> list[list[int]]:
        return [[] for _ in self.vehicles]

    def best_insertion(
        self, k: int, routes: Sequence[Sequence[int]], caches: dict[int, RouteCache] | None = None
    ) -> tuple[int, int, list[int]] | None:
        """Cheapest feasible insertion of task ``k``: (delta cost, vehicle, new route) or None.

        ``caches`` (vehicle → :class:`RouteCache` of ``routes[v]``) is filled as needed. With
        :attr:`candidate_limit` set and more allowed vehicles than that, only the vehicles that
        could reach the pickup earliest are tried (:meth:`insertion_candidates`), and the others
        only if none of those can take the task: a task is never left out because of pruning.
        """
        caches = {} if caches is None else caches
        allowed = self.tasks[k].vehicles
        limit = self.candidate_limit
        if limit is None or len(allowed) <= limit:
            return self._best_among(k, allowed, routes, caches)
        chosen = self.insertion_candidates(k, routes, caches, limit)
        best = self._best_among(k, chosen, routes, caches)
        if best is None:
            tried = set(chosen)
            best = self._best_among(k, [v for v in allowed if v not in tried], routes, caches)
        return best

    def _cache(self, v: int, routes: Sequence[Sequence[int]], caches: dict[int, RouteCache]) -> RouteCache | None:
        c = caches.get(v)
        if c is None or c.seq != routes[v]:
            c = build_cache(self, v, list(routes[v]))
            if c is None:
                return None
            caches[v] = c
        return c

    def _best_among(
        self, k: int, vehicles: Sequence[int], routes: Sequence[Sequence[int]], caches: dict[int, RouteCache]
    ) -> tuple[int, int, list[int]] | None:
        best: tuple[int, int, list[int]] | None = None
        for v in vehicles:
            c = self._cache(v, routes, caches)
            if c is None:
                continue
            found = best_in_route(self, c, k, best[0] if best is not None else None)
            if found is not None:
                best = (found[0], v, found[1])
        return best

    def insertion_candidates(
        self, k: int, routes: Sequence[Sequence[int]], caches: dict[int, RouteCache], limit: int
    ) -> list[int]:
        """The ``limit`` allowed vehicles that could start task ``k``'s pickup earliest, in vehicle order.

        A vehicle's key is a lower bound on when it could be at the pickup, over every place in
        its current route where the pickup fits its drawers: leaving its start, or any visit, at
        the plain schedule's time (:meth:`_anchors`; postponing a pickup for max transit only makes
        the real times later), plus the travel to the pickup from the travel matrix, no earlier
        than the task's earliest pickup. Ties go to the lower vehicle index, so the choice is
        deterministic. ``caches`` is not used (building a route cache for every vehicle is what
        pruning avoids); the argument keeps the signature of the other insertion helpers.
        """
        td = self.tasks[k]
        ploc, units, earliest = td.pick_loc, td.units, td.earliest
        keyed: list[tuple[int, int]] = []
        for v in td.vehicles:
            veh = self.vehicles[v]
            T = self.T[veh.speed_class]
            free = veh.capacity - units
            key = self.horizon + 1
            for dep, loc, load in self._anchors(v, routes[v]):
                if load <= free:
                    t = dep + T[loc][ploc]
                    if t < key:
                        key = t
            keyed.append((key if key > earliest else earliest, v))
        keyed.sort()
        return sorted(v for _, v in keyed[:limit])

    def _anchors(self, v: int, seq: Sequence[int]) -> list[tuple[int, int, int]]:
        """(departure, location, load after) of vehicle ``v``'s start and of each visit of ``seq``,
        on the plain earliest schedule (no max-transit postponement); cached per vehicle."""
        memo = self._anchor_memo.get(v)
        if memo is not None and memo[0] == seq:
            return memo[1]
        veh = self.vehicles[v]
        T = self.T[veh.speed_class]
        tasks = self.tasks
        t, prev, load = veh.start, veh.start_loc, veh.load
        out = [(t, prev, load)]
        for code in seq:
            td = tasks[code >> 1]
            if code & 1:
                loc = td.drop_loc
                load -= td.units
                arrive = t + T[prev][loc]
            else:
                loc = td.pick_loc
                load += td.units
                arrive = t + T[prev][loc]
                if arrive < td.earliest:
                    arrive = td.earliest
            t = arrive + td.service
            prev = loc
            out.append((t, loc, load))
        self._anchor_memo[v] = (list(seq), out)
        return out

    def insert_all(self, order: Sequence[int], routes: list[list[int]]) -> list[int]:
        """Insert tasks in ``order`` one by one at their cheapest place; returns the ones that fit nowhere."""
        caches: dict[int, RouteCache] = {}
        left: list[int] = []
        for k in order:
            if not self.tasks[k].vehicles:
                left.append(k)
                continue
            best = self.best_insertion(k, routes, caches)
            if best is None:
                left.append(k)
                continue
            _, v, cand = best
            routes[v] = cand
        return left

    def insert_regret(self, ks: Sequence[int], routes: list[list[int]]) -> list[int]:
        """Regret-2 insertion: repeatedly insert the task whose best place is most ahead of its
        second-best (one suitable robot only = infinite regret), at that best place.

        Sequential insertion in deadline order can give the one robot that could serve a STAT task
        on time to another STAT task that had alternatives; regret insertion does not. Per-vehicle
        insertion costs are cached and only the changed route is re-evaluated after each step.
        Returns the tasks that fit nowhere.
        """
        position = {k: i for i, k in enumerate(ks)}
        caches: dict[int, RouteCache] = {}

        def cache(v: int) -> RouteCache | None:
            c = caches.get(v)
            if c is None or c.seq != routes[v]:
                c = build_cache(self, v, list(routes[v]))
                if c is not None:
                    caches[v] = c
            return c

        options: dict[int, dict[int, tuple[int, list[int]] | None]] = {}
        for k in ks:
            options[k] = {}
            for v in self.tasks[k].vehicles:
                c = cache(v)
                options[k][v] = best_in_route(self, c, k, None) if c is not None else None
        remaining = set(ks)
        left: list[int] = []
        while remaining:
            chosen: tuple[tuple, int, int, list[int]] | None = None
            for k in remaining:
                found = sorted((opt[0], v, opt[1]) for v, opt in options[k].items() if opt is not None)
                if not found:
                    continue
                regret = found[1][0] - found[0][0] if len(found) > 1 else None
                rank = (regret is not None, -(regret or 0), found[0][0], position[k])
                if chosen is None or rank < chosen[0]:
                    chosen = (rank, k, found[0][1], found[0][2])
            if chosen is None:
                left.extend(sorted(remaining, key=position.__getitem__))
                break
            _, k, v, cand = chosen
            routes[v] = cand
            remaining.discard(k)
            c = cache(v)
            for k2 in remaining:
                if v in options[k2]:
                    options[k2][v] = best_in_route(self, c, k2, None) if c is not None else None
        return left

    def construct(self, ks: Sequence[int], routes: list[list[int]], seed: int = 0) -> list[int]:
        """Insert tasks ``ks`` into ``routes``: on-board drop-offs, then STAT tasks by regret, then
        the rest one by one in deadline order. Returns the tasks that fit nowhere."""
        order = self.insertion_order(ks, seed)
        onboard = [k for k in order if self.tasks[k].onboard is not None]
        stat = [k for k in order if self.tasks[k].onboard is None and self.tasks[k].task.priority is Priority.STAT]
        rest = [k for k in order if self.tasks[k].onboard is None and self.tasks[k].task.priority is not Priority.STAT]
        left = self.insert_all(onboard, routes)
        left += self.insert_regret(stat, routes)
        left += self.insert_all(rest, routes)
        return left

    def insertion_order(self, ks: Sequence[int], seed: int = 0) -> list[int]:
        """On-board drop-offs first, then by priority, deadline, earliest pickup, id.

        A non-zero seed shuffles routine tasks whose deadlines fall in the same 10-minute bucket:
        it diversifies the start of the search without giving up earliest-deadline-first (a full
        shuffle within each priority made STAT tasks late).
        """

        def key(k: int) -> tuple:
            t = self.tasks[k].task
            return (self.tasks[k].onboard is None, t.priority.rank, t.deadline_s, t.earliest_s, t.id)

        order = sorted(ks, key=key)
        if seed:
            rng = random.Random(seed)
            groups: dict[tuple, list[int]] = {}
            for k in order:
                onboard_last, rank, deadline = key(k)[:3]
                bucket = deadline // 600 if rank == Priority.ROUTINE.rank else (deadline, k)
                groups.setdefault((onboard_last, rank, bucket), []).append(k)
            order = []
            for g in sorted(groups):
                members = groups[g]
                rng.shuffle(members)
                order.extend(members)
        return order

    def relocate_late(self, routes: list[list[int]], only: Collection[int] | None = None) -> int:
        """Move each late task (most urgent first) to its cheapest place if that lowers the objective.

        A cheap repair after sequential insertion, which can strand a STAT task behind an earlier
        choice; returns how many tasks moved. ``only``: consider just these tasks.
        """
        moved = 0
        late: list[tuple[int, int]] = []
        for v, seq in enumerate(routes):
            ev = self.evaluate(v, seq)
            if not isinstance(ev, RouteEval):
                continue
            for code, t in zip(seq, ev.times, strict=True):
                td = self.tasks[code >> 1]
                if code & 1 and td.onboard is None and t > td.deadline and (only is None or code >> 1 in only):
                    late.append((td.task.priority.rank, code >> 1))
        for _, k in sorted(late):
            v = next(i for i, seq in enumerate(routes) if 2 * k in seq)
            before = self.route_cost(v, routes[v])
            without = [c for c in routes[v] if c >> 1 != k]
            after = self.route_cost(v, without)
            if before is None or after is None:
                continue
            trial = [list(r) for r in routes]
            trial[v] = without
            best = self.best_insertion(k, trial)
            if best is not None and best[0] + after < before:
                _, w, cand = best
                routes[v] = without
                routes[w] = cand
                moved += 1
        return moved

    def deadline_repair(self, routes: list[list[int]]) -> list[list[int]]:
        """``routes``, or better routes under the *real* deadlines when the margins made a task late.

        The margins move each drop-off's soft bound to ``deadline − margin``, which weighs a second
        of margin like a second past the deadline, so the search may give one task's real deadline
        for another's margin. When some drop-off is planned past its real deadline, each such task
        (most urgent first) is moved to its best place under the objective with no margins, and the
        result is kept if that objective (real deadlines, travel, waiting) went down.
        """
        margin = self.params.deadline_margin
        if not (margin.any and margin.repair):
            return routes
        # tasks with a margin planned past their real deadline (not overdue already: there the margin
        # changed nothing); at most REPAIR_LIMIT, most urgent first: the pass must stay cheap when
        # an overloaded fleet makes many tasks late whatever the margins
        late: list[tuple[int, int, int]] = []
        for v, seq in enumerate(routes):
            ev = self.evaluate(v, seq)
            if not isinstance(ev, RouteEval):
                return routes
            for code, t in zip(seq, ev.times, strict=True):
                td = self.tasks[code >> 1]
                due = self.real_deadline[td.task.id]
                if code & 1 and td.onboard is None and 0 < due < t and margin.of(td.task.priority) > 0:
                    late.append((td.task.priority.rank, due - t, code >> 1))
        if not late:
            return routes
        only = {k for _, _, k in sorted(late)[:REPAIR_LIMIT]}
        from scheduler.params import DeadlineMargin

        real = Instance(self.problem, self.params.replace(deadline_margin=DeadlineMargin(0, 0, 0)))
        trial = [list(r) for r in routes]
        if real.relocate_late(trial, only) and real.objective(trial) < real.objective(routes):
            return trial
        return routes

    def routes_from_plan(self, plan: Plan) -> list[list[int]]:
        """The previous plan's visits of tasks still open, per vehicle (consistent pairs only)."""
        routes = self.empty_routes()
        used: set[int] = set()
        for route in plan.routes:
            v = self.vehicle_of.get(route.robot_id)
            if v is None:
                continue
            seq: list[int] = []
            picked: set[int] = set()
            for s in route.stops:
                if s.task_id is None or s.task_id not in self.task_index:
                    continue
                k = self.task_index[s.task_id]
                td = self.tasks[k]
                if k in used or v not in td.vehicles:
                    continue
                if s.kind is StopKind.PICKUP and td.onboard is None and k not in picked:
                    picked.add(k)
                    seq.append(2 * k)
                elif s.kind is StopKind.DROPOFF and (k in picked or td.onboard == v):
                    seq.append(2 * k + 1)
                    used.add(k)
                    picked.discard(k)
            # a pickup whose drop-off went missing is dropped too
            routes[v] = [c for c in seq if (c >> 1) not in picked]
        return routes

    def repair(self, routes: list[list[int]]) -> list[int]:
        """Remove tasks from infeasible routes until each is feasible; returns the removed tasks."""
        removed: list[int] = []
        for v, seq in enumerate(routes):
            while seq and not isinstance(self.evaluate(v, seq), RouteEval):
                ks = [c >> 1 for c in seq]
                movable = [k for k in ks if self.tasks[k].onboard is None]
                victim = movable[-1] if movable else ks[-1]
                seq = [c for c in seq if c >> 1 != victim]
                removed.append(victim)
            routes[v] = seq
        return removed

    def served(self, routes: Sequence[Sequence[int]]) -> set[int]:
        return {c >> 1 for seq in routes for c in seq}

    # ---- diagnosis -----------------------------------------------------------------------------
    _FAIL_TEXT: ClassVar[dict[Fail, str]] = {
        Fail.CAPACITY: "no capacity: the drawers of every suitable robot are full",
        Fail.BATTERY: "not enough battery: the trip is beyond every suitable robot's range above its reserve",
        Fail.TRANSIT: "cannot meet max transit",
        Fail.HORIZON: "cannot be served within the planning horizon",
    }

    def diagnose(self, k: int, routes: Sequence[Sequence[int]]) -> str:
        """Why modelled task ``k`` is not in ``routes``, in words for people."""
        td = self.tasks[k]
        if td.task.id in self.reasons:
            return self.reasons[td.task.id]
        fails: Counter[Fail] = Counter()
        fits_alone = False
        for v in td.vehicles:
            base = [c for c in routes[v] if self.tasks[c >> 1].onboard is not None]
            alone = [2 * k + 1] if td.onboard is not None else [2 * k, 2 * k + 1]
            found: Fail | None = None
            for cand in (alone + base, base + alone):
                ev = self.evaluate(v, cand)
                if isinstance(ev, RouteEval):
                    fits_alone = True
                    break
                found = found or ev
            else:
                if found is not None:
                    fails[found] += 1
        if td.onboard is not None:
            robot = self.vehicles[td.onboard].robot.id
            why = self._FAIL_TEXT[fails.most_common(1)[0][0]] if fails else "no room in its route"
            return f"on board robot {robot} but its drop-off cannot be planned ({why}): items need recovery"
        if fits_alone:
            return "fleet saturated: every suitable robot is booked until the end of the planning horizon"
        if not fails:
            return "no suitable robot"
        top = fails.most_common(1)[0][0]
        return self._FAIL_TEXT[top]

    # ---- decoding ------------------------------------------------------------------------------
    def to_plan(self, routes: Sequence[Sequence[int]], solver: str) -> Plan:
        """Turn routes into a :class:`Plan` with absolute ETAs, charge stops and reasons."""
        now = self.now
        batt = self.params.battery
        out: list[RobotRoute] = []
        total = 0
        served = self.served(routes)
        for r in self.problem.robots:
            v = self.vehicle_of.get(r.id)
            if v is None:
                out.append(RobotRoute(r.id))
                continue
            seq = routes[v]
            ev = self.evaluate(v, seq)
            if not isinstance(ev, RouteEval):
                raise AssertionError(f"robot {r.id}: decoded route infeasible ({ev})")
            total += ev.cost
            veh = self.vehicles[v]
            stops: list[Stop] = []
            last_loc, last_free = veh.start_loc, veh.start
            for code, t in zip(seq, ev.times, strict=True):
                td = self.tasks[code >> 1]
                loc = self.location_of(code)
                stops.append(
                    Stop(
                        kind=StopKind.DROPOFF if code & 1 else StopKind.PICKUP,
                        location=self.locs[loc],
                        eta_s=now + t,
                        task_id=td.task.id,
                        departure_s=now + t + td.service,
                    )
                )
                last_loc, last_free = loc, t + td.service
            metres = ev.metres
            end_pct = r.battery_pct - r.consumption_pct_per_km * metres / 1000
            needs_charge = r.battery_pct < r.min_battery_pct or end_pct < batt.charge_below_pct
            if batt.plan_charge_stop and needs_charge and r.mode is not RobotMode.CHARGING:
                dock = self._dock_for(r, last_loc, veh.speed_class)
                reachable = dock is not None and (
                    r.consumption_pct_per_km * (metres + self.M[last_loc][dock]) / 1000 <= r.battery_pct
                )
                if dock is not None and reachable:
                    eta = last_free + self.T[veh.speed_class][last_loc][dock]
                    stops.append(Stop(StopKind.CHARGE, self.locs[dock], now + eta, None, None))
                    metres += self.M[last_loc][dock]
            out.append(RobotRoute(r.id, tuple(stops), metres))
        unassigned: dict[str, str] = {}
        for task in self.problem.tasks:
            k = self.task_index.get(task.id)
            if k is None:
                unassigned[task.id] = self.reasons[task.id]
                total += self.penalty_of(task)
            elif k not in served:
                unassigned[task.id] = self.diagnose(k, routes)
                total += self.tasks[k].penalty
        return Plan(routes=tuple(out), unassigned=unassigned, created_s=now, solver=solver, objective=total)

    def _dock_for(self, r: Robot, last_loc: int, speed_class: int) -> int | None:
        if r.home_dock:
            return self.loc_index[r.home_dock]
        if not self.problem.docks:
            return None
        T = self.T[speed_class]
        return min((self.loc_index[d] for d in self.problem.docks), key=lambda d: (T[last_loc][d], d))
