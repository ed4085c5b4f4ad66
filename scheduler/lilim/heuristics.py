"""Pure-Python PDPTW heuristics: pair insertion, construction, route elimination, ruin and recreate.

They work on :class:`~scheduler.lilim.instance.Scaled` data (integer times, travel rounded up).
A route is a list of task ids that starts and ends with the depot ``0``. Each :class:`Route`
caches the earliest service start ``a[k]`` at every position, the latest start ``z[k]`` that
keeps the rest of the route feasible and the load ``ld[k]`` after every position, so checking a
pair insertion costs only the positions it shifts.

Two searches, both seeded and bounded by a :class:`Budget` (wall clock and/or step count):

* :func:`minimise_routes` — route elimination by guided ejection search (after Nagata &
  Kobayashi, 2010): drop the smallest route and reinsert its requests; when a request fits
  nowhere, insert it anyway by ejecting the cheapest set of at most ``k_max`` requests of one
  route, where a request's price grows each time it fails to fit, then perturb with a few
  random feasible relocations. After each route removed, a short ruin-and-recreate run tidies
  the solution (the perturbations leave it long and tight, which traps the later search).
* :func:`lns` — distance minimisation with the fleet fixed: string removals around a random seed
  task (after Christiaens & Vanden Berghe's SISR, 2020, removing whole pickup-delivery pairs),
  greedy reinsertion with blinks, simulated-annealing acceptance. Requests that cannot be
  reinserted wait in a penalised bank for a few iterations, which lets the search cross
  briefly infeasible states out of tight local optima. A route that empties out disappears, so
  this search can lower the vehicle count too.

Nothing here imports OR-Tools.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

from scheduler.lilim.instance import Scaled


class Budget:
    """Stop rule: a wall-clock deadline and/or a number of steps, whichever comes first.

    With ``steps`` set, :meth:`fraction` (used to cool the annealing) counts steps, so a run is
    reproducible for a given seed as long as the deadline does not fire first.
    """

    def __init__(self, deadline: float, steps: int | None = None) -> None:
        self.start = time.monotonic()
        self.deadline = deadline
        self.steps = steps
        self.done = 0

    def tick(self) -> bool:
        """Count one step; True while the budget lasts."""
        self.done += 1
        if self.steps is not None and self.done > self.steps:
            return False
        return time.monotonic() < self.deadline

    def expired(self) -> bool:
        if self.steps is not None and self.done >= self.steps:
            return True
        return time.monotonic() >= self.deadline

    def fraction(self) -> float:
        if self.steps is not None:
            return min(1.0, self.done / max(1, self.steps))
        span = self.deadline - self.start
        return 1.0 if span <= 0 else min(1.0, (time.monotonic() - self.start) / span)


class Route:
    """A depot-to-depot route with forward/backward time and load caches."""

    __slots__ = ("a", "cost", "ld", "nodes", "z")

    def __init__(self, nodes: list[int], sc: Scaled) -> None:
        self.nodes = nodes
        self.a: list[int] = []
        self.z: list[int] = []
        self.ld: list[int] = []
        self.cost = 0
        self.update(sc)

    def update(self, sc: Scaled) -> None:
        """Recompute the caches after ``nodes`` changed."""
        nodes = self.nodes
        T, ready, due, dem, C = sc.time, sc.ready, sc.due, sc.demand, sc.cost
        n = len(nodes)
        a = [0] * n
        ld = [0] * n
        t = ready[0]
        a[0] = t
        load = 0
        cost = 0
        prev = 0
        for k in range(1, n):
            v = nodes[k]
            t += T[prev][v]
            r = ready[v]
            if t < r:
                t = r
            a[k] = t
            load += dem[v]
            ld[k] = load
            cost += C[prev][v]
            prev = v
        z = [0] * n
        lt = due[0]
        z[n - 1] = lt
        nxt = 0
        for k in range(n - 2, -1, -1):
            v = nodes[k]
            lt -= T[v][nxt]
            dv = due[v]
            if lt > dv:
                lt = dv
            z[k] = lt
            nxt = v
        self.a, self.z, self.ld, self.cost = a, z, ld, cost

    def clone(self) -> Route:
        c = Route.__new__(Route)
        c.nodes, c.a, c.z, c.ld, c.cost = list(self.nodes), self.a, self.z, self.ld, self.cost
        return c

    def requests(self, sc: Scaled) -> list[int]:
        """Pickups on this route."""
        dof = sc.delivery_of
        return [v for v in self.nodes[1:-1] if dof[v] > 0]


def pair_insertions(sc: Scaled, route: Route, p: int, d: int) -> list[tuple[int, int, int]]:
    """Feasible ways to insert request (p, d) into ``route``.

    Each is ``(delta_cost, i, j)``: p goes after position i and d after position j of the current
    route (j >= i; j == i puts d right after p). Loops stop early using that start times only grow
    along a route (travel times obey the triangle inequality).
    """
    nodes, a, z, ld = route.nodes, route.a, route.z, route.ld
    T, C, ready, due = sc.time, sc.cost, sc.ready, sc.due
    cap = sc.capacity - sc.demand[p]
    rp, dp, rd, dd = ready[p], due[p], ready[d], due[d]
    Td, Cp, Cd = T[d], C[p], C[d]
    Tpd, Cpd = T[p][d], Cp[d]
    out: list[tuple[int, int, int]] = []
    last = len(nodes) - 1
    for i in range(last):
        if ld[i] > cap:
            continue
        u = nodes[i]
        tp = a[i] + T[u][p]
        if tp < rp:
            tp = rp
        if tp > dp:
            break
        w = nodes[i + 1]
        Cu = C[u]
        td = tp + Tpd
        if td < rd:
            td = rd
        if td <= dd and td + Td[w] <= z[i + 1]:
            out.append((Cu[p] + Cpd + Cd[w] - Cu[w], i, i))
        base = Cu[p] + Cp[w] - Cu[w]
        t = tp
        prev = p
        for j in range(i + 1, last):
            v = nodes[j]
            t += T[prev][v]
            if t < ready[v]:
                t = ready[v]
            if t > z[j] or ld[j] > cap:
                break
            td = t + T[v][d]
            if td < rd:
                td = rd
            if td > dd:
                break
            w2 = nodes[j + 1]
            if td + Td[w2] <= z[j + 1]:
                Cv = C[v]
                out.append((base + Cv[d] + Cd[w2] - Cv[w2], i, j))
            prev = v
    return out


def best_insertion(
    sc: Scaled,
    route: Route,
    p: int,
    d: int,
    bound: float = math.inf,
    rand: Callable[[], float] | None = None,
    blink: float = 0.0,
) -> tuple[int, int, int] | None:
    """Cheapest feasible insertion of (p, d) into ``route`` costing less than ``bound``, or None.

    Same moves as :func:`pair_insertions`; with ``rand`` each would-be best candidate is skipped
    ("blinks") with probability ``blink``. (A cost bound that prunes the inner loop was tried and
    was slower in CPython: precomputing it costs more than the loop it saves.)
    """
    nodes, a, z, ld = route.nodes, route.a, route.z, route.ld
    T, C, ready, due = sc.time, sc.cost, sc.ready, sc.due
    cap = sc.capacity - sc.demand[p]
    rp, dp, rd, dd = ready[p], due[p], ready[d], due[d]
    Td, Cp, Cd = T[d], C[p], C[d]
    Tpd, Cpd = T[p][d], Cp[d]
    last = len(nodes) - 1
    best: tuple[int, int, int] | None = None
    bestc = bound
    use_blink = rand is not None and blink > 0
    for i in range(last):
        if ld[i] > cap:
            continue
        u = nodes[i]
        tp = a[i] + T[u][p]
        if tp < rp:
            tp = rp
        if tp > dp:
            break
        w = nodes[i + 1]
        Cu = C[u]
        td = tp + Tpd
        if td < rd:
            td = rd
        if td <= dd and td + Td[w] <= z[i + 1]:
            c = Cu[p] + Cpd + Cd[w] - Cu[w]
            if c < bestc and not (use_blink and rand() < blink):  # type: ignore[misc]
                best = (c, i, i)
                bestc = c
        pc = Cu[p] + Cp[w] - Cu[w]
        t = tp
        prev = p
        for j in range(i + 1, last):
            v = nodes[j]
            t += T[prev][v]
            if t < ready[v]:
                t = ready[v]
            if t > z[j] or ld[j] > cap:
                break
            td = t + T[v][d]
            if td < rd:
                td = rd
            if td > dd:
                break
            w2 = nodes[j + 1]
            if td + Td[w2] <= z[j + 1]:
                Cv = C[v]
                c = pc + Cv[d] + Cd[w2] - Cv[w2]
                if c < bestc and not (use_blink and rand() < blink):  # type: ignore[misc]
                    best = (c, i, j)
                    bestc = c
            prev = v
    return best


def insert_pair(nodes: list[int], p: int, d: int, i: int, j: int) -> list[int]:
    """New node list with p after position i and d after position j (positions of ``nodes``)."""
    if i == j:
        return [*nodes[: i + 1], p, d, *nodes[i + 1 :]]
    return [*nodes[: i + 1], p, *nodes[i + 1 : j + 1], d, *nodes[j + 1 :]]


@dataclass
class Solution:
    """A list of routes; empty routes are dropped by :meth:`drop_empty`."""

    sc: Scaled
    routes: list[Route] = field(default_factory=list)

    @classmethod
    def from_lists(cls, sc: Scaled, routes: list[list[int]]) -> Solution:
        return cls(sc, [Route([0, *r, 0], sc) for r in routes if r])

    @property
    def cost(self) -> int:
        return sum(r.cost for r in self.routes)

    @property
    def vehicles(self) -> int:
        return sum(1 for r in self.routes if len(r.nodes) > 2)

    def copy(self) -> Solution:
        return Solution(self.sc, [r.clone() for r in self.routes])

    def as_lists(self) -> list[list[int]]:
        return [r.nodes[1:-1] for r in self.routes if len(r.nodes) > 2]

    def drop_empty(self) -> None:
        self.routes = [r for r in self.routes if len(r.nodes) > 2]

    def better_than(self, other: Solution) -> bool:
        """Hierarchical objective: fewer vehicles, then lower cost."""
        return (self.vehicles, self.cost) < (other.vehicles, other.cost)


def _best_over_routes(
    sc: Scaled,
    routes: list[Route],
    p: int,
    d: int,
    rand: Callable[[], float] | None = None,
    blink: float = 0.0,
) -> tuple[int, int, int, int] | None:
    """Cheapest feasible insertion over all routes: (cost, route index, i, j)."""
    best: tuple[int, int, int, int] | None = None
    bound: float = math.inf
    for ri, r in enumerate(routes):
        b = best_insertion(sc, r, p, d, bound, rand, blink)
        if b is not None:
            bound = b[0]
            best = (b[0], ri, b[1], b[2])
    return best


def _remove_request(sc: Scaled, route: Route, p: int) -> None:
    d = sc.delivery_of[p]
    route.nodes = [v for v in route.nodes if v != p and v != d]
    route.update(sc)


def _apply(sc: Scaled, route: Route, p: int, d: int, i: int, j: int) -> None:
    route.nodes = insert_pair(route.nodes, p, d, i, j)
    route.update(sc)


def construct(sc: Scaled, rng: random.Random) -> Solution:
    """Cheapest feasible insertion in random request order, opening a route when nothing fits."""
    pairs = list(sc.pairs)
    rng.shuffle(pairs)
    sol = Solution(sc)
    for p, d in pairs:
        best = _best_over_routes(sc, sol.routes, p, d)
        if best is None:
            sol.routes.append(Route([0, p, d, 0], sc))
        else:
            _, ri, i, j = best
            _apply(sc, sol.routes[ri], p, d, i, j)
    return sol


# --------------------------------------------------------------------------- lower bound


def _sequence_feasible(sc: Scaled, seq: tuple[int, ...]) -> bool:
    T, ready, due, dem = sc.time, sc.ready, sc.due, sc.demand
    t = ready[0]
    load = 0
    prev = 0
    for v in seq:
        t = max(t + T[prev][v], ready[v])
        if t > due[v]:
            return False
        load += dem[v]
        if load > sc.capacity:
            return False
        prev = v
    return t + T[prev][0] <= due[0]


def vehicle_lower_bound(sc: Scaled) -> int:
    """A valid lower bound on the number of routes.

    The larger of the load bound and a clique of pairwise incompatible requests (no order of
    their four tasks fits one route), the clique grown greedily from every request.
    """
    pairs = sc.pairs
    m = len(pairs)
    if m == 0:
        return 0
    compatible = [[False] * m for _ in range(m)]
    for x in range(m):
        pa, da = pairs[x]
        for y in range(x + 1, m):
            pb, db = pairs[y]
            orders = (
                (pa, da, pb, db),
                (pa, pb, da, db),
                (pa, pb, db, da),
                (pb, db, pa, da),
                (pb, pa, db, da),
                (pb, pa, da, db),
            )
            ok = any(_sequence_feasible(sc, o) for o in orders)
            compatible[x][y] = compatible[y][x] = ok
    best = 1
    for start in range(m):
        clique = [start]
        cand = [y for y in range(m) if y != start and not compatible[start][y]]
        while cand:
            y = max(cand, key=lambda c: sum(1 for o in cand if o != c and not compatible[c][o]))
            clique.append(y)
            cand = [o for o in cand if o != y and not compatible[y][o]]
        best = max(best, len(clique))
    total = sum(sc.demand[p] for p, _ in pairs)
    return max(best, -(-total // sc.capacity))


# --------------------------------------------------------------------------- ruin and recreate


@dataclass(frozen=True)
class LnsParams:
    """Ruin-and-recreate parameters; temperatures and the bank penalty are in distance units."""

    avg_removed: int = 25
    max_string: int = 10
    blink: float = 0.01
    t_start: float = 30.0
    t_end: float = 0.3
    bank_penalty: float = 100.0
    bank_patience: int = 30

    def __post_init__(self) -> None:
        if self.avg_removed < 1:
            raise ValueError("Expected avg_removed >= 1.")
        if self.max_string < 1:
            raise ValueError("Expected max_string >= 1.")
        if not 0 <= self.blink < 1:
            raise ValueError("Expected blink in [0, 1).")
        if not self.t_start >= self.t_end > 0:
            raise ValueError("Expected t_start >= t_end > 0.")
        if self.bank_penalty < 0:
            raise ValueError("Expected bank_penalty >= 0.")
        if self.bank_patience < 0:
            raise ValueError("Expected bank_patience >= 0.")


def neighbour_lists(sc: Scaled) -> list[list[int]]:
    """For every task, all tasks by increasing distance."""
    C = sc.cost
    return [sorted(range(1, sc.n), key=C[i].__getitem__) for i in range(sc.n)]


def _ruin(
    sc: Scaled,
    routes: list[Route],
    rng: random.Random,
    params: LnsParams,
    neighbours: list[list[int]],
) -> list[int]:
    """Remove strings from routes near a random seed task; return the removed requests' pickups."""
    dof, pof = sc.delivery_of, sc.pickup_of
    route_of = [-1] * sc.n
    for ri, r in enumerate(routes):
        for v in r.nodes[1:-1]:
            route_of[v] = ri
    avg_len = sum(len(r.nodes) - 2 for r in routes) / max(1, len(routes))
    lmax = min(params.max_string, avg_len)
    ks_max = 4 * params.avg_removed / (1 + lmax) - 1
    k_routes = int(rng.uniform(1, ks_max + 1))
    seed = rng.randrange(1, sc.n)
    ruined: set[int] = set()
    removed: dict[int, None] = {}  # insertion-ordered set of pickups
    for v in neighbours[seed]:
        if len(ruined) >= k_routes:
            break
        ri = route_of[v]
        if ri < 0 or ri in ruined:
            continue
        ruined.add(ri)
        nodes = routes[ri].nodes
        size = len(nodes) - 2
        length = int(rng.uniform(1, min(lmax, size) + 1))
        pos = nodes.index(v)
        lo = rng.randint(max(1, pos - length + 1), min(pos, size - length + 1))
        for w in nodes[lo : lo + length]:
            removed[w if dof[w] > 0 else pof[w]] = None
    gone = set(removed)
    gone.update(dof[p] for p in removed)
    for ri in {route_of[v] for v in gone}:
        r = routes[ri]
        r.nodes = [v for v in r.nodes if v not in gone]
        r.update(sc)
    return list(removed)


