"""Where idle robots should wait: spread them over staging points in proportion to urgent demand.

A STAT request has a 15-minute promise, and on a campus of towers the trip itself (pickup, lifts,
corridors, drop-off, two hand-overs) takes 8–11 minutes. Whether it is on time is therefore
decided mostly by how far the nearest free robot is when it arrives. Robots left where their last
drop-off was pile up at the laboratory and the pharmacy (every specimen ends at the lab), far from
the wards and the ED where STAT specimens start. :func:`staging_targets` sends idle robots to
staging points in proportion to the expected urgent pickups there (e.g. one point per building,
weighted by its STAT pickups so far), so that a free robot is near wherever the next STAT starts.

Rules, chosen for stability (no robot shuttles between points):

* the idle robots are apportioned to the points by weight (largest remainder, ties by name);
* a robot already at a staging point stays there, whatever the quotas;
* the other idle robots fill the points still short of their quota, the globally closest
  (robot, point) pair first (ties by robot id, then point); robots left over stay where they are.

Pure and deterministic: the caller (the twin, or a fleet adapter) drives the robot there and
reports it to the dispatcher with ``RobotStateUpdate`` (location = the point, available from the
expected arrival), so the planner plans from where the robot will be.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def apportion(n: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split ``n`` robots over the points by weight (Hamilton's largest-remainder method)."""
    if n < 0:
        raise ValueError(f"n: must be at least 0, got {n}")
    bad = {p: w for p, w in weights.items() if not w >= 0}
    if bad:
        raise ValueError(f"weights: must be at least 0, got {bad}")
    total = sum(weights.values())
    if n == 0 or total <= 0:
        return dict.fromkeys(weights, 0)
    exact = {p: n * w / total for p, w in weights.items()}
    out = {p: int(x) for p, x in exact.items()}
    left = n - sum(out.values())
    for p in sorted(exact, key=lambda p: (-(exact[p] - out[p]), p))[:left]:
        out[p] += 1
    return out


def staging_targets(
    idle: Mapping[str, str],
    points: Mapping[str, float],
    travel_s: Callable[[str, str], float],
) -> dict[str, str]:
    """Where each idle robot should wait (see the module doc).

    ``idle``: robot id → where it is (or where it is already heading to wait); ``points``: staging
    location → weight (expected urgent pickups it covers); ``travel_s(a, b)``: seconds from a to b.
    Returns robot id → target; the target is the robot's own location when it should stay.
    """
    targets = dict(idle)
    quota = apportion(len(idle), points)
    movers: list[str] = []
    for rid in sorted(idle):
        if idle[rid] in points:
            quota[idle[rid]] -= 1  # it stays (may go below 0: no robot is pushed away)
        else:
            movers.append(rid)
    short = {p: q for p, q in quota.items() if q > 0}
    if not movers or not short:
        return targets
    pairs = sorted((travel_s(idle[rid], p), rid, p) for rid in movers for p in short)
    placed: set[str] = set()
    for _, rid, p in pairs:
        if rid in placed or short[p] <= 0:
            continue
        targets[rid] = p
        placed.add(rid)
        short[p] -= 1
        if len(placed) == len(movers) or not any(q > 0 for q in short.values()):
            break
    return targets
