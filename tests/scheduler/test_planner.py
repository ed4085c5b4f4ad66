"""The OR-Tools planner: input validation, the rules it must honour, its objective and warm starts."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hospital_ops.domain import Capability, DeliveryTask, Handling, Priority, Robot, RobotMode, StopKind
from scheduler import (
    MatrixTravel,
    PlannerParams,
    PlanningError,
    Problem,
    _ortools,
    check_plan,
    plan,
    quick_plan,
)
from scheduler._model import Instance
from scheduler.params import BatteryParams, DeadlineMargin, Weights

NOW = 1_000_000
POINTS = {"PH": (0, 0), "LAB": (100, 0), "W1": (0, 200), "W2": (200, 200), "W3": (300, 0), "DOCK": (50, 50)}
GRID = MatrixTravel.grid(POINTS)
LOCKED = frozenset({Capability.LOCKED_DRAWERS})
PLAIN: frozenset[Capability] = frozenset()
DET = PlannerParams.deterministic(solution_limit=100)


def task(tid: str, pickup: str = "PH", dropoff: str = "W1", **kw: object) -> DeliveryTask:
    kw.setdefault("priority", Priority.ROUTINE)
    kw.setdefault("earliest_s", NOW)
    kw.setdefault("deadline_s", NOW + 3600)
    return DeliveryTask(id=tid, pickup=pickup, dropoff=dropoff, **kw)  # type: ignore[arg-type]


def robot(rid: str, location: str = "DOCK", **kw: object) -> Robot:
    kw.setdefault("available_s", NOW)
    return Robot(id=rid, location=location, **kw)  # type: ignore[arg-type]


def problem(tasks: list[DeliveryTask], robots: list[Robot]) -> Problem:
    return Problem(tuple(tasks), tuple(robots), NOW, GRID, docks=("DOCK",))


def solve(p: Problem, params: PlannerParams = DET, seed: int = 0):
    result = plan(p, params, seed)
    report = check_plan(p, result)
    assert report.ok, report.summary()
    return result


# ---- parameters -------------------------------------------------------------------------------


def test_params_defaults_are_valid_and_sections_fall_back_to_defaults() -> None:
    """A dict with only some keys (and no sections) gives defaults for everything else."""
    p = PlannerParams.from_dict({"time_limit_s": 0.5, "weights": {"late_per_s_urgent": 20}})
    assert p.time_limit_s == 0.5
    assert p.weights.late_per_s_urgent == 20
    assert p.weights.late_per_s_routine == Weights().late_per_s_routine
    assert p.battery == BatteryParams()
    assert p.deadline_margin == DeadlineMargin()
    assert PlannerParams.from_dict({"deadline_margin": {"urgent_s": 60}}).deadline_margin == DeadlineMargin(urgent_s=60)
    assert PlannerParams.from_dict({}) == PlannerParams()
    assert PlannerParams.from_dict(None) == PlannerParams()


def test_params_load_from_yaml_text_and_file(tmp_path: Path) -> None:
    """YAML text and a YAML file both load; a missing section takes its defaults."""
    text = "solution_limit: 50\nbattery:\n  charge_below_pct: 25\n"
    assert PlannerParams.from_yaml(text).battery.charge_below_pct == 25
    path = tmp_path / "planner.yaml"
    path.write_text(text, encoding="utf-8")
    p = PlannerParams.from_yaml(path)
    assert p.solution_limit == 50
    assert p.weights == Weights()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"solution_limit": 0}, "solution_limit"),
        ({"horizon_slack_s": -1}, "horizon_slack_s"),
        ({"metaheuristic": "MAGIC"}, "metaheuristic"),
        ({"first_solution": "random"}, "first_solution"),
        ({"weights": {"drop_stat": 0}}, "weights.drop_stat"),
        ({"weights": {"late_per_s_stat": -5}}, "weights.late_per_s_stat"),
        ({"weights": {"speed": 1}}, "weights.speed"),
        ({"battery": {"charge_below_pct": 150}}, "battery.charge_below_pct"),
        ({"battery": "full"}, "battery"),
        ({"deadline_margin": {"stat_s": -60}}, "deadline_margin.stat_s"),
        ({"deadline_margin": {"stat_s": 1.5}}, "deadline_margin.stat_s"),
        ({"deadline_margin": {"stat": 60}}, "deadline_margin.stat"),
        ({"timelimit": 3}, "timelimit"),
    ],
)
def test_params_refuse_bad_values_naming_the_field(data: dict, field: str) -> None:
    """Bad or unknown parameters raise ValueError naming the field."""
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        PlannerParams.from_dict(data)


def test_bad_yaml_is_a_clear_error() -> None:
    """Unparsable YAML is a ValueError, not a parser traceback."""
    with pytest.raises(ValueError, match="not valid YAML"):
        PlannerParams.from_yaml("weights: [1, 2")


# ---- input validation ---------------------------------------------------------------------------


def _bad_deadline() -> DeliveryTask:
    t = task("T9")
    object.__setattr__(t, "deadline_s", NOW - 10)  # bypass the constructor's own check
    return t


@pytest.mark.parametrize(
    ("tasks", "robots", "match"),
    [
        ([task("T1", pickup="NOWHERE")], [robot("R1")], r"task T1: pickup: unknown location 'NOWHERE'"),
        ([task("T1", dropoff="ATTIC")], [robot("R1")], r"task T1: dropoff: unknown location"),
        ([_bad_deadline()], [robot("R1")], r"task T9: deadline_s: .* before the earliest pickup"),
        ([task("T1", units=9)], [robot("R1", capacity_units=4)], r"task T1: units: 9 .*too big for every robot"),
        ([task("T1"), task("T1", dropoff="W2")], [robot("R1")], r"task T1: duplicate task id"),
        ([task("T1")], [robot("R1", on_board=("T7",))], r"task T7: on board robot R1 but missing"),
        ([task("T1")], [robot("R1", on_board=("T1",)), robot("R2", on_board=("T1",))], r"task T1: on board two"),
        ([task("T1")], [robot("R1", location="MOON")], r"robot R1: location: unknown location"),
        ([task("T1")], [robot("R1"), robot("R1")], r"robot R1: duplicate robot id"),
    ],
)
def test_bad_input_is_a_planning_error_naming_task_and_reason(tasks, robots, match) -> None:
    """Input no plan can come from raises PlanningError (a ValueError) naming the task and why."""
    with pytest.raises(PlanningError, match=match) as info:
        plan(problem(tasks, robots), DET)
    assert isinstance(info.value, ValueError)


# ---- rules ----------------------------------------------------------------------------------------


def test_every_task_is_routed_with_pickup_before_dropoff_on_one_robot() -> None:
    """A plain instance: every task routed, the plan passes the independent checker."""
    tasks = [task(f"T{i}", pickup=p, dropoff=d) for i, (p, d) in enumerate([("PH", "W1"), ("W2", "LAB"), ("PH", "W3")])]
    result = solve(problem(tasks, [robot("R1"), robot("R2", location="W2")]))
    assert not result.unassigned
    assert {result.robot_for(t.id) for t in tasks} <= {"R1", "R2"}
    assert result.created_s == NOW


def test_controlled_task_without_a_locked_robot_is_unassigned_with_reason() -> None:
    """A controlled substance is never planned on a robot without locked drawers; reported instead."""
    t = task("T1", handling=Handling(controlled=True))
    result = solve(problem([t], [robot("R1", capabilities=PLAIN)]))
    assert result.unassigned == {"T1": "no robot with locked drawers"}


def test_controlled_task_goes_to_the_locked_robot_even_if_farther() -> None:
    """Compatibility beats distance: the plain robot next door does not get the controlled task."""
    t = task("T1", handling=Handling(controlled=True))
    near = robot("NEAR", location="PH", capabilities=PLAIN)
    far = robot("FAR", location="W3", capabilities=LOCKED)
    result = solve(problem([t], [near, far]))
    assert result.robot_for("T1") == "FAR"


def test_cold_chain_needs_a_cold_box() -> None:
    """Cold-chain items only ride robots with a cold box."""
    t = task("T1", handling=Handling(cold_chain=True))
    result = solve(problem([t], [robot("R1")]))
    assert result.unassigned["T1"] == "no robot with a cold box"
    cold = robot("R2", location="W3", capabilities=frozenset({Capability.COLD_BOX}))
    assert solve(problem([t], [robot("R1"), cold])).robot_for("T1") == "R2"


def test_impossible_max_transit_is_reported() -> None:
    """A specimen whose direct trip already exceeds its max transit is unassigned with that reason."""
    t = task("T1", pickup="W1", dropoff="W3", handling=Handling(max_transit_s=100))
    result = solve(problem([t], [robot("R1")]))
    assert result.unassigned["T1"].startswith("cannot meet max transit")


def test_max_transit_forbids_detours_while_carrying_a_specimen() -> None:
    """With a tight max transit the specimen goes straight to the lab, not via another drop-off."""
    spec = task("S1", pickup="W1", dropoff="LAB", handling=Handling(max_transit_s=400))
    med = task("M1", pickup="W1", dropoff="W2")
    result = solve(problem([spec, med], [robot("R1", location="W1")]))
    stops = result.route_of("R1").stops
    order = [(s.kind, s.task_id) for s in stops if s.task_id]
    i_pick, i_drop = order.index((StopKind.PICKUP, "S1")), order.index((StopKind.DROPOFF, "S1"))
    assert stops[i_drop].eta_s - stops[i_pick].eta_s <= 400
    assert not result.unassigned


def test_no_capacity_reason_when_only_small_robots_have_the_equipment() -> None:
    """A cold task bigger than every cold-box robot's drawers: 'no capacity' (not an error)."""
    t = task("T1", units=5, handling=Handling(cold_chain=True))
    small_cold = robot("R1", capacity_units=4, capabilities=frozenset({Capability.COLD_BOX}))
    big_plain = robot("R2", capacity_units=6)
    result = solve(problem([t], [small_cold, big_plain]))
    assert result.unassigned["T1"].startswith("no capacity")