def _recreate(sc: Scaled, routes: list[Route], order: list[int], rng: random.Random, blink: float) -> list[int]:
    """Greedy cheapest insertion with blinks; return the pickups that fit nowhere."""
    dof = sc.delivery_of
    bank: list[int] = []
    for p in order:
        d = dof[p]
        best = _best_over_routes(sc, routes, p, d, rng.random, blink)
        if best is None:
            bank.append(p)
        else:
            _, ri, i, j = best
            _apply(sc, routes[ri], p, d, i, j)
    return bank


def _sort_removed(sc: Scaled, removed: list[int], rng: random.Random) -> None:
    C, dof = sc.cost, sc.delivery_of
    mode = rng.randrange(4)
    if mode == 0:
        rng.shuffle(removed)
    elif mode == 1:  # far from the depot first
        removed.sort(key=lambda p: -(C[0][p] + C[0][dof[p]]))
    elif mode == 2:  # tightest pickup-to-delivery span first
        removed.sort(key=lambda p: sc.due[dof[p]] - sc.ready[p])
    else:  # largest demand first
        removed.sort(key=lambda p: -sc.demand[p])


@dataclass
class LnsStats:
    iterations: int = 0
    banked: int = 0
    improvements: int = 0


def lns(
    sc: Scaled,
    sol: Solution,
    rng: random.Random,
    budget: Budget,
    params: LnsParams | None = None,
    neighbours: list[list[int]] | None = None,
    stats: LnsStats | None = None,
) -> Solution:
    """Lower the distance of ``sol`` without adding routes; the best solution found.

    A recreate that leaves requests over is accepted (annealing on distance plus
    ``bank_penalty`` per banked request) so the search can pass through briefly infeasible
    states; banked requests are reinserted first in the next iterations, and if the bank has not
    emptied after ``bank_patience`` iterations the search returns to its last bank-free state.
    """
    params = params or LnsParams()
    neighbours = neighbours or neighbour_lists(sc)
    stats = stats if stats is not None else LnsStats()
    scale = sc.scale
    penalty = params.bank_penalty * scale
    t0, t1 = params.t_start * scale, params.t_end * scale
    cur = sol.copy()
    cur.drop_empty()
    if not cur.routes:
        return cur
    cur_bank: list[int] = []
    cur_cost: float = cur.cost
    best = cur.copy()
    anchor, anchor_cost = cur, cur_cost  # last bank-free current solution
    banked_for = 0
    while budget.tick():
        stats.iterations += 1
        temp = t0 * (t1 / t0) ** budget.fraction()
        work = cur.copy()
        removed = _ruin(sc, work.routes, rng, params, neighbours)
        _sort_removed(sc, removed, rng)
        bank = _recreate(sc, work.routes, cur_bank + removed, rng, params.blink)
        if bank:
            stats.banked += 1
        if not bank or penalty > 0:
            work.drop_empty()
            new_cost = work.cost + penalty * len(bank)
            if new_cost < cur_cost - temp * math.log(1.0 - rng.random()):
                cur, cur_cost, cur_bank = work, new_cost, bank
                if not bank:
                    anchor, anchor_cost = cur, cur_cost
                    if cur.better_than(best):
                        best = cur.copy()
                        stats.improvements += 1
        if cur_bank:
            banked_for += 1
            if banked_for > params.bank_patience:
                cur, cur_cost, cur_bank = anchor, anchor_cost, []
                banked_for = 0
        else:
            banked_for = 0
    return best


