"""The campus as the twin uses it: where things are, travel for the planner, routes for the robots.

:class:`Site` picks the places the twin needs from the campus model (pharmacy robot hatch,
laboratory, ED areas, docks, kiosks, clinics, wards with their occupied beds) and holds two travel
services, both derived from the campus graph and never hard-coded:

* :class:`SiteTravel` — the planner's ``TravelTimes``: one all-pairs matrix among every point a
  task or robot can be at, computed once per robot speed; ``matrix(points)`` is then a slice
  (microseconds) instead of a Dijkstra per planning call.
* :meth:`Site.route` — the walk and lift legs a robot drives, cached per pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hospital_ops.campus import Campus, CampusError, LocationKind, Route, default_campus, load_campus, parse_campus
from sim.scenario import Scenario, ScenarioError


@cache
def generated_campus(beds: int) -> Campus:
    """A campus of ``beds`` beds built by the same generator as the shipped one (cached)."""
    from hospital_ops.campus_gen import generate_campus

    return parse_campus(generate_campus(beds), source=f"<generated {beds}-bed campus>")


def campus_for(scenario: Scenario) -> Campus:
    """The campus a scenario names (file, generated size, or the shipped default)."""
    if scenario.campus_beds is not None:
        return generated_campus(scenario.campus_beds)
    if scenario.campus is None:
        return default_campus()
    p = Path(scenario.campus)
    if not p.is_absolute() and scenario.base_dir:
        p = Path(scenario.base_dir) / p
    try:
        return _load_cached(str(p.resolve()))
    except CampusError as exc:
        raise ScenarioError(f"campus: {exc}") from None


@cache
def _load_cached(path: str) -> Campus:
    return load_campus(path)


class SiteTravel:
    """``scheduler.travel.TravelTimes`` over a fixed set of points, with matrices precomputed."""

    def __init__(self, campus: Campus, points: list[str]) -> None:
        self.campus = campus
        self.points = tuple(dict.fromkeys(points))
        self.locations = campus.locations
        self._index = {p: i for i, p in enumerate(self.points)}
        self._full: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def _mats(self, speed_mps: float) -> tuple[np.ndarray, np.ndarray]:
        key = float(speed_mps)
        if key not in self._full:
            tm = self.campus.matrix(self.points, speed_mps=key)
            self._full[key] = (tm.seconds, tm.metres)
        return self._full[key]

    def _idx(self, p: str) -> int:
        try:
            return self._index[p]
        except KeyError:
            raise KeyError(f"unknown location {p!r}") from None

    def seconds(self, a: str, b: str) -> int:
        return int(self._mats(1.0)[0][self._idx(a), self._idx(b)])

    def metres(self, a: str, b: str) -> int:
        return int(self._mats(1.0)[1][self._idx(a), self._idx(b)])

    def matrix(self, points: Any, speed_mps: float = 1.0) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        pts = list(points)
        idx = np.fromiter((self._idx(p) for p in pts), dtype=np.int64, count=len(pts))
        sec, met = self._mats(speed_mps)
        sub = np.ix_(idx, idx)
        return {p: i for i, p in enumerate(pts)}, sec[sub], met[sub]


@dataclass(frozen=True, slots=True)
class Hop:
    """One leg of a robot's drive: a walk (``lift`` None) or a lift ride between two floors."""

    seconds: float
    metres: float
    lift: str | None = None
    building: str = ""
    #: Candidate lifts (same building, serving both floors), the route's own first.
    bank: tuple[str, ...] = ()


