"""Dispatch zones: tower groups with their own robots and dispatcher, behind the dispatcher's interface."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospital_ops.campus import Campus, LocationKind, parse_campus
from hospital_ops.campus_gen import generate_campus
from hospital_ops.domain import Capability, DeliveryTask, Handling, Priority, Robot, StopKind
from scheduler import (
    Dispatcher,
    DispatchError,
    MatrixTravel,
    OrToolsPolicy,
    PlannerParams,
    PlanningError,
    RobotFault,
    TaskAdded,
    TaskCancelled,
    TaskDelivered,
    TaskPickedUp,
    check_plan,
)
from scheduler.zones import Zone, ZonedDispatcher, Zoning, plan_zones, split_street

NOW = 1_000_000
POLICY = OrToolsPolicy(PlannerParams.deterministic(solution_limit=20))
COLD = frozenset({Capability.LOCKED_DRAWERS, Capability.COLD_BOX})


@functools.cache
def campus() -> Campus:
    """A 2,500-bed campus (4 towers + ED) built like the shipped one."""
    return parse_campus(generate_campus(2500), "<2500 beds>")


@functools.cache
def travel() -> MatrixTravel:
    c = campus()
    return MatrixTravel.grid({loc.id: (loc.x, loc.y) for loc in c.locations.values()})


def fleet(n: int, cold_every: int = 4) -> list[Robot]:
    docks = [d.id for d in campus().by_kind(LocationKind.DOCK)]
    return [
        Robot(
            id=f"R{i:02d}",
            location=docks[i % len(docks)],
            available_s=NOW,
            capabilities=COLD if i % cold_every == 0 else frozenset({Capability.LOCKED_DRAWERS}),
            home_dock=docks[i % len(docks)],
        )
        for i in range(n)
    ]


def station(tower: str) -> str:
    return next(w.station for w in campus().wards if w.building == tower)


def task(tid: str, pickup: str, dropoff: str, **kw: object) -> DeliveryTask:
    kw.setdefault("priority", Priority.ROUTINE)
    kw.setdefault("earliest_s", NOW)
    kw.setdefault("deadline_s", NOW + 3600)
    return DeliveryTask(id=tid, pickup=pickup, dropoff=dropoff, **kw)  # type: ignore[arg-type]


PHARMACY, LAB = "MT-01-PHARMACY", "MT-02-LAB"


def zoned(robots: list[Robot], per_zone: int) -> ZonedDispatcher:
    docks = [d.id for d in campus().by_kind(LocationKind.DOCK)]
    zoning = plan_zones(campus(), robots, robots_per_zone=per_zone, docks=docks)
    return ZonedDispatcher.build(zoning, travel(), robots, policy=POLICY, now_s=NOW)


# ---- cutting the street ----------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=7), st.data())
def test_the_street_is_cut_into_runs_with_the_lightest_heaviest_run(weights: list[int], data: st.DataObject) -> None:
    """split_street finds the contiguous cut whose heaviest run is lightest (checked by brute force)."""
    parts = data.draw(st.integers(1, len(weights)))
    sizes = split_street(weights, parts)
    assert len(sizes) == parts and all(s >= 1 for s in sizes) and sum(sizes) == len(weights)

    def heaviest(cuts: tuple[int, ...]) -> int:
        bounds = (0, *cuts, len(weights))
        return max(sum(weights[a:b]) for a, b in itertools.pairwise(bounds))

    best = min(heaviest(c) for c in itertools.combinations(range(1, len(weights)), parts - 1))
    got = tuple(itertools.accumulate(sizes))[:-1]
    assert heaviest(got) == best


def test_split_street_refuses_impossible_cuts() -> None:
    """More runs than buildings, or none, is an error naming the parameter."""
    with pytest.raises(ValueError, match="parts"):
        split_street([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="parts"):
        split_street([1.0], 0)


# ---- planning the zones ----------------------------------------------------------------------
def test_a_small_fleet_is_one_zone() -> None:
    """Up to about 1.5 zones' worth of robots, the whole campus is one zone (the plain dispatcher)."""
    robots = fleet(12)
    zoning = plan_zones(campus(), robots, robots_per_zone=15)
    assert len(zoning.zones) == 1
    assert set(zoning.zones[0].robots) == {r.id for r in robots}