def test_capacity_limits_what_rides_together() -> None:
    """Drawer units on board never exceed capacity, so two 2-unit tasks on a 3-unit robot go in turn."""
    tasks = [task("A", units=2), task("B", units=2, dropoff="W2")]
    result = solve(problem(tasks, [robot("R1", capacity_units=3, location="PH")]))
    kinds = [s.kind for s in result.route_of("R1").stops]
    assert kinds == [StopKind.PICKUP, StopKind.DROPOFF, StopKind.PICKUP, StopKind.DROPOFF]


def test_pickup_never_before_earliest() -> None:
    """A robot that arrives early waits for the earliest pickup time."""
    t = task("T1", earliest_s=NOW + 900, deadline_s=NOW + 3600)
    result = solve(problem([t], [robot("R1", location="PH")]))
    pick = result.route_of("R1").stops[0]
    assert pick.kind is StopKind.PICKUP and pick.eta_s == NOW + 900


def test_robot_below_reserve_gets_no_tasks_and_goes_to_charge() -> None:
    """A robot under its battery reserve is given nothing new and is sent to its dock."""
    low = robot("LOW", location="PH", battery_pct=15.0, min_battery_pct=20.0, home_dock="DOCK")
    ok = robot("OK", location="W3")
    result = solve(problem([task("T1")], [low, ok]))
    assert result.robot_for("T1") == "OK"
    stops = result.route_of("LOW").stops
    assert [s.kind for s in stops] == [StopKind.CHARGE] and stops[0].location == "DOCK"