# --------------------------------------------------------------------------- route elimination


@dataclass(frozen=True)
class ElimParams:
    """Guided-ejection-search parameters: ejection size, random relocations after an ejection, and
    the ruin-and-recreate steps that tidy the plan after each route removed."""

    k_max: int = 2
    perturb_moves: int = 10
    clean_steps: int = 200
    clean_lns: LnsParams = field(default_factory=LnsParams)

    def __post_init__(self) -> None:
        if not 1 <= self.k_max <= 3:
            raise ValueError("Expected k_max in [1, 3].")
        if self.perturb_moves < 0:
            raise ValueError("Expected perturb_moves >= 0.")
        if self.clean_steps < 0:
            raise ValueError("Expected clean_steps >= 0.")


def _insert_best(sc: Scaled, sol: Solution, p: int, d: int) -> bool:
    best = _best_over_routes(sc, sol.routes, p, d)
    if best is None:
        return False
    _, ri, i, j = best
    _apply(sc, sol.routes[ri], p, d, i, j)
    return True


def _eject_insert(
    sc: Scaled, sol: Solution, p: int, d: int, penalty: list[int], rng: random.Random, k_max: int
) -> list[int] | None:
    """Insert (p, d) into one route after ejecting at most ``k_max`` of its requests, choosing the
    ejection of least total penalty (random among ties). Returns the ejected pickups, or None."""
    dof = sc.delivery_of
    rand = rng.random
    cands: list[tuple[int, float, int, tuple[int, ...]]] = []
    for ri, r in enumerate(sol.routes):
        reqs = r.requests(sc)
        cands.extend((penalty[g], rand(), ri, (g,)) for g in reqs)
        if k_max >= 2:
            cands.extend((penalty[g] + penalty[h], rand(), ri, (g, h)) for g, h in combinations(reqs, 2))
        if k_max >= 3:
            cands.extend(
                (penalty[g] + penalty[h] + penalty[k], rand(), ri, (g, h, k)) for g, h, k in combinations(reqs, 3)
            )
    cands.sort()
    for _, _, ri, combo in cands:
        gone = set(combo)
        gone.update(dof[g] for g in combo)
        trial = Route([v for v in sol.routes[ri].nodes if v not in gone], sc)
        best = best_insertion(sc, trial, p, d)
        if best is not None:
            _apply(sc, trial, p, d, best[1], best[2])
            sol.routes[ri] = trial
            return list(combo)
    return None


