"""The independent feasibility checker: accepts good plans, rejects each kind of bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.lilim.checker import check

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "lilim" / "100"

# K=2, Q=50; requests 2 -> 4 (demand 7) and 3 -> 1 (demand 5; the delivery has the smaller id)
TINY = """2\t50\t1
0\t0\t0\t0\t0\t1000\t0\t0\t0
1\t10\t0\t-5\t0\t1000\t10\t3\t0
2\t0\t10\t7\t0\t1000\t10\t0\t4
3\t5\t5\t5\t0\t1000\t10\t0\t1
4\t0\t20\t-7\t0\t1000\t10\t2\t0
"""

# a 10-route plan of lc101 at the best-known value 828.9369 (found by our planner)
LC101_BKS_LIKE = [
    [5, 3, 7, 8, 10, 11, 9, 6, 4, 2, 1, 75],
    [13, 17, 18, 19, 15, 16, 14, 12],
    [20, 24, 25, 27, 29, 30, 28, 26, 23, 103, 22, 21],
    [32, 33, 31, 35, 37, 38, 39, 36, 105, 34],
    [43, 42, 41, 40, 44, 46, 45, 48, 51, 101, 50, 52, 49, 47],
    [57, 55, 54, 53, 56, 58, 60, 59],
    [67, 65, 63, 62, 74, 72, 61, 64, 102, 68, 66, 69],
    [81, 78, 104, 76, 71, 70, 73, 77, 79, 80],
    [90, 87, 86, 83, 82, 84, 85, 88, 89, 91],
    [98, 96, 95, 94, 92, 93, 97, 106, 100, 99],
]


def test_accepts_feasible_plans_and_measures_them() -> None:
    """One route per request and both requests on one route are feasible; distance is exact."""
    res = check(TINY, [[2, 4], [3, 1]])
    assert res.feasible, res.violations
    assert res.vehicles == 2
    assert res.distance == pytest.approx(10 + 10 + 20 + 50**0.5 + 50**0.5 + 10)
    assert check(TINY, [[2, 3, 4, 1], []]).feasible


@pytest.mark.skipif(not (DATA / "lc101.txt").is_file(), reason="shared Li & Lim data absent")
def test_accepts_a_best_known_like_lc101_plan() -> None:
    """A 10-vehicle lc101 plan of length 828.9369 (the best-known value) passes."""
    res = check((DATA / "lc101.txt").read_text(), LC101_BKS_LIKE)
    assert res.feasible, res.violations
    assert res.vehicles == 10
    assert res.distance == pytest.approx(828.9369, abs=1e-3)


@pytest.mark.parametrize(
    ("text", "routes", "match"),
    [
        (TINY.replace("2\t50\t1", "2\t10\t1"), [[2, 3, 4, 1]], "capacity: load 12 > 10"),
        (TINY.replace("4\t0\t20\t-7\t0\t1000", "4\t0\t20\t-7\t0\t15"), [[2, 4], [3, 1]], "task 4: time window"),
        (TINY.replace("0\t0\t0\t0\t0\t1000", "0\t0\t0\t0\t0\t60"), [[2, 3, 4, 1]], "back at the depot"),
        (TINY, [[4, 2], [3, 1]], "precedence"),
        (TINY, [[2, 1], [3, 4]], "split pair"),
        (TINY, [[2, 4]], "task 1: not served"),
        (TINY, [[2, 4], [3, 1, 3]], "visited more than once"),
        (TINY.replace("2\t50\t1", "1\t50\t1"), [[2, 4], [3, 1]], "fleet: 2 routes exceed the 1"),
        (TINY, [[2, 4], [3, 1, 9]], "not a task id"),
        (TINY, [[2, 4], [3, 1, 0]], "not a task id"),
    ],
)
def test_rejects_each_kind_of_infeasibility(text: str, routes: list[list[int]], match: str) -> None:
    """Capacity, windows, depot return, precedence, split pair, missing, duplicate, fleet, bad ids."""
    res = check(text, routes)
    assert not res.feasible
    assert any(match in v for v in res.violations), res.violations