def test_only_low_robots_means_unassigned_with_charging_reason() -> None:
    """If every suitable robot is under its reserve, the task is reported, not planned."""
    low = robot("LOW", battery_pct=10.0)
    result = solve(problem([task("T1")], [low]))
    assert "below its battery reserve" in result.unassigned["T1"]


def test_low_robot_still_delivers_what_it_carries() -> None:
    """Under its reserve, a robot still drops what is on board (then charges); it picks nothing up."""
    t1, t2 = task("T1"), task("T2", dropoff="W2")
    low = robot("LOW", location="PH", battery_pct=15.0, on_board=("T1",), home_dock="DOCK")
    result = solve(problem([t1, t2], [low, robot("OK", location="W3")]))
    assert result.robot_for("T1") == "LOW" and result.robot_for("T2") == "OK"
    assert [s.kind for s in result.route_of("LOW").stops] == [StopKind.DROPOFF, StopKind.CHARGE]


def test_battery_range_decides_which_robot_goes() -> None:
    """A robot whose range above its reserve cannot cover the trip does not get it."""
    # 300 %/km: 80 % above the reserve buys 266 m; PH->W3 from PH is 300 m
    thirsty = robot("THIRSTY", location="PH", consumption_pct_per_km=300.0)
    result = solve(problem([task("T1", dropoff="W3")], [thirsty, robot("OK", location="W2")]))
    assert result.robot_for("T1") == "OK"


