"""Demand generators: patient arrivals and delivery requests, as timestamped records.

Arrivals are non-homogeneous Poisson processes with a rate constant within each clock hour
(daily volume × the hour's share of the profile; outpatients also by weekday): for each hour the
count is Poisson and the times are uniform within the hour, which is exact for a piecewise-constant
rate. Everything is drawn up front from its own stream, so the demand does not depend on the policy
(common random numbers) and can be replayed — :func:`delivery_requests` is also what ``sim live``
posts to a running stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from hospital_ops.domain import Handling, Priority, TaskKind
from sim.scenario import PriorityMix, Scenario, hhmm_seconds
from sim.site import Site
from sim.streams import Streams

HOUR = 3600
DAY = 86400


@dataclass(frozen=True, slots=True)
class Request:
    """A delivery request as a ward, the pharmacy, the lab or the ED files it."""

    at_s: float
    kind: TaskKind
    pickup: str
    dropoff: str
    priority: Priority
    deadline_s: float
    units: int = 1
    handling: Handling = field(default_factory=Handling)
    #: "lab", "med", "round", "draw", "ed_lab", "ed_med".
    source: str = ""

    def to_json(self, clock0_s: float = 0.0) -> dict[str, object]:
        """The body of ``POST /api/v1/tasks`` (times as seconds on the campus clock)."""
        return {
            "pickup": self.pickup,
            "dropoff": self.dropoff,
            "priority": self.priority.value,
            "kind": self.kind.value,
            "units": self.units,
            "handling": {
                "cold_chain": self.handling.cold_chain,
                "controlled": self.handling.controlled,
                "max_transit_s": self.handling.max_transit_s,
            },
            "earliest_s": int(clock0_s + self.at_s),
            "deadline_s": int(clock0_s + self.deadline_s),
            "requester": self.source,
        }


def hourly_arrivals(
    rng: np.random.Generator,
    per_day: Callable[[int], float],
    profile: list[float],
    start_offset_s: int,
    end_s: float,
) -> np.ndarray:
    """Sorted arrival times in ``[0, end_s)`` (simulation seconds) of a piecewise-constant NHPP.

    ``per_day(weekday)`` is the day's volume; ``profile`` the 24 hourly weights; simulation time 0
    is ``start_offset_s`` seconds after Monday 00:00.
    """
    weights = np.asarray(profile, dtype=float)
    shares = weights / weights.sum()
    out: list[np.ndarray] = []
    t = 0.0
    while t < end_s:
        clock = start_offset_s + t
        hour_start = math.floor(clock / HOUR) * HOUR
        block_end = min(hour_start + HOUR - start_offset_s, end_s)
        length = block_end - t
        weekday = int(clock // DAY) % 7
        hour = int(clock // HOUR) % 24
        rate = per_day(weekday) * shares[hour] / HOUR
        n = rng.poisson(rate * length) if rate > 0 else 0
        if n:
            out.append(np.sort(rng.uniform(t, block_end, n)))
        t = block_end
    return np.concatenate(out) if out else np.zeros(0)


def pick_priority(rng: np.random.Generator, mix: PriorityMix, n: int) -> list[Priority]:
    u = rng.random(n)
    return [
        Priority.STAT if x < mix.stat else Priority.URGENT if x < mix.stat + mix.urgent else Priority.ROUTINE for x in u
    ]


def ward_requests(scenario: Scenario, site: Site, streams: Streams) -> list[Request]:
    """Specimens to the lab, on-demand doses and round batches from the pharmacy, for the whole run."""
    d = scenario.demand
    mult = d.multiplier
    end = scenario.end_s
    off = scenario.start_offset_s
    stations = [s for s, _ in site.wards]
    patients = np.array([n for _, n in site.wards], dtype=float)
    total = patients.sum()
    out: list[Request] = []
    if total <= 0 or not stations:
        return out
    ward_p = patients / total

    # specimens
    lab = d.lab
    adhoc_share = 1.0 - lab.round_share if lab.draw_rounds else 1.0
    per_day = total * lab.tests_per_inpatient_day * adhoc_share / lab.tests_per_specimen * lab.robot_share * mult
    rng = streams["lab_requests"]
    times = hourly_arrivals(rng, lambda _wd: per_day, lab.hourly_profile, off, end)
    wards = rng.choice(len(stations), size=len(times), p=ward_p)
    prios = pick_priority(rng, lab.priority, len(times))
    transit = int(lab.max_transit_min * 60) if lab.max_transit_min else None
    for t, w, p in zip(times, wards, prios, strict=True):
        out.append(
            Request(
                float(t),
                TaskKind.SPECIMEN,
                stations[w],
                site.lab,
                p,
                float(t) + scenario.demand.turnaround_min.seconds(p),
                1,
                Handling(max_transit_s=transit),
                "lab",
            )
        )

    # on-demand doses
    med = d.medication
    per_day = total * med.on_demand_per_patient_day * mult
    rng = streams["med_requests"]
    times = hourly_arrivals(rng, lambda _wd: per_day, med.hourly_profile, off, end)
    wards = rng.choice(len(stations), size=len(times), p=ward_p)
    prios = pick_priority(rng, med.priority, len(times))
    u = rng.random((len(times), 2))
    caps = scenario.fleet.cold_box_share > 0
    for (t, w, p), (uc, uk) in zip(zip(times, wards, prios, strict=True), u, strict=True):
        handling = Handling(
            cold_chain=bool(caps and uc < med.cold_chain_share), controlled=bool(uk < med.controlled_share)
        )
        out.append(
            Request(
                float(t),
                TaskKind.MEDICATION,
                site.pharmacy,
                stations[w],
                p,
                float(t) + scenario.demand.turnaround_min.seconds(p),
                1,
                handling,
                "med",
            )
        )

    # medication rounds: one batch per ward per round, requested round_lead_min before it, due at the round
    rng = streams["med_rounds"]
    cap = scenario.fleet.capacity_units
    out.extend(
        _rounds(
            rng,
            site,
            scenario,
            med.rounds,
            med.round_lead_min * 60,
            med.round_units_per_25_beds,
            cap,
            lambda station, at, due, units: Request(
                at, TaskKind.MEDICATION, site.pharmacy, station, Priority.ROUTINE, due, units, Handling(), "round"
            ),
        )
    )
    # phlebotomy rounds: each ward's box of tubes, sent when the round ends, urgent
    if lab.draw_rounds and lab.round_share > 0:
        out.extend(
            _rounds(
                streams["lab_rounds"],
                site,
                scenario,
                lab.draw_rounds,
                0.0,
                lab.round_units_per_25_beds,
                cap,
                lambda station, at, due, units: Request(
                    at,
                    TaskKind.SPECIMEN,
                    station,
                    site.lab,
                    Priority.URGENT,
                    at + scenario.demand.turnaround_min.seconds(Priority.URGENT),
                    units,
                    Handling(max_transit_s=transit),
                    "draw",
                ),
            )
        )
    out.sort(key=lambda r: (r.at_s, r.source, r.dropoff))
    return out


def _rounds(
    rng: np.random.Generator,
    site: Site,
    scenario: Scenario,
    times: list[str],
    lead_s: float,
    units_per_25: float,
    cap: int,
    make: Callable[[str, float, float, int], Request],
) -> list[Request]:
    """One request per ward per round: filed ``lead_s`` before the round (wards within ten minutes
    of each other), due at the round (or ``make`` decides)."""
    mult = scenario.demand.multiplier
    off = scenario.start_offset_s
    end = scenario.end_s
    out: list[Request] = []
    if mult <= 0:
        return out
    days = math.ceil((off + end) / DAY) + 1
    for day in range(days):
        for r in times:
            due_clock = day * DAY + hhmm_seconds(r)
            at = due_clock - lead_s - off
            if at + 600 < 0 or at >= end:
                continue
            jitter = rng.uniform(0, 600, len(site.wards))
            for k, (station, n) in enumerate(site.wards):
                t = at + float(jitter[k])
                if n <= 0 or t < 0 or t >= end:
                    continue
                units = min(cap, max(1, math.ceil(n / 25 * units_per_25 * mult)))
                out.append(make(station, t, max(t + 60.0, due_clock - off), units))
    return out


def ed_lab_priority(level: int) -> Priority:
    """Priority of an ED patient's laboratory specimen by triage level."""
    return Priority.STAT if level <= 3 else Priority.URGENT


