"""The independent plan checker: it accepts a correct hand-made plan and flags each broken rule."""

from __future__ import annotations

import dataclasses

import pytest

from hospital_ops.domain import (
    Capability,
    DeliveryTask,
    Handling,
    Plan,
    Priority,
    Robot,
    RobotMode,
    RobotRoute,
    Stop,
    StopKind,
)
from scheduler import MatrixTravel, Problem, check_plan

NOW = 1_000_000
# PH (0,0) — W1 (0,200) — DOCK (50,50): PH→W1 200 m, DOCK→PH 100 m, at 1 m/s 1 s per metre
GRID = MatrixTravel.grid({"PH": (0, 0), "W1": (0, 200), "W2": (200, 200), "DOCK": (50, 50)})
P, D, C = StopKind.PICKUP, StopKind.DROPOFF, StopKind.CHARGE


def _task(tid: str = "T1", **kw: object) -> DeliveryTask:
    base = {"pickup": "PH", "dropoff": "W1", "priority": Priority.ROUTINE, "earliest_s": NOW, "deadline_s": NOW + 1000}
    base.update(kw)
    return DeliveryTask(id=tid, **base)  # type: ignore[arg-type]


def _robot(rid: str = "R1", **kw: object) -> Robot:
    base = {"location": "DOCK", "available_s": NOW}
    base.update(kw)
    return Robot(id=rid, **base)  # type: ignore[arg-type]


def _problem(tasks: list[DeliveryTask], robots: list[Robot]) -> Problem:
    return Problem(tuple(tasks), tuple(robots), NOW, GRID)


def _good_route(rid: str = "R1", tid: str = "T1") -> RobotRoute:
    # DOCK -> PH: 100 s, service 60, PH -> W1: 200 s
    return RobotRoute(
        rid,
        (
            Stop(P, "PH", NOW + 100, tid, NOW + 160),
            Stop(D, "W1", NOW + 360, tid, NOW + 420),
        ),
        300,
    )


def _codes(problem: Problem, plan: Plan) -> set[str]:
    return {v.code for v in check_plan(problem, plan).violations}


def test_a_correct_plan_passes_and_lateness_is_reported() -> None:
    """A hand-checked plan has no violations; lateness is per task (0 when on time)."""
    p = _problem([_task()], [_robot()])
    report = check_plan(p, Plan((_good_route(),)))
    assert report.ok, report.summary()
    assert report.lateness_s == {"T1": 0}
    late = check_plan(_problem([_task(deadline_s=NOW + 300)], [_robot()]), Plan((_good_route(),)))
    assert late.ok and late.lateness_s == {"T1": 60}


def test_a_task_neither_routed_nor_unassigned_is_flagged() -> None:
    """Silently dropping a task is a violation; reporting it unassigned with a reason is fine."""
    p = _problem([_task()], [_robot()])
    assert "pairing" in _codes(p, Plan((RobotRoute("R1"),)))
    assert check_plan(p, Plan((RobotRoute("R1"),), unassigned={"T1": "no robot with locked drawers"})).ok
    assert "pairing" in _codes(p, Plan((RobotRoute("R1"),), unassigned={"T1": " "}))
    assert "pairing" in _codes(p, Plan((_good_route(),), unassigned={"T1": "both"}))


def test_dropoff_before_pickup_is_a_precedence_violation() -> None:
    """Swapping pickup and drop-off is caught."""
    p = _problem([_task()], [_robot()])
    swapped = RobotRoute(
        "R1", (Stop(D, "W1", NOW + 250, "T1", NOW + 310), Stop(P, "PH", NOW + 510, "T1", NOW + 570)), 450
    )
    assert "precedence" in _codes(p, Plan((swapped,)))


def test_pickup_and_dropoff_on_different_robots_is_flagged() -> None:
    """Both ends of a task must be on the same robot."""
    p = _problem([_task()], [_robot("R1"), _robot("R2", location="PH")])
    r1 = RobotRoute("R1", (Stop(P, "PH", NOW + 100, "T1", NOW + 160),), 100)
    r2 = RobotRoute("R2", (Stop(D, "W1", NOW + 200, "T1", NOW + 260),), 200)
    assert "same_robot" in _codes(p, Plan((r1, r2)))


def test_capacity_overflow_is_flagged() -> None:
    """Drawer units on board above capacity are caught."""
    tasks = [_task("A", units=3), _task("B", units=2)]
    p = _problem(tasks, [_robot(capacity_units=4)])
    route = RobotRoute(
        "R1",
        (
            Stop(P, "PH", NOW + 100, "A", NOW + 160),
            Stop(P, "PH", NOW + 160, "B", NOW + 220),
            Stop(D, "W1", NOW + 420, "A", NOW + 480),
            Stop(D, "W1", NOW + 480, "B", NOW + 540),
        ),
        300,
    )
    assert "capacity" in _codes(p, Plan((route,)))


def test_controlled_item_on_a_plain_robot_is_flagged() -> None:
    """A controlled substance on a robot without locked drawers is a compatibility violation."""
    p = _problem([_task(handling=Handling(controlled=True))], [_robot(capabilities=frozenset())])
    assert "compatibility" in _codes(p, Plan((_good_route(),)))
    cold = _problem(
        [_task(handling=Handling(cold_chain=True))], [_robot(capabilities=frozenset({Capability.LOCKED_DRAWERS}))]
    )
    assert "compatibility" in _codes(cold, Plan((_good_route(),)))


def test_max_transit_exceeded_is_flagged() -> None:
    """Drop-off ETA minus pickup ETA above the max transit is caught."""
    p = _problem([_task(handling=Handling(max_transit_s=200))], [_robot()])
    assert "max_transit" in _codes(p, Plan((_good_route(),)))