def test_charge_stop_when_the_battery_would_end_low() -> None:
    """A robot that would finish below the charge threshold gets a CHARGE stop at its dock."""
    r = robot("R1", location="PH", battery_pct=31.0, consumption_pct_per_km=20.0, home_dock="DOCK")
    result = solve(problem([task("T1")], [r]))
    assert result.route_of("R1").stops[-1].kind is StopKind.CHARGE
    no_charge = DET.replace(battery=BatteryParams(plan_charge_stop=False))
    assert all(s.kind is not StopKind.CHARGE for s in solve(problem([task("T1")], [r]), no_charge).route_of("R1").stops)


def test_on_board_items_stay_on_their_robot() -> None:
    """A task on board R1 is dropped by R1 even when R2 is next to the drop-off."""
    t = task("T1", dropoff="W3")
    carrier = robot("R1", location="W1", on_board=("T1",))
    other = robot("R2", location="W3")
    result = solve(problem([t], [carrier, other]))
    assert result.robot_for("T1") == "R1"
    assert [s.kind for s in result.route_of("R1").stops] == [StopKind.DROPOFF]


def test_on_board_items_of_a_faulted_robot_are_reported_for_recovery() -> None:
    """Items on a robot in fault cannot be planned: unassigned with a recovery reason."""
    carrier = robot("R1", on_board=("T1",), mode=RobotMode.FAULT)
    result = solve(problem([task("T1")], [carrier, robot("R2")]))
    assert "need recovery" in result.unassigned["T1"]


def test_stat_lateness_beats_routine_savings() -> None:
    """Serving the routine task first would save travel and routine lateness but make the STAT late;
    the default (dominant) STAT weight never accepts that, an explicit small weight does."""
    stat = task("S", pickup="PH", dropoff="W1", priority=Priority.STAT, deadline_s=NOW + 600)
    routine = task("R", pickup="W3", dropoff="W2", deadline_s=NOW + 400)
    p = problem([stat, routine], [robot("R1", location="W3")])
    result = solve(p)
    assert result.eta_of("S") <= stat.deadline_s
    assert result.eta_of("R") > routine.deadline_s  # the routine task pays
    cheap_stat = DET.replace(weights=Weights(late_per_s_stat=1))
    assert solve(p, cheap_stat).eta_of("S") > stat.deadline_s


def test_stat_is_planned_a_safety_margin_before_its_deadline() -> None:
    """By default a STAT drop-off is planned 3 minutes before its deadline when that is possible, even
    at the price of travel; with no margin the cheaper, just-in-time order wins. Lateness in the plan
    check still counts against the real deadline."""
    # R1 at W3 cannot carry both. Routine R (W3→W2) first: S (PH→W1) lands at NOW+900, 900 s of
    # travel; S first: S lands at NOW+500, 1,300 s of travel.
    stat = task("S", pickup="PH", dropoff="W1", priority=Priority.STAT, deadline_s=NOW + 1000, units=2, service_s=0)
    routine = task("R", pickup="W3", dropoff="W2", deadline_s=NOW + 3600, units=3, service_s=0)
    p = problem([stat, routine], [robot("R1", location="W3", capacity_units=4)])
    no_margin = DET.replace(deadline_margin=DeadlineMargin(stat_s=0, urgent_s=0))
    tight = solve(p, no_margin)
    safe = solve(p)
    assert DET.deadline_margin.stat_s == 180
    assert tight.eta_of("S") == NOW + 900 <= stat.deadline_s
    assert safe.eta_of("S") == NOW + 500 <= stat.deadline_s - 180
    assert check_plan(p, tight).lateness_s.get("S", 0) == 0


def test_margin_never_asks_for_the_impossible_and_keeps_the_task() -> None:
    """A STAT task due sooner than its margin is still planned (as early as possible), never dropped."""
    t = task("S", pickup="PH", dropoff="W1", priority=Priority.STAT, deadline_s=NOW + 60, service_s=0)
    result = solve(problem([t], [robot("R1", location="LAB")]))
    assert result.robot_for("S") == "R1" and not result.unassigned
    assert result.eta_of("S") == NOW + 300