def test_zones_are_contiguous_tower_groups_holding_every_robot_once() -> None:
    """Every robot is in exactly one zone, every tower and the ED in one zone, in street order,
    each zone has a cold-box robot, and its docks are in its own buildings."""
    robots = fleet(30)
    docks = [d.id for d in campus().by_kind(LocationKind.DOCK)]
    zoning = plan_zones(campus(), robots, robots_per_zone=10, docks=docks)
    assert len(zoning.zones) == 3
    ids = [r for z in zoning.zones for r in z.robots]
    assert sorted(ids) == sorted(r.id for r in robots)
    street = [b for z in zoning.zones for b in z.buildings]
    zoned_buildings = [b for b in campus().buildings.values() if b.kind in ("inpatient_tower", "emergency")]
    assert sorted(street) == sorted(b.id for b in zoned_buildings)
    xs = [campus().buildings[b].origin[0] for b in street]
    assert xs == sorted(xs)
    caps = {r.id: r.capabilities for r in robots}
    for z in zoning.zones:
        assert any(Capability.COLD_BOX in caps[r] for r in z.robots), z.id
        assert z.docks and all(campus().locations[d].building in z.buildings for d in z.docks), z.id


def test_robots_follow_the_work() -> None:
    """A zone expected to have twice the work gets about twice the robots."""
    robots = fleet(30)
    work = {b: 1.0 for b in ("ED", "T1", "T2", "T3", "T4")}
    work["ED"] = 4.0  # the ED's zone: ED alone (4) vs T1..T4 (4)
    zoning = plan_zones(campus(), robots, robots_per_zone=15, work=work)
    sizes = {z.buildings: len(z.robots) for z in zoning.zones}
    assert sizes == {("ED",): 15, ("T1", "T2", "T3", "T4"): 15}


def test_a_zone_without_docks_charges_at_the_nearest_building() -> None:
    """The ED has no docks: an ED-only zone uses the docks of the tower next to it (T1)."""
    robots = fleet(30)
    docks = [d.id for d in campus().by_kind(LocationKind.DOCK)]
    work = {"ED": 4.0, "T1": 1.0, "T2": 1.0, "T3": 1.0, "T4": 1.0}
    zoning = plan_zones(campus(), robots, robots_per_zone=15, work=work, docks=docks)
    ed = next(z for z in zoning.zones if z.buildings == ("ED",))
    assert ed.docks and {campus().locations[d].building for d in ed.docks} == {"T1"}


def test_plan_zones_refuses_a_zero_zone_size() -> None:
    """robots_per_zone must be at least 1."""
    with pytest.raises(ValueError, match="robots_per_zone"):
        plan_zones(campus(), fleet(4), robots_per_zone=0)


def test_a_task_belongs_to_the_zone_of_its_tower_or_the_ed() -> None:
    """Pharmacy → ward and ward → lab go to the ward's zone, ED → lab to the ED's zone; a cold-chain
    task whose zone has no cold box goes to the nearest zone that has one."""
    robots = fleet(30, cold_every=100)  # only R00 has a cold box
    zoning = plan_zones(campus(), robots, robots_per_zone=10)
    zone_of = {b: z.id for z in zoning.zones for b in z.buildings}
    assert zoning.task_zone(task("a", PHARMACY, station("T3"))) == zone_of["T3"]
    assert zoning.task_zone(task("b", station("T4"), LAB)) == zone_of["T4"]
    assert zoning.task_zone(task("c", "ED-01-RESUS", LAB)) == zone_of["ED"]
    cold = task("d", PHARMACY, station("T4"), handling=Handling(cold_chain=True))
    assert zoning.task_zone(cold) == zoning.robot_zone("R00")


def test_a_zoning_refuses_a_robot_or_building_in_two_zones() -> None:
    """Zones must not overlap."""
    c = campus()
    building_of = {loc.id: loc.building for loc in c.locations.values()}
    with pytest.raises(ValueError, match="R1"):
        Zoning((Zone("A", ("T1",), ("R1",)), Zone("B", ("T2",), ("R1",))), building_of, {})
    with pytest.raises(ValueError, match="T1"):
        Zoning((Zone("A", ("T1",), ("R1",)), Zone("B", ("T1",), ("R2",))), building_of, {})


