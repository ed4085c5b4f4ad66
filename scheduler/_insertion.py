"""Fast cheapest insertion of one task into routes (the construction heuristic, warm-start
repair and the sub-200-ms STAT commit all use it).

Inserting a pickup before position ``i`` and its drop-off before position ``j`` of a route only
changes the schedule from ``i`` on, and only until the new times meet the old ones again (the
schedule is a max-plus recurrence: once a visit starts when it did before, all later ones do).
So each candidate costs O(changed visits), not O(route), and the cost of the unchanged parts
comes from prefix/suffix sums. A lower bound (extra travel + the new drop-off's lateness, since
later visits can only get later) prunes candidates before their suffix is simulated. When a
route has max-transit pairs, a candidate whose new times would break one falls back to the exact
evaluator (which postpones pickups as needed); it always gives the same cost as
:meth:`scheduler._model.Instance.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler._model import Instance


@dataclass(slots=True)
class RouteCache:
    """A feasible route with its schedule and running sums."""

    v: int
    seq: list[int]
    locs: list[int]
    serv: list[int]
    lb: list[int]
    times: list[int]
    dep: list[int]
    load_after: list[int]
    #: Time-cost per visit: weight · max(0, time − bound) (waiting at pickups, lateness at drop-offs).
    bound: list[int]
    weight: list[int]
    late: list[int]
    #: late_prefix[k] = Σ late[:k]; late_suffix[k] = Σ late[k:].
    late_prefix: list[int]
    late_suffix: list[int]
    travel: int
    dist: int
    cost: int
    #: Times follow the plain recurrence (no pickup postponed for max transit).
    plain: bool
    #: (pickup position, drop-off position, max transit) for pairs inside the route.
    transit: list[tuple[int, int, int]]


def build_cache(inst: Instance, v: int, seq: list[int]) -> RouteCache | None:
    """Cache of a route, or None if it is infeasible."""
    from scheduler._model import RouteEval

    ev = inst.evaluate(v, seq)
    if not isinstance(ev, RouteEval):
        return None
    veh = inst.vehicles[v]
    T = inst.T[veh.speed_class]
    tasks = inst.tasks
    n = len(seq)
    locs, serv, lb, late, load_after = [0] * n, [0] * n, [0] * n, [0] * n, [0] * n
    bound, weight = [0] * n, [0] * n
    transit: list[tuple[int, int, int]] = []
    pick_pos: dict[int, int] = {}
    load = veh.load
    for i, code in enumerate(seq):
        k = code >> 1
        td = tasks[k]
        serv[i] = td.service
        if code & 1:
            locs[i] = td.drop_loc
            load -= td.units
            bound[i], weight[i] = td.deadline, td.late_w
            if td.max_transit is not None and k in pick_pos:
                transit.append((pick_pos[k], i, td.max_transit))
        else:
            locs[i] = td.pick_loc
            load += td.units
            lb[i] = td.earliest
            bound[i], weight[i] = td.wait_from, td.wait_w
            pick_pos[k] = i
        over = ev.times[i] - bound[i]
        late[i] = weight[i] * over if over > 0 else 0
        load_after[i] = load
    times = ev.times
    dep = [times[i] + serv[i] for i in range(n)]
    plain = True
    t, prev, prev_serv = veh.start, veh.start_loc, 0
    for i in range(n):
        arrive = t + prev_serv + T[prev][locs[i]]
        t = arrive if arrive > lb[i] else lb[i]
        if t != times[i]:
            plain = False
            break
        prev, prev_serv = locs[i], serv[i]
    late_prefix = [0] * (n + 1)
    for i in range(n):
        late_prefix[i + 1] = late_prefix[i] + late[i]
    late_suffix = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        late_suffix[i] = late_suffix[i + 1] + late[i]
    return RouteCache(
        v,
        list(seq),
        locs,
        serv,
        lb,
        times,
        dep,
        load_after,
        bound,
        weight,
        late,
        late_prefix,
        late_suffix,
        ev.travel_s,
        ev.metres,
        ev.cost,
        plain,
        transit,
    )


def best_in_route(inst: Instance, c: RouteCache, k: int, bound: int | None) -> tuple[int, list[int]] | None:
    """Cheapest insertion of task ``k`` into cached route ``c`` with a cost increase below ``bound``.

    Returns (delta cost, new route) or None.
    """
    td = inst.tasks[k]
    if not c.plain:
        return _best_by_full_evaluation(inst, c, k, bound)
    veh = inst.vehicles[c.v]
    T = inst.T[veh.speed_class]
    M = inst.M
    H = inst.horizon
    tw = inst.params.weights.travel_per_s
    seq, locs, serv, lb, times, dep, load_after = c.seq, c.locs, c.serv, c.lb, c.times, c.dep, c.load_after
    t_bound, t_weight = c.bound, c.weight
    n = len(seq)
    pick_code, drop_code = 2 * k, 2 * k + 1
    ploc, dloc = td.pick_loc, td.drop_loc
    units, cap = td.units, veh.capacity
    s_task, w_late, deadline, mt = td.service, td.late_w, td.deadline, td.max_transit
    w_wait, earliest, wait_from = td.wait_w, td.earliest, td.wait_from
    start_loc, start = veh.start_loc, veh.start
    range_m = veh.range_m
    best_delta = bound
    best: tuple[int, int | None, int] | None = None  # (delta, i, j)
    fallback: list[tuple[int | None, int]] = []
    onboard = td.onboard is not None

    def suffix(j: int, t_dep: int, prev: int, shifted: list[int]) -> tuple[int, bool] | None:
        """Lateness from position j on and whether times converged; None if beyond the horizon."""
        acc = 0
        for q in range(j, n):
            arrive = t_dep + T[prev][locs[q]]
            t = arrive if arrive > lb[q] else lb[q]
            if t == times[q]:
                return acc + c.late_suffix[q], True
            shifted.append(t)
            over = t - t_bound[q]
            if over > 0:
                acc += t_weight[q] * over
            t_dep = t + serv[q]
            prev = locs[q]
        if n > j and shifted and shifted[-1] > H:
            return None
        return acc, False

    def transit_ok(i: int | None, j: int, tp: int | None, t_d: int, mid: list[int], suf: list[int]) -> bool:
        if mt is not None and tp is not None and t_d - tp > mt:
            return False
        if not c.transit:
            return True
        lo = i if i is not None else j

        def new_time(q: int) -> int:
            if q < lo:
                return times[q]
            if i is not None and q < j:
                return mid[q - i]
            off = q - j
            return suf[off] if off < len(suf) else times[q]

        return all(new_time(b) - new_time(a) <= lim for a, b, lim in c.transit)

    starts = [None] if onboard else range(n + 1)
    for i in starts:
        if i is None:
            # on-board drop-off: nothing before it changes
            js = range(n + 1)
            tp = None
            cost_p = 0
        else:
            a = locs[i - 1] if i else start_loc
            load_before = load_after[i - 1] if i else veh.load
            if load_before + units > cap:
                continue
            dep_a = dep[i - 1] if i else start
            arrive = dep_a + T[a][ploc]
            tp = arrive if arrive > earliest else earliest
            if tp > H:
                continue
            js = range(i, n + 1)
            cost_p = w_wait * (tp - wait_from) if tp > wait_from else 0
        # state just before the drop-off position j (only used when a pickup is inserted, i.e. i is not None)
        t_dep: int | None
        prev: int | None
        if i is None or tp is None:
            t_dep, prev = None, None
        else:
            t_dep, prev = tp + s_task, ploc
        mid: list[int] = []
        mid_late = 0
        for j in js:
            if i is None:
                prev_loc = locs[j - 1] if j else start_loc
                cur_dep = dep[j - 1] if j else start
            else:
                if t_dep is None or prev is None:
                    raise RuntimeError(f"insertion: no pickup state for pickup position {i}")
                prev_loc, cur_dep = prev, t_dep
            t_d = cur_dep + T[prev_loc][dloc]
            if t_d <= H:
                b = locs[j] if j < n else None
                # extra travel and distance
                if i is None:
                    a0 = locs[j - 1] if j else start_loc
                    d_trav = T[a0][dloc] + (T[dloc][b] - T[a0][b] if b is not None else 0)
                    d_dist = M[a0][dloc] + (M[dloc][b] - M[a0][b] if b is not None else 0)
                else:
                    a = locs[i - 1] if i else start_loc
                    if j == i:
                        d_trav = T[a][ploc] + T[ploc][dloc] + (T[dloc][b] - T[a][b] if b is not None else 0)
                        d_dist = M[a][ploc] + M[ploc][dloc] + (M[dloc][b] - M[a][b] if b is not None else 0)
                    else:
                        first, last = locs[i], locs[j - 1]
                        d_trav = T[a][ploc] + T[ploc][first] - T[a][first] + T[last][dloc]
                        d_dist = M[a][ploc] + M[ploc][first] - M[a][first] + M[last][dloc]
                        if b is not None:
                            d_trav += T[dloc][b] - T[last][b]
                            d_dist += M[dloc][b] - M[last][b]
                if c.dist + d_dist <= range_m:
                    over = t_d - deadline
                    late_d = w_late * over if over > 0 else 0
                    base_mid = (c.late_prefix[j] - c.late_prefix[i]) if i is not None else 0
                    lower = tw * d_trav + (mid_late - base_mid) + late_d + cost_p
                    if best_delta is None or lower < best_delta:
                        suf: list[int] = []
                        res = suffix(j, t_d + s_task, dloc, suf)
                        if res is not None:
                            suf_late, _ = res
                            head = c.late_prefix[i] if i is not None else c.late_prefix[j]
                            total_late = head + cost_p + mid_late + late_d + suf_late
                            delta = tw * d_trav + total_late - c.late_prefix[n]
                            if best_delta is None or delta < best_delta:
                                if transit_ok(i, j, tp, t_d, mid, suf):
                                    best_delta, best = delta, (delta, i, j)
                                else:
                                    fallback.append((i, j))
            if i is None or j == n:
                continue
            # carry the picked-up item through base position j
            if load_after[j] + units > cap:
                break
            # here prev_loc, cur_dep are this position's prev, t_dep (copied above as i is not None)
            arrive = cur_dep + T[prev_loc][locs[j]]
            t = arrive if arrive > lb[j] else lb[j]
            if t > H:
                break
            mid.append(t)
            over = t - t_bound[j]
            if over > 0:
                mid_late += t_weight[j] * over
            t_dep, prev = t + serv[j], locs[j]
    for i, j in fallback:
        cand = _splice(seq, i, j, pick_code, drop_code)
        cost = inst.route_cost(c.v, cand)
        if cost is not None and (best_delta is None or cost - c.cost < best_delta):
            best_delta, best = cost - c.cost, (cost - c.cost, i, j)
    if best is None:
        return None
    delta, i, j = best
    return delta, _splice(seq, i, j, pick_code, drop_code)


def _splice(seq: list[int], i: int | None, j: int, pick: int, drop: int) -> list[int]:
    if i is None:
        return [*seq[:j], drop, *seq[j:]]
    return [*seq[:i], pick, *seq[i:j], drop, *seq[j:]]


def _best_by_full_evaluation(inst: Instance, c: RouteCache, k: int, bound: int | None) -> tuple[int, list[int]] | None:
    td = inst.tasks[k]
    seq = c.seq
    n = len(seq)
    best: tuple[int, list[int]] | None = None
    pairs = (
        [(None, j) for j in range(n + 1)]
        if td.onboard is not None
        else [(i, j) for i in range(n + 1) for j in range(i, n + 1)]
    )
    for i, j in pairs:
        cand = _splice(seq, i, j, 2 * k, 2 * k + 1)
        cost = inst.route_cost(c.v, cand)
        if cost is None:
            continue
        delta = cost - c.cost
        if (bound is None or delta < bound) and (best is None or delta < best[0]):
            best = (delta, cand)
    return best