def test_deadline_repair_moves_a_task_the_margins_made_really_late() -> None:
    """Routes with a STAT drop-off past its real deadline are repaired under the real deadlines (the
    task moves to the idle robot); routes without real lateness, or without margins, are left alone."""
    a = task("A", pickup="PH", dropoff="W3", priority=Priority.STAT, deadline_s=NOW + 900, service_s=0)
    b = task("B", pickup="PH", dropoff="W1", priority=Priority.STAT, deadline_s=NOW + 500, service_s=0)
    p = problem([a, b], [robot("R1", location="PH"), robot("R2", location="PH")])
    inst = Instance(p, DET)
    ka, kb = inst.task_index["A"], inst.task_index["B"]
    v1, v2 = inst.vehicle_of["R1"], inst.vehicle_of["R2"]
    late = [[], []]
    late[v1] = [2 * ka, 2 * ka + 1, 2 * kb, 2 * kb + 1]  # B reaches W1 at NOW + 300 + 500 + 200 > NOW + 500
    fixed = inst.deadline_repair([list(r) for r in late])
    assert fixed[v2] == [2 * kb, 2 * kb + 1] and fixed[v1] == [2 * ka, 2 * ka + 1]
    fine = [[], []]
    fine[v1], fine[v2] = [2 * ka, 2 * ka + 1], [2 * kb, 2 * kb + 1]
    assert inst.deadline_repair(fine) is fine
    off = Instance(p, DET.replace(deadline_margin=DeadlineMargin(repair=False)))
    assert off.deadline_repair(late) is late


def test_search_respects_the_time_limit_and_solution_limit_parameters() -> None:
    """The OR-Tools search gets the configured wall-clock limit and solution count; without a solution
    limit the clock stops the search and the plan is still valid and complete."""
    sp = _ortools._search_parameters(PlannerParams(time_limit_s=0.25), use_own_first=True)
    assert sp.time_limit.ToMilliseconds() == 250
    assert _ortools._search_parameters(DET, use_own_first=True).solution_limit == 100
    tasks = [task(f"T{i}", pickup=a, dropoff=b) for i, (a, b) in enumerate(itertools.permutations(POINTS, 2))]
    result = solve(problem(tasks, [robot("R1"), robot("R2", location="W3")]), PlannerParams(time_limit_s=0.2))
    assert all((result.robot_for(t.id) is None) == (t.id in result.unassigned) for t in tasks)


def test_overdue_tasks_are_still_planned_and_lateness_counts_from_now() -> None:
    """A task already past its deadline is planned; the checker reports its full lateness."""
    t = task("T1", earliest_s=NOW - 7200, deadline_s=NOW - 3600)
    p = problem([t], [robot("R1", location="PH")])
    result = solve(p)
    assert check_plan(p, result).lateness_s["T1"] >= 3600


def test_same_seed_same_plan_in_deterministic_mode() -> None:
    """With a solution limit the search is reproducible: same input and seed, same plan."""
    tasks = [
        task(f"T{i}", pickup=p, dropoff=d) for i, (p, d) in enumerate(itertools.permutations(POINTS, 2)) if i % 5 == 0
    ]
    p = problem(tasks, [robot("R1"), robot("R2", location="W3"), robot("R3", location="LAB")])
    a, b = plan(p, DET, seed=3), plan(p, DET, seed=3)
    assert a == b
    assert check_plan(p, plan(p, DET, seed=4)).ok


def test_warm_start_never_worse_and_stable_when_nothing_changed() -> None:
    """Re-planning from the previous plan keeps it unless something strictly better is found."""
    tasks = [
        task(f"T{i}", pickup=p, dropoff=d) for i, (p, d) in enumerate(itertools.permutations(POINTS, 2)) if i % 4 == 1
    ]
    p = problem(tasks, [robot("R1"), robot("R2", location="W3")])
    first = solve(p)
    again = solve(p, DET.replace(previous=first))
    assert again.objective <= first.objective
    if again.objective == first.objective:
        assert again.routes == first.routes


def test_warm_start_keeps_old_routes_and_fits_a_new_task() -> None:
    """quick_plan keeps every previous route in order and only inserts the new task."""
    tasks = [task("A", dropoff="W1"), task("B", pickup="W2", dropoff="LAB")]
    robots = [robot("R1", location="PH"), robot("R2", location="W2")]
    base = solve(problem(tasks, robots))
    new = task("S", pickup="PH", dropoff="W3", priority=Priority.STAT, deadline_s=NOW + 900)
    p2 = problem([*tasks, new], robots)
    quick = quick_plan(p2, base, DET)
    assert check_plan(p2, quick).ok
    for r in base.routes:
        old = [(s.kind, s.task_id) for s in r.stops if s.task_id]
        now = [(s.kind, s.task_id) for s in quick.route_of(r.robot_id).stops if s.task_id and s.task_id != "S"]
        assert old == now
    assert quick.robot_for("S") is not None