# ---- the zoned dispatcher --------------------------------------------------------------------
def test_one_zone_decides_exactly_like_the_plain_dispatcher() -> None:
    """With a single zone, every decision equals the plain dispatcher's."""
    robots = fleet(6)
    z = zoned(robots, per_zone=15)
    assert len(z.zoning.zones) == 1
    docks = z.zoning.zones[0].docks
    d = Dispatcher(travel(), robots, policy=POLICY, now_s=NOW, docks=docks)
    events = [
        TaskAdded(task("A", PHARMACY, station("T1")), NOW),
        TaskAdded(task("B", station("T2"), LAB, priority=Priority.STAT, deadline_s=NOW + 900), NOW + 5),
    ]
    for ev in events:
        a, b = z.handle(ev), d.handle(ev)
        assert a.plan.routes == b.plan.routes and a.commitments == b.commitments
    assert z.replan(NOW + 30).plan.routes == d.replan(NOW + 30).plan.routes


def test_an_event_is_decided_in_its_zone_and_speaks_for_that_zone_only() -> None:
    """A ward's request is planned on its zone's robots; the decision's scope is that zone."""
    z = zoned(fleet(30), per_zone=10)
    zone_of = {b: zz.id for zz in z.zoning.zones for b in zz.buildings}
    t = task("A", PHARMACY, station("T4"))
    decision = z.handle(TaskAdded(t, NOW))
    mine = set(z.zoning.zone(zone_of["T4"]).robots)
    assert decision.scope == mine
    assert set(decision.commitments) <= mine and decision.plan.robot_for("A") in mine
    assert z.task_zone("A") == zone_of["T4"]


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000))
def test_tasks_only_ever_go_to_robots_of_their_zone(seed: int) -> None:
    """Over a random stream of requests, pickups and deliveries, every committed or planned stop of
    a task is on a robot of the task's zone, every zone's plan passes the checker, and every
    delivered task leaves the pool."""
    rng = random.Random(seed)
    z = zoned(fleet(20), per_zone=7)
    wards = [w.station for w in campus().wards]
    now = NOW
    for i in range(12):
        now += rng.randint(0, 120)
        w = rng.choice(wards)
        t = task(f"T{i}", PHARMACY, w) if rng.random() < 0.5 else task(f"T{i}", w, LAB)
        if rng.random() < 0.3:
            t = task(t.id, t.pickup, t.dropoff, priority=Priority.STAT, earliest_s=now, deadline_s=now + 900)
        else:
            t = task(t.id, t.pickup, t.dropoff, earliest_s=now, deadline_s=now + 3600)
        z.handle(TaskAdded(t, now))
        # a robot with a committed leg does it
        for rid, leg in list(z.commitments.items())[:2]:
            for stop in leg:
                if stop.kind is StopKind.PICKUP:
                    z.handle(TaskPickedUp(stop.task_id or "", rid, now))
                elif stop.kind is StopKind.DROPOFF:
                    z.handle(TaskDelivered(stop.task_id or "", rid, now))
    for zone_id, d in z.zones.items():
        mine = set(z.zoning.zone(zone_id).robots)
        assert set(d.robots) == mine
        for tid in d.tasks:
            assert z.task_zone(tid) == zone_id
        if d.plan is not None:
            for route in d.plan.routes:
                assert route.robot_id in mine
            problem, plan = d.snapshot()
            check_plan(problem, d.policy.insert(problem, plan, 0))
    open_ids = set(z.tasks)
    assert all(z.task_zone(t) is not None for t in open_ids)
    whole = z.plan
    assert whole is not None and {r.robot_id for r in whole.routes} <= set(z.robots)
    assert all(
        whole.robot_for(t) is None or z.zoning.robot_zone(whole.robot_for(t)) == z.task_zone(t) for t in open_ids
    )


def test_bad_input_in_one_zone_changes_no_zone() -> None:
    """load() checks every zone's batch before any zone takes its own: one bad task, nothing loaded."""
    z = zoned(fleet(30), per_zone=10)
    good = task("G", PHARMACY, station("T1"))
    bad = task("B", station("T4"), "NOWHERE")
    with pytest.raises(PlanningError, match="NOWHERE"):
        z.load([good, bad], NOW)
    assert z.tasks == {} and z.task_zone("G") is None
    z.load([good], NOW)
    assert set(z.tasks) == {"G"}
    with pytest.raises(DispatchError, match="already open"):
        z.handle(TaskAdded(good, NOW))