def test_eta_faster_than_travel_is_flagged() -> None:
    """An ETA that would need faster-than-possible travel is caught (speed taken into account)."""
    p = _problem([_task()], [_robot()])
    fast = RobotRoute("R1", (Stop(P, "PH", NOW + 50, "T1", NOW + 110), Stop(D, "W1", NOW + 310, "T1", NOW + 370)), 300)
    assert "eta" in _codes(p, Plan((fast,)))
    quick_robot = _problem([_task()], [_robot(speed_mps=2.0)])
    assert check_plan(quick_robot, Plan((fast,))).ok


def test_service_time_must_be_covered() -> None:
    """Leaving before the hand-over is done (departure < ETA + service) is caught."""
    p = _problem([_task()], [_robot()])
    rushed = RobotRoute(
        "R1", (Stop(P, "PH", NOW + 100, "T1", NOW + 120), Stop(D, "W1", NOW + 360, "T1", NOW + 420)), 300
    )
    assert "eta" in _codes(p, Plan((rushed,)))


def test_pickup_before_earliest_is_flagged() -> None:
    """Picking up before the earliest time is caught."""
    p = _problem([_task(earliest_s=NOW + 500, deadline_s=NOW + 2000)], [_robot()])
    assert "earliest" in _codes(p, Plan((_good_route(),)))


def test_robot_not_free_yet_is_flagged() -> None:
    """The first ETA counts from when the robot is free, not from now."""
    p = _problem([_task()], [_robot(available_s=NOW + 300)])
    assert "eta" in _codes(p, Plan((_good_route(),)))


def test_on_board_items_must_stay_on_their_robot() -> None:
    """An item on board R1 dropped by R2, or picked up again, is an on_board violation."""
    t = _task()
    p = _problem([t], [_robot("R1", location="PH", on_board=("T1",)), _robot("R2", location="PH")])
    by_other = RobotRoute("R2", (Stop(D, "W1", NOW + 200, "T1", NOW + 260),), 200)
    assert "on_board" in _codes(p, Plan((RobotRoute("R1"), by_other)))
    own = RobotRoute("R1", (Stop(D, "W1", NOW + 200, "T1", NOW + 260),), 200)
    assert check_plan(p, Plan((own, RobotRoute("R2")))).ok
    again = RobotRoute("R1", (Stop(P, "PH", NOW, "T1", NOW + 60), Stop(D, "W1", NOW + 260, "T1", NOW + 320)), 200)
    assert "on_board" in _codes(p, Plan((again,)))


def test_battery_range_and_reserve() -> None:
    """Task legs beyond the range above the reserve, and pickups by a robot under it, are caught."""
    thirsty = _robot(consumption_pct_per_km=300.0)  # 80 % spare buys 266 m; the route is 300 m
    assert "battery" in _codes(_problem([_task()], [thirsty]), Plan((_good_route(),)))
    low = _robot(battery_pct=10.0)
    assert "reserve" in _codes(_problem([_task()], [low]), Plan((_good_route(),)))


def test_charge_stop_must_be_last_and_reachable() -> None:
    """A CHARGE stop is the last stop; a route that would run the battery flat is caught."""
    p = _problem([_task()], [_robot()])
    ok = RobotRoute("R1", (*_good_route().stops, Stop(C, "DOCK", NOW + 620)), 500)
    assert check_plan(p, Plan((ok,))).ok, check_plan(p, Plan((ok,))).summary()
    first = RobotRoute("R1", (Stop(C, "DOCK", NOW), *_good_route().stops), 400)
    assert "stop" in _codes(p, Plan((first,)))
    # 300 m of task legs need 13.5 % (fine), the 500 m with the charge leg 22.5 % of the 20 % left
    flat = _problem([_task()], [_robot(battery_pct=20.0, min_battery_pct=0.0, consumption_pct_per_km=45.0)])
    report = check_plan(flat, Plan((ok,)))
    assert [v.code for v in report.violations] == ["battery"] and "flat" in report.violations[0].message


def test_faulted_robot_with_stops_and_unknown_things_are_flagged() -> None:
    """Stops for a robot in fault, unknown robots, unknown tasks and wrong locations are caught."""
    p = _problem([_task()], [_robot(mode=RobotMode.FAULT)])
    assert "robot" in _codes(p, Plan((_good_route(),)))
    p2 = _problem([_task()], [_robot()])
    assert "robot" in _codes(p2, Plan((_good_route("GHOST"),), unassigned={"T1": "x"}))
    assert "stop" in _codes(p2, Plan((_good_route(tid="T404"),), unassigned={"T1": "x"}))
    wrong_place = RobotRoute(
        "R1", (Stop(P, "W2", NOW + 300, "T1", NOW + 360), Stop(D, "W1", NOW + 560, "T1", NOW + 620)), 500
    )
    assert "stop" in _codes(p2, Plan((wrong_place,)))


def test_distance_must_match_the_legs() -> None:
    """A route's distance_m must be the sum of its legs."""
    p = _problem([_task()], [_robot()])
    assert "distance" in _codes(p, Plan((dataclasses.replace(_good_route(), distance_m=10),)))


@pytest.mark.parametrize("missing", ["pickup", "dropoff"])
def test_half_routed_task_is_flagged(missing: str) -> None:
    """A pickup without its drop-off (or the reverse) is a pairing violation."""
    p = _problem([_task()], [_robot()])
    stops = _good_route().stops
    kept = stops[1:] if missing == "pickup" else stops[:1]
    assert "pairing" in _codes(p, Plan((RobotRoute("R1", kept, 300 if missing == "pickup" else 100),)))