def test_plan_objective_equals_the_routing_model_objective() -> None:
    """The objective our evaluator reports is the one OR-Tools minimised (same model, same numbers)."""
    from scheduler import _ortools

    tasks = [task("A"), task("B", pickup="W2", dropoff="LAB", deadline_s=NOW + 300, priority=Priority.URGENT)]
    p = problem(tasks, [robot("R1", location="W3"), robot("R2", location="PH")])
    inst = Instance(p, DET)
    result = _ortools.solve(inst, None, DET.replace(first_solution="PARALLEL_CHEAPEST_INSERTION"))
    assert result.objective == inst.objective(result.routes)


# ---- properties on random small instances -------------------------------------------------------

NAMES = list(POINTS)


@st.composite
def small_problems(draw: st.DrawFn, max_tasks: int = 5, max_robots: int = 3) -> Problem:
    n_tasks = draw(st.integers(1, max_tasks))
    n_robots = draw(st.integers(1, max_robots))
    robots = []
    for i in range(n_robots):
        caps = draw(st.sets(st.sampled_from(list(Capability))))
        robots.append(
            Robot(
                id=f"R{i}",
                location=draw(st.sampled_from(NAMES)),
                available_s=NOW + draw(st.sampled_from([0, 0, 120, 600])),
                capacity_units=3 if i == 0 else draw(st.integers(1, 4)),
                capabilities=frozenset(caps),
                speed_mps=draw(st.sampled_from([1.0, 1.0, 2.0])),
                battery_pct=draw(st.sampled_from([100.0, 60.0, 25.0, 15.0])),
                consumption_pct_per_km=draw(st.sampled_from([4.0, 4.0, 100.0])),
                home_dock="DOCK",
            )
        )
    tasks = []
    for i in range(n_tasks):
        pickup = draw(st.sampled_from(NAMES))
        dropoff = draw(st.sampled_from([n for n in NAMES if n != pickup]))
        earliest = NOW + draw(st.integers(-600, 900))
        tasks.append(
            DeliveryTask(
                id=f"T{i}",
                pickup=pickup,
                dropoff=dropoff,
                priority=draw(st.sampled_from(list(Priority))),
                earliest_s=earliest,
                deadline_s=earliest + draw(st.integers(0, 1800)),
                units=draw(st.integers(1, 3)),
                handling=Handling(
                    controlled=draw(st.booleans()),
                    cold_chain=draw(st.sampled_from([False, False, True])),
                    max_transit_s=draw(st.sampled_from([None, None, 250, 600])),
                ),
                service_s=draw(st.sampled_from([0, 30, 60])),
            )
        )
    # sometimes the first robot already carries the first task it can carry
    if draw(st.booleans()):
        r0 = robots[0]
        carry = next((t for t in tasks if t.units <= r0.capacity_units), None)
        if carry is not None:
            robots[0] = dataclasses.replace(r0, on_board=(carry.id,))
    return Problem(tuple(tasks), tuple(robots), NOW, GRID, docks=("DOCK",))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_every_plan_passes_the_checker_and_accounts_for_every_task(p: Problem) -> None:
    """Random small instances: the plan is valid and every task is routed or unassigned with a reason."""
    result = plan(p, PlannerParams.deterministic(solution_limit=50))
    report = check_plan(p, result)
    assert report.ok, report.summary()
    for t in p.tasks:
        assert (result.robot_for(t.id) is None) == (t.id in result.unassigned)
    by_id = {r.id: r for r in p.robots}
    for route in result.routes:
        for s in route.stops:
            if s.kind is StopKind.PICKUP:
                t = next(x for x in p.tasks if x.id == s.task_id)
                if t.handling.controlled:
                    assert Capability.LOCKED_DRAWERS in by_id[route.robot_id].capabilities
    carrier = p.on_board()
    for tid, rid in carrier.items():
        assert result.robot_for(tid) in (rid, None)


# ---- brute force on tiny instances ------------------------------------------------------------