def ed_medication_priority(level: int) -> Priority:
    """Priority of an ED patient's medication by triage level."""
    return Priority.STAT if level <= 2 else Priority.URGENT if level == 3 else Priority.ROUTINE


def ed_requests_for(level: int, at_s: float, site: Site, scenario: Scenario, rng: np.random.Generator) -> list[Request]:
    """Deliveries an ED patient of triage ``level`` causes on reaching a bay (drawn from ``rng``)."""
    ed = scenario.demand.ed
    spot = site.ed_spot.get(level)
    if spot is None or not site.lab:
        return []
    u_lab, u_med = rng.random(2)
    out: list[Request] = []
    if u_lab < ed.lab_share[level - 1]:
        p = ed_lab_priority(level)
        transit = int(scenario.demand.lab.max_transit_min * 60) if scenario.demand.lab.max_transit_min else None
        out.append(
            Request(
                at_s,
                TaskKind.SPECIMEN,
                spot,
                site.lab,
                p,
                at_s + scenario.demand.turnaround_min.seconds(p),
                1,
                Handling(max_transit_s=transit),
                "ed_lab",
            )
        )
    if u_med < ed.medication_share[level - 1]:
        p = ed_medication_priority(level)
        out.append(
            Request(
                at_s,
                TaskKind.MEDICATION,
                site.pharmacy,
                spot,
                p,
                at_s + scenario.demand.turnaround_min.seconds(p),
                1,
                Handling(),
                "ed_med",
            )
        )
    return out


def delivery_requests(scenario: Scenario, site: Site, replication: int = 0) -> Iterator[Request]:
    """Every delivery request of one replication in time order, ED ones included.

    The twin itself derives ED requests from the triage engine's levels as patients reach a bay;
    this stand-alone generator (for ``sim live`` and load tests) draws the ED levels from the
    scenario's acuity mix at arrival instead, so it needs no patient flow.
    """
    streams = Streams(scenario.seed, replication)
    reqs = ward_requests(scenario, site, streams)
    ed = scenario.demand.ed
    rng = streams["ed_arrivals"]
    times = hourly_arrivals(
        rng,
        lambda _wd: ed.arrivals_per_day * scenario.demand.multiplier,
        ed.hourly_profile,
        scenario.start_offset_s,
        scenario.end_s,
    )
    levels = rng.choice(5, size=len(times), p=np.asarray(ed.acuity_mix) / sum(ed.acuity_mix)) + 1
    erng = streams["ed_requests"]
    for t, lv in zip(times, levels, strict=True):
        reqs.extend(ed_requests_for(int(lv), float(t), site, scenario, erng))
    reqs.sort(key=lambda r: (r.at_s, r.source, r.dropoff))
    yield from reqs