def _perturb(sc: Scaled, sol: Solution, moves: int, rng: random.Random) -> None:
    """Random feasible pair relocations between routes (diversification)."""
    routes = sol.routes
    if len(routes) < 2:
        return
    dof = sc.delivery_of
    for _ in range(moves):
        src = rng.randrange(len(routes))
        reqs = routes[src].requests(sc)
        if not reqs:
            continue
        p = rng.choice(reqs)
        dst = rng.randrange(len(routes) - 1)
        if dst >= src:
            dst += 1
        ins = pair_insertions(sc, routes[dst], p, dof[p])
        if not ins:
            continue
        _, i, j = rng.choice(ins)
        _apply(sc, routes[dst], p, dof[p], i, j)
        _remove_request(sc, routes[src], p)


def eliminate_route(
    sc: Scaled, sol: Solution, rng: random.Random, budget: Budget, params: ElimParams
) -> Solution | None:
    """Serve every request with one route fewer: the new solution, or None if the budget runs out."""
    work = sol.copy()
    work.drop_empty()
    if not work.routes:
        return None
    _, _, victim = min((len(r.nodes), rng.random(), k) for k, r in enumerate(work.routes))
    pool = work.routes[victim].requests(sc)
    rng.shuffle(pool)
    del work.routes[victim]
    penalty = [1] * sc.n
    dof = sc.delivery_of
    while pool:
        if not budget.tick():
            return None
        p = pool.pop()
        d = dof[p]
        if _insert_best(sc, work, p, d):
            continue
        penalty[p] += 1
        ejected = _eject_insert(sc, work, p, d, penalty, rng, params.k_max)
        if ejected is None:
            pool.insert(0, p)
        else:
            pool.extend(ejected)
        _perturb(sc, work, params.perturb_moves, rng)
    work.drop_empty()
    return work


def minimise_routes(
    sc: Scaled,
    sol: Solution,
    rng: random.Random,
    budget: Budget,
    lower_bound: int,
    params: ElimParams | None = None,
    on_progress: Callable[[Solution], None] | None = None,
) -> Solution:
    """Eliminate routes one at a time until ``lower_bound`` is reached or the budget runs out.

    (Restarting long elimination attempts with fresh penalties was tried and made it slower:
    the penalties learnt in a long attempt are what eventually makes it succeed.)
    """
    params = params or ElimParams()
    best = sol
    neighbours = neighbour_lists(sc) if params.clean_steps else None
    while best.vehicles > lower_bound and not budget.expired():
        nxt = eliminate_route(sc, best, rng, budget, params)
        if nxt is None:
            break
        if params.clean_steps:
            clean = Budget(budget.deadline, params.clean_steps)
            nxt = lns(sc, nxt, rng, clean, params.clean_lns, neighbours)
        best = nxt
        if on_progress:
            on_progress(best)
    return best