def _brute_force(p: Problem, params: PlannerParams) -> int:
    """Optimum of the planner's objective by enumeration (weights taken from the compiled model)."""
    inst = Instance(p, params)
    now, H, w = p.now_s, inst.horizon, params.weights
    carrier = p.on_board()

    def penalty(t: DeliveryTask) -> int:
        k = inst.task_index.get(t.id)
        return inst.tasks[k].penalty if k is not None else inst.penalty_of(t)

    def route_cost(r: Robot, tasks: list[DeliveryTask]) -> int | None:
        if not tasks:
            return 0
        mat = GRID.matrix(NAMES, r.speed_mps)
        sec, met, ix = mat.seconds, mat.metres, mat.index
        under = r.battery_pct < r.min_battery_pct
        spare = r.battery_pct if under else r.battery_pct - r.min_battery_pct
        range_m = int(spare / r.consumption_pct_per_km * 1000) if r.consumption_pct_per_km > 0 else 10**9
        visits = [(t, "D") for t in tasks if t.id in carrier] + [
            (t, v) for t in tasks if t.id not in carrier for v in ("P", "D")
        ]
        best: int | None = None
        for order in itertools.permutations(visits):
            pos = {(t.id, v): i for i, (t, v) in enumerate(order)}
            if any(pos[(t.id, "P")] > pos[(t.id, "D")] for t in tasks if t.id not in carrier):
                continue
            load = sum(t.units for t in tasks if t.id in carrier) + sum(
                x.units for tid in r.on_board for x in p.tasks if x.id == tid and x not in tasks
            )
            locs, ok, metres = [], True, 0
            here = r.location
            for t, v in order:
                if v == "P":
                    if under or not r.can_carry(t):
                        ok = False
                    load += t.units
                    if load > r.capacity_units:
                        ok = False
                else:
                    load -= t.units
                loc = t.pickup if v == "P" else t.dropoff
                metres += int(met[ix[here], ix[loc]])
                locs.append(loc)
                here = loc
            if not ok or metres > range_m:
                continue
            lb = [max(0, t.earliest_s - now) if v == "P" else 0 for t, v in order]
            while True:
                times, t_free, here = [], max(0, r.available_s - now), r.location
                for (t, _), loc, low in zip(order, locs, lb, strict=True):
                    start = max(t_free + int(sec[ix[here], ix[loc]]), low)
                    times.append(start)
                    t_free, here = start + t.service_s, loc
                if times[-1] > H:
                    break
                pushed = False
                for t in tasks:
                    mt = t.handling.max_transit_s
                    if mt is not None and t.id not in carrier:
                        i, j = pos[(t.id, "P")], pos[(t.id, "D")]
                        if times[j] - times[i] > mt:
                            lb[i] = times[j] - mt
                            pushed = True
                if not pushed:
                    break
            if times[-1] > H or pushed:
                continue
            travel = 0
            here = r.location
            for loc in locs:
                travel += int(sec[ix[here], ix[loc]])
                here = loc
            cost = w.travel_per_s * travel
            for (t, v), at in zip(order, times, strict=True):
                if v == "P":
                    cost += w.wait_per_s * (at - max(0, t.earliest_s - now))
                else:
                    target = t.deadline_s - params.deadline_margin.of(t.priority) - now
                    cost += inst.late_w[t.priority] * max(0, at - max(0, target))
            best = cost if best is None else min(best, cost)
        return best

    robots = [r for r in p.robots if r.mode not in (RobotMode.FAULT, RobotMode.LOST)]
    options = []
    for t in p.tasks:
        if t.id in carrier:
            options.append([None, carrier[t.id]])
        else:
            options.append([None, *(r.id for r in robots)])
    best_total: int | None = None
    for choice in itertools.product(*options):
        total = sum(penalty(t) for t, c in zip(p.tasks, choice, strict=True) if c is None)
        for r in robots:
            mine = [t for t, c in zip(p.tasks, choice, strict=True) if c == r.id]
            cost = route_cost(r, mine)
            if cost is None:
                break
            total += cost
        else:
            best_total = total if best_total is None else min(best_total, total)
    assert best_total is not None
    return best_total


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(max_tasks=3, max_robots=2))
def test_tiny_instances_match_the_brute_force_optimum(p: Problem) -> None:
    """On 1-3 tasks and 1-2 robots the planner finds the optimum of its own objective."""
    # the margin objective alone (its repair pass under the real deadlines may trade it away)
    params = PlannerParams.deterministic(solution_limit=200, deadline_margin=DeadlineMargin(repair=False))
    result = plan(p, params)
    assert check_plan(p, result).ok
    assert result.objective == _brute_force(p, params)