@dataclass
class Site:
    campus: Campus
    scenario: Scenario
    pharmacy: str
    lab: str
    #: ED drop-off point by triage level 1..5.
    ed_spot: dict[int, str]
    docks: list[str]
    op_kiosks: int
    ed_kiosks: int
    #: Outpatient department code (upper case, e.g. "CARD") → clinic location id.
    clinics: dict[str, str]
    #: (station, occupied beds) per ward.
    wards: list[tuple[str, int]]
    travel: SiteTravel
    _routes: dict[tuple[str, str], tuple[Hop, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, scenario: Scenario, campus: Campus | None = None) -> Site:
        campus = campus if campus is not None else campus_for(scenario)
        pharmacies = campus.by_kind(LocationKind.PHARMACY)
        labs = campus.by_kind(LocationKind.LAB)
        eds = campus.by_kind(LocationKind.ED)
        if scenario.stages.logistics and (not pharmacies or not labs):
            raise ScenarioError(f"campus: {campus.source} has no pharmacy or no lab; the logistics stage needs both")
        # the robots' pharmacy: a hatch/dock for robots if there is one, else the first pharmacy
        hatch = [p for p in pharmacies if "dock" in p.id.lower() or "robot" in p.name.lower()]
        candidates = hatch or pharmacies
        pharmacy = candidates[0] if candidates else None
        lab = labs[0].id if labs else ""

        def ed_named(*words: str) -> str | None:
            for w in words:
                for loc in eds:
                    if w in loc.id.upper():
                        return loc.id
            return eds[0].id if eds else None

        ed_spot: dict[int, str] = {}
        for level, words in ((1, ("RESUS",)), (2, ("ACUTE", "RESUS")), (3, ("ACUTE",)), (4, ("FAST",)), (5, ("FAST",))):
            spot = ed_named(*words)
            if spot is not None:
                ed_spot[level] = spot
        docks = [d.id for d in campus.by_kind(LocationKind.DOCK)]
        if scenario.stages.logistics and scenario.fleet.robots > 0 and not docks:
            raise ScenarioError(f"campus: {campus.source} has no charging dock; the robots need at least one")
        kiosks = campus.by_kind(LocationKind.KIOSK)
        n_ed_k = sum(1 for k in kiosks if k.building == "ED" or k.building in {e.building for e in eds})
        n_op_k = len(kiosks) - n_ed_k
        op_kiosks = scenario.kiosks.outpatient or n_op_k
        ed_kiosks = scenario.kiosks.emergency or n_ed_k
        if scenario.stages.patients and (op_kiosks < 1 or ed_kiosks < 1):
            raise ScenarioError(
                "kiosks: the campus has no outpatient or no ED kiosk; set kiosks.outpatient and kiosks.emergency"
            )
        clinics = {}
        for loc in campus.by_kind(LocationKind.OUTPATIENT_DEPT):
            code = loc.id.rsplit("-", 1)[-1].upper()
            clinics[code] = loc.id
        occ = scenario.demand.inpatients.occupancy
        wards = [(w.station, round(w.beds * occ)) for w in campus.wards]
        lift_ids = {lf.id for lf in campus.lifts}
        for i, outage in enumerate(scenario.faults.lift_outages):
            if outage.lift not in lift_ids:
                near = sorted(lift_ids)[:6]
                raise ScenarioError(
                    f"faults.lift_outages[{i}].lift: unknown lift {outage.lift!r} on campus {campus.name!r} "
                    f"(lifts are named like {', '.join(near)} …)"
                )
        points = [*campus.delivery_points(), *docks]
        return cls(
            campus=campus,
            scenario=scenario,
            pharmacy=pharmacy.id if pharmacy is not None else "",
            lab=lab,
            ed_spot=ed_spot,
            docks=docks,
            op_kiosks=op_kiosks,
            ed_kiosks=ed_kiosks,
            clinics=clinics,
            wards=wards,
            travel=SiteTravel(campus, points),
        )

    # ---- robot routes ------------------------------------------------------------------------
    def route(self, a: str, b: str) -> tuple[Hop, ...]:
        """The legs from ``a`` to ``b`` at the fleet's speed (cached)."""
        key = (a, b)
        hops = self._routes.get(key)
        if hops is None:
            hops = () if a == b else self._hops(self.campus.route(a, b, self.scenario.fleet.speed_mps))
            self._routes[key] = hops
        return hops

    def _hops(self, route: Route) -> tuple[Hop, ...]:
        out: list[Hop] = []
        for leg in route.legs:
            if leg.kind != "lift" or leg.lift is None:
                if out and out[-1].lift is None:  # merge consecutive walks
                    prev = out.pop()
                    out.append(Hop(prev.seconds + leg.seconds, prev.metres + leg.metres))
                else:
                    out.append(Hop(float(leg.seconds), float(leg.metres)))
                continue
            building, _, f1 = leg.start.partition("@")
            _, _, f2 = leg.end.partition("@")
            b = self.campus.buildings[building]
            bank = [leg.lift] + [lf.id for lf in b.lifts if lf.id != leg.lift and f1 in lf.floors and f2 in lf.floors]
            out.append(Hop(float(leg.seconds), 0.0, leg.lift, building, tuple(bank)))
        return tuple(out)

    def nearest_dock(self, loc: str) -> str:
        sec, _ = self.travel._mats(self.scenario.fleet.speed_mps)
        i = self.travel._idx(loc)
        return min(self.docks, key=lambda d: (int(sec[i, self.travel._idx(d)]), d))

    def travel_s(self, a: str, b: str) -> int:
        if a == b:
            return 0
        sec, _ = self.travel._mats(self.scenario.fleet.speed_mps)
        return int(sec[self.travel._idx(a), self.travel._idx(b)])

    def metres(self, a: str, b: str) -> int:
        if a == b:
            return 0
        _, met = self.travel._mats(self.scenario.fleet.speed_mps)
        return int(met[self.travel._idx(a), self.travel._idx(b)])


def ceil_units(x: float) -> int:
    return max(1, math.ceil(x - 1e-9))
