"""Realistic open-task snapshots on a campus, for the dispatch benchmark and the twin's smoke runs.

A snapshot mixes medication runs from the central pharmacy to ward nurse stations and the ED
with specimen runs from wards to the central laboratory, in the proportions of a large hospital
at a busy hour: STAT / urgent / routine, some controlled (locked drawers), some cold-chain
(cold box), specimens with a maximum transit time. Robots are spread over docks, the pharmacy
and wards, some busy for a few minutes, some carrying an item, a few low on battery.
Deterministic for a seed (one ``random.Random`` per snapshot).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from hospital_ops.campus import Campus, LocationKind
from hospital_ops.domain import (
    DEFAULT_TURNAROUND_S,
    Capability,
    DeliveryTask,
    Handling,
    Priority,
    Robot,
    TaskKind,
)
from scheduler.problem import Problem
from scheduler.travel import TravelTimes

#: 2026-01-05 10:00 UTC, a Monday morning: the campus clock of the benchmark snapshots.
BENCH_NOW_S = 1_767_607_200


@dataclass(frozen=True, slots=True)
class Sites:
    """Where things are: the pharmacy, the lab, ward nurse stations (and ED), docks."""

    pharmacy: str
    lab: str
    wards: tuple[str, ...]
    docks: tuple[str, ...]


def campus_sites(campus: Campus) -> Sites:
    """Sites of a campus: the central pharmacy (not a basement dock), the lab, wards and ED, docks."""
    by_kind = campus.by_kind
    pharmacies = [loc.id for loc in by_kind(LocationKind.PHARMACY)]
    central = next((p for p in pharmacies if p.endswith("-PHARMACY") and "-B" not in p), pharmacies[0])
    wards = [loc.id for loc in by_kind(LocationKind.NURSE_STATION)] + [loc.id for loc in by_kind(LocationKind.ED)]
    return Sites(
        pharmacy=central,
        lab=by_kind(LocationKind.LAB)[0].id,
        wards=tuple(wards),
        docks=tuple(loc.id for loc in by_kind(LocationKind.DOCK)),
    )


def _priority(rng: random.Random, stat: float, urgent: float) -> Priority:
    x = rng.random()
    return Priority.STAT if x < stat else Priority.URGENT if x < stat + urgent else Priority.ROUTINE


#: How long ago an open request of each priority was made, at most (seconds).
_MAX_AGE_S = {Priority.STAT: 180, Priority.URGENT: 900, Priority.ROUTINE: 3600}


def make_task(
    rng: random.Random, sites: Sites, now_s: int, task_id: str, *, priority: Priority | None = None
) -> DeliveryTask:
    """One request: 65 % medication (pharmacy → ward), 35 % specimen (ward → lab)."""
    if rng.random() < 0.65:
        prio = priority or _priority(rng, 0.10, 0.25)
        controlled = rng.random() < 0.15
        cold = rng.random() < 0.10
        pickup, dropoff, kind = sites.pharmacy, rng.choice(sites.wards), TaskKind.MEDICATION
        handling = Handling(cold_chain=cold, controlled=controlled)
        units = rng.choice((1, 1, 1, 2, 2, 3)) if prio is Priority.ROUTINE else rng.choice((1, 1, 2))
    else:
        prio = priority or _priority(rng, 0.15, 0.30)
        pickup, dropoff, kind = rng.choice(sites.wards), sites.lab, TaskKind.SPECIMEN
        max_transit = rng.choice((1800, 2700, 3600)) if rng.random() < 0.6 else None
        handling = Handling(cold_chain=rng.random() < 0.05, max_transit_s=max_transit)
        units = 1
    if priority is not None:
        requested = now_s
    elif prio is Priority.ROUTINE and rng.random() < 0.3:
        requested = now_s + rng.randrange(0, 3600)  # a scheduled round: pickup not before then
    else:
        requested = now_s - rng.randrange(0, _MAX_AGE_S[prio])
    return DeliveryTask(
        id=task_id,
        pickup=pickup,
        dropoff=dropoff,
        priority=prio,
        earliest_s=requested,
        deadline_s=requested + DEFAULT_TURNAROUND_S[prio],
        kind=kind,
        units=units,
        handling=handling,
        requester=dropoff if kind is TaskKind.MEDICATION else pickup,
    )


def make_robots(rng: random.Random, sites: Sites, now_s: int, n: int) -> list[Robot]:
    """A mixed fleet: all with locked drawers but 10 %, 30 % with a cold box, a few fast ones."""
    robots = []
    for i in range(n):
        caps = set() if rng.random() < 0.10 else {Capability.LOCKED_DRAWERS}
        if rng.random() < 0.30:
            caps.add(Capability.COLD_BOX)
        x = rng.random()
        location = rng.choice(sites.docks) if x < 0.4 else sites.pharmacy if x < 0.6 else rng.choice(sites.wards)
        battery = rng.uniform(15.0, 35.0) if rng.random() < 0.06 else rng.uniform(40.0, 100.0)
        robots.append(
            Robot(
                id=f"R{i + 1:02d}",
                location=location,
                available_s=now_s + (rng.randrange(0, 300) if rng.random() < 0.5 else 0),
                capacity_units=rng.choice((4, 4, 4, 6)),
                capabilities=frozenset(caps),
                speed_mps=rng.choice((1.0, 1.0, 1.0, 1.2)),
                battery_pct=round(battery, 1),
                home_dock=rng.choice(sites.docks),
            )
        )
    return robots


def snapshot(
    travel: TravelTimes,
    sites: Sites,
    *,
    n_tasks: int = 200,
    n_robots: int = 50,
    seed: int = 0,
    now_s: int = BENCH_NOW_S,
    on_board_share: float = 0.1,
) -> Problem:
    """An open-task snapshot: ``n_tasks`` open tasks (some on board), ``n_robots`` robots."""
    rng = random.Random(seed)
    tasks = [make_task(rng, sites, now_s, f"T{i + 1:04d}") for i in range(n_tasks)]
    robots = make_robots(rng, sites, now_s, n_robots)
    # a share of the robots already carry an item (picked up earlier) that they can carry
    loaded = rng.sample(range(n_robots), round(on_board_share * n_robots))
    free_tasks = [t for t in tasks if t.earliest_s <= now_s]
    rng.shuffle(free_tasks)
    for i in loaded:
        r = robots[i]
        pick = next((t for t in free_tasks if r.can_carry(t)), None)
        if pick is None:
            continue
        free_tasks.remove(pick)
        robots[i] = dataclasses.replace(r, location=pick.pickup, on_board=(pick.id,))
    return Problem(tasks=tuple(tasks), robots=tuple(robots), now_s=now_s, travel=travel, docks=sites.docks)