def test_unknown_tasks_and_cross_zone_pickups_are_refused() -> None:
    """Events about a task that is not open, or a pickup by a robot of another zone, are errors."""
    z = zoned(fleet(30), per_zone=10)
    with pytest.raises(DispatchError, match="not an open task"):
        z.handle(TaskCancelled("nope", NOW))
    t = task("A", PHARMACY, station("T4"))
    z.handle(TaskAdded(t, NOW))
    other = next(zz for zz in z.zoning.zones if zz.id != z.task_zone("A"))
    with pytest.raises(DispatchError, match="zone"):
        z.handle(TaskPickedUp("A", other.robots[0], NOW))
    assert "A" in z.tasks


def test_a_robot_fault_raises_its_recovery_alert_and_frees_its_tasks() -> None:
    """Items on a faulty robot leave the plan with an alert; the zone map forgets them."""
    z = zoned(fleet(30), per_zone=10)
    t = task("A", PHARMACY, station("T2"))
    decision = z.handle(TaskAdded(t, NOW))
    rid = decision.plan.robot_for("A")
    assert rid is not None
    z.handle(TaskPickedUp("A", rid, NOW + 60))
    after = z.handle(RobotFault(rid, NOW + 120, "wheel"))
    assert [a.task_ids for a in after.alerts] == [("A",)]
    assert z.task_zone("A") is None and "A" not in z.tasks


def test_a_quick_replan_can_cover_only_the_zones_that_changed() -> None:
    """replan/load with ``zones`` re-plan those zones (plus any zone given new tasks) and speak for
    their robots only; no zones named means every zone; an unknown zone is an error."""
    z = zoned(fleet(30), per_zone=10)
    first, second, third = z.zoning.ids
    t = task("A", PHARMACY, station("T4"))
    home = z.zone_for(t)
    decision = z.load([t], NOW, zones=[first])
    assert decision.scope == frozenset(z.members(first)) | frozenset(z.members(home))
    assert z.task_zone("A") == home
    only = z.replan(NOW + 60, zones=[second])
    assert only.scope == frozenset(z.members(second))
    assert z.replan(NOW + 90).scope is None
    with pytest.raises(DispatchError, match="no such zone"):
        z.replan(NOW + 120, zones=["Z9"])
    assert {first, second, third} == set(z.zoning.ids)


def test_whole_decisions_speak_for_the_whole_campus() -> None:
    """With ``whole_decisions`` (the scheduler node records the plan as a whole), an event's
    decision carries every zone's plan and commitments, not just its own zone's."""
    robots = fleet(30)
    docks = [d.id for d in campus().by_kind(LocationKind.DOCK)]
    zoning = plan_zones(campus(), robots, robots_per_zone=10, docks=docks)
    z = ZonedDispatcher.build(zoning, travel(), robots, whole_decisions=True, policy=POLICY, now_s=NOW)
    a = task("A", PHARMACY, station("T1"))
    b = task("B", PHARMACY, station("T4"))
    assert z.zone_for(a) != z.zone_for(b)
    z.handle(TaskAdded(a, NOW))
    decision = z.handle(TaskAdded(b, NOW + 10))
    assert decision.scope is None
    assert decision.plan.robot_for("A") is not None and decision.plan.robot_for("B") is not None
    routed = {r.robot_id for r in decision.plan.routes}
    assert set(z.members(z.zone_for(a))) | set(z.members(z.zone_for(b))) <= routed
    assert decision.commitments == z.commitments
    assert z.replan(NOW + 20, zones=[z.zone_for(a)]).scope is None


def test_items_on_board_are_planned_by_their_robots_zone() -> None:
    """Loading the open tasks (a restart) puts a task whose items are on a robot in that robot's
    zone, whatever its own zone would be: its drop-off is forced onto that robot."""
    robots = fleet(30)
    docks = [d.id for d in campus().by_kind(LocationKind.DOCK)]
    zoning = plan_zones(campus(), robots, robots_per_zone=10, docks=docks)
    t = task("X", PHARMACY, station("T4"))
    natural = zoning.task_zone(t)
    carrier = next(r for z in zoning.zones if z.id != natural for r in z.robots)
    robots = [r if r.id != carrier else dataclasses.replace(r, on_board=("X",)) for r in robots]
    z = ZonedDispatcher.build(zoning, travel(), robots, policy=POLICY, now_s=NOW)
    z.load([t], NOW)
    assert z.task_zone("X") == z.robot_zone(carrier) != natural
    assert z.plan is not None and z.plan.robot_for("X") == carrier
