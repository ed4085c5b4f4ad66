"""The campus model: buildings, floors, locations, wards, lifts and links, and travel between them.

One YAML file describes the campus (``data/campus.yaml`` is the default 5,037-bed campus). The
loader validates it and answers a bad file with :class:`CampusError` naming the file, the entry
and the reason. Travel times are integer seconds from a directed graph in which every floor of
every building has a lift lobby; locations join their floor's lobby, links (corridors, bridges,
tunnels) join lobbies of different buildings, and each lift is a chain of car nodes:
boarding costs the expected wait plus the door time, each floor passed costs ``seconds_per_floor``,
alighting costs the door time. Edge weights are integer seconds at the robot's speed, so shortest
paths are exact integers and obey the triangle inequality.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


class CampusError(ValueError):
    """A campus file that cannot be used; the message names the file, the entry and the reason."""


class LocationKind(StrEnum):
    NURSE_STATION = "nurse_station"
    PHARMACY = "pharmacy"
    LAB = "lab"
    ED = "ed"
    ED_TRIAGE = "ed_triage"
    KIOSK = "kiosk"
    DOCK = "dock"
    OUTPATIENT_DEPT = "outpatient_dept"
    LIFT_LOBBY = "lift_lobby"
    JUNCTION = "junction"


#: Where robots pick up or drop off.
DELIVERY_KINDS = frozenset(
    {LocationKind.NURSE_STATION, LocationKind.PHARMACY, LocationKind.LAB, LocationKind.ED, LocationKind.OUTPATIENT_DEPT}
)


@dataclass(frozen=True, slots=True)
class Lift:
    id: str
    building: str
    floors: tuple[str, ...]
    capacity: int
    seconds_per_floor: float
    door_s: int
    mean_wait_s: int


@dataclass(frozen=True, slots=True)
class Building:
    id: str
    name: str
    name_zh: str
    kind: str
    floors: tuple[str, ...]
    origin: tuple[float, float]
    lifts: tuple[Lift, ...]

    def level(self, floor: str) -> int:
        """Position of a floor in the building's stack (B1 below 1, no floor 0)."""
        return self.floors.index(floor)


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    kind: LocationKind
    building: str
    floor: str
    x: float
    y: float
    name: str = ""
    name_zh: str = ""
    beds: int = 0
    ward: str | None = None


@dataclass(frozen=True, slots=True)
class Ward:
    id: str
    name: str
    name_zh: str
    building: str
    floor: str
    beds: int
    station: str


@dataclass(frozen=True, slots=True)
class Link:
    start: str  # "BUILDING@FLOOR"
    end: str
    metres: float
    kind: str
    one_way: bool = False


@dataclass(frozen=True, slots=True)
class Leg:
    """Part of a route: a walk between two graph nodes, or one lift ride."""

    kind: str  # "walk" | "lift"
    start: str
    end: str
    metres: int
    seconds: int
    lift: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    start: str
    end: str
    legs: tuple[Leg, ...]
    seconds: int
    metres: int

    @property
    def lifts(self) -> tuple[str, ...]:
        return tuple(leg.lift for leg in self.legs if leg.lift)


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Travel among a set of points: ``seconds[i, j]`` and ``metres[i, j]`` for ``points[i] → points[j]``."""

    points: tuple[str, ...]
    index: dict[str, int]
    seconds: np.ndarray
    metres: np.ndarray


#: Seconds are multiplied by this before metres are added into one edge weight (metres < SCALE).
_SCALE = 1_000_000


def lobby_id(building: str, floor: str) -> str:
    return f"{building}@{floor}"


def _car_id(lift: str, floor: str) -> str:
    return f"lift:{lift}:{floor}"


@dataclass
class _Graph:
    nodes: list[str]
    index: dict[str, int]
    #: per edge: (u, v, metres, lift_seconds, lift_id)
    edges: list[tuple[int, int, float, float, str | None]]


@dataclass
class Campus:
    """A validated campus. Build it with :func:`load_campus` or :func:`default_campus`."""

    name: str
    name_zh: str
    buildings: dict[str, Building]
    locations: dict[str, Location]
    wards: list[Ward]
    links: list[Link]
    source: str = "<memory>"
    fingerprint: str = ""
    #: The hospital's IANA time zone from the file's optional ``timezone`` (None: not stated); the
    #: setting ``HOSPITAL_OPS_TIMEZONE`` overrides it (``hospital_ops.config.hospital_zone``).
    timezone: str | None = None
    _graph: _Graph | None = field(default=None, repr=False)
    _weights: dict[float, csr_matrix] = field(default_factory=dict, repr=False)
    _matrix_cache: OrderedDict[tuple[tuple[str, ...], float], TravelMatrix] = field(
        default_factory=OrderedDict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ---- queries -------------------------------------------------------------------------
    @property
    def total_beds(self) -> int:
        return sum(w.beds for w in self.wards)

    @property
    def lifts(self) -> list[Lift]:
        return [lift for b in self.buildings.values() for lift in b.lifts]

    def by_kind(self, kind: LocationKind | str) -> list[Location]:
        k = LocationKind(kind)
        return [loc for loc in self.locations.values() if loc.kind is k]

    def delivery_points(self) -> list[str]:
        return [loc.id for loc in self.locations.values() if loc.kind in DELIVERY_KINDS]

    def ward_of_station(self, station: str) -> Ward | None:
        return next((w for w in self.wards if w.station == station), None)

    def location(self, loc_id: str) -> Location:
        try:
            return self.locations[loc_id]
        except KeyError:
            raise KeyError(f"unknown location {loc_id!r}") from None

    # ---- graph ---------------------------------------------------------------------------
    def _build_graph(self) -> _Graph:
        nodes: list[str] = []
        index: dict[str, int] = {}

        def node(name: str) -> int:
            if name not in index:
                index[name] = len(nodes)
                nodes.append(name)
            return index[name]

        edges: list[tuple[int, int, float, float, str | None]] = []

        def walk(a: str, b: str, metres: float, one_way: bool = False) -> None:
            ia, ib = node(a), node(b)
            edges.append((ia, ib, metres, 0.0, None))
            if not one_way:
                edges.append((ib, ia, metres, 0.0, None))

        for loc in self.locations.values():
            node(loc.id)
        for b in self.buildings.values():
            for f in b.floors:
                node(lobby_id(b.id, f))
        for loc in self.locations.values():
            b = self.buildings[loc.building]
            metres = abs(loc.x - b.origin[0]) + abs(loc.y - b.origin[1])  # corridors are rectilinear
            walk(loc.id, lobby_id(b.id, loc.floor), max(metres, 1.0))
        for link in self.links:
            walk(link.start, link.end, link.metres, link.one_way)
        for b in self.buildings.values():
            for lift in b.lifts:
                served = list(lift.floors)
                for f in served:
                    car, lobby = node(_car_id(lift.id, f)), node(lobby_id(b.id, f))
                    edges.append((lobby, car, 0.0, float(lift.mean_wait_s + lift.door_s), lift.id))
                    edges.append((car, lobby, 0.0, float(lift.door_s), lift.id))
                for f1, f2 in itertools.pairwise(served):
                    ride = lift.seconds_per_floor * abs(b.level(f2) - b.level(f1))
                    c1, c2 = node(_car_id(lift.id, f1)), node(_car_id(lift.id, f2))
                    edges.append((c1, c2, 0.0, ride, lift.id))
                    edges.append((c2, c1, 0.0, ride, lift.id))
        return _Graph(nodes, index, edges)

    @property
    def graph(self) -> _Graph:
        if self._graph is None:
            self._graph = self._build_graph()
        return self._graph

    def _csr(self, speed_mps: float) -> csr_matrix:
        """Sparse adjacency at a speed, weight = seconds·SCALE + metres (both integers).

        One Dijkstra over this weight gives the time-shortest path (ties broken by the shorter
        walk) and both its seconds (``w // SCALE``) and metres (``w % SCALE``), exactly: the
        values stay far below 2**53.
        """
        with self._lock:
            if speed_mps not in self._weights:
                g = self.graph
                n = len(g.nodes)
                best: dict[tuple[int, int], int] = {}
                for u, v, m, lift_s, _ in g.edges:
                    w = max(1, int(np.ceil(m / speed_mps + lift_s))) * _SCALE + round(m)
                    if (u, v) not in best or w < best[(u, v)]:
                        best[(u, v)] = w
                rows = np.fromiter((k[0] for k in best), dtype=np.int32, count=len(best))
                cols = np.fromiter((k[1] for k in best), dtype=np.int32, count=len(best))
                w_arr = np.fromiter(best.values(), dtype=np.float64, count=len(best))
                self._weights[speed_mps] = csr_matrix((w_arr, (rows, cols)), shape=(n, n))
            return self._weights[speed_mps]

    def _check_point(self, loc: str) -> int:
        if loc not in self.locations:
            raise KeyError(f"unknown location {loc!r}")
        return self.graph.index[loc]

    def matrix(self, points: Sequence[str], speed_mps: float = 1.0) -> TravelMatrix:
        """All-pairs travel seconds and metres among ``points`` (time-shortest paths). Cached."""
        if speed_mps <= 0:
            raise ValueError("speed_mps: must be positive")
        key = (tuple(points), float(speed_mps))
        with self._lock:
            hit = self._matrix_cache.get(key)
            if hit is not None:
                self._matrix_cache.move_to_end(key)
                return hit
        idx = np.array([self._check_point(p) for p in points], dtype=np.int64)
        weights = self._csr(speed_mps)
        if len(idx) == 0:
            empty = np.zeros((0, 0), dtype=np.int64)
            return TravelMatrix((), {}, empty, empty)
        uniq, inverse = np.unique(idx, return_inverse=True)
        dist = dijkstra(weights, directed=True, indices=uniq)[:, uniq]
        if np.isinf(dist).any():
            raise CampusError(f"{self.source}: some of the requested points cannot reach each other")
        combined = dist.astype(np.int64)[inverse][:, inverse]
        seconds, metres = combined // _SCALE, combined % _SCALE
        tm = TravelMatrix(tuple(points), {p: i for i, p in enumerate(points)}, seconds, metres)
        with self._lock:
            self._matrix_cache[key] = tm
            while len(self._matrix_cache) > 16:
                self._matrix_cache.popitem(last=False)
        return tm

    def route(self, start: str, end: str, speed_mps: float = 1.0) -> Route:
        """The time-shortest route from ``start`` to ``end``, as walks and lift rides."""
        ia, ib = self._check_point(start), self._check_point(end)
        weights = self._csr(speed_mps)
        wdist, pred = dijkstra(weights, directed=True, indices=ia, return_predecessors=True)
        dist = np.floor_divide(wdist, _SCALE)
        if np.isinf(dist[ib]):
            raise CampusError(f"{self.source}: no route from {start} to {end}")
        path = [ib]
        while path[-1] != ia:
            path.append(int(pred[path[-1]]))
        path.reverse()
        nodes = self.graph.nodes
        legs: list[Leg] = []
        i = 0
        while i < len(path) - 1:
            u = path[i]
            v = path[i + 1]
            if nodes[v].startswith("lift:"):
                # boarding: follow the car chain to where we alight
                lift_name = nodes[v].split(":")[1]
                j = i + 1
                while nodes[path[j + 1]].startswith("lift:"):
                    j += 1
                exit_node = path[j + 1]
                secs = int(dist[exit_node] - dist[u])
                legs.append(Leg("lift", nodes[u], nodes[exit_node], 0, secs, lift_name))
                i = j + 1
            else:
                j = i
                metres = 0
                while j < len(path) - 1 and not nodes[path[j + 1]].startswith("lift:"):
                    metres += int(weights[path[j], path[j + 1]] % _SCALE)
                    j += 1
                secs = int(dist[path[j]] - dist[u])
                legs.append(Leg("walk", nodes[u], nodes[path[j]], metres, secs))
                i = j
        return Route(start, end, tuple(legs), int(dist[ib]), sum(leg.metres for leg in legs))

    def travel_s(self, start: str, end: str, speed_mps: float = 1.0) -> int:
        return int(self.matrix((start, end), speed_mps).seconds[0, 1]) if start != end else 0

    def distance_m(self, start: str, end: str, speed_mps: float = 1.0) -> int:
        return int(self.matrix((start, end), speed_mps).metres[0, 1]) if start != end else 0

    # ---- TravelTimes protocol for the planner ----------------------------------------------
    def seconds(self, a: str, b: str) -> int:
        return self.travel_s(a, b)

    def metres(self, a: str, b: str) -> int:
        return self.distance_m(a, b)


# ---- loading and validation ----------------------------------------------------------------

_REQUIRED_TOP = ("buildings", "locations", "wards")


def _fail(source: str, entry: str, reason: str) -> CampusError:
    return CampusError(f"{source}: {entry}: {reason}")


def _get(d: dict[str, Any], key: str, source: str, entry: str) -> Any:
    if not isinstance(d, dict):
        raise _fail(source, entry, "must be a mapping")
    if key not in d:
        raise _fail(source, entry, f"missing field '{key}'")
    return d[key]


def _number(v: Any, source: str, entry: str, field_name: str, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(source, entry, f"'{field_name}' must be a number, got {v!r}")
    if positive and v <= 0:
        raise _fail(source, entry, f"'{field_name}' must be positive, got {v}")
    if v < 0:
        raise _fail(source, entry, f"'{field_name}' must not be negative, got {v}")
    return float(v)


def parse_campus(data: Any, source: str = "<memory>") -> Campus:
    """Validate campus data (as read from YAML) and build a :class:`Campus`."""
    if not isinstance(data, dict):
        raise CampusError(f"{source}: the file must contain a mapping with {', '.join(_REQUIRED_TOP)}")
    for key in _REQUIRED_TOP:
        if key not in data:
            raise CampusError(f"{source}: missing top-level section '{key}'")
        if not isinstance(data[key], list):
            raise CampusError(f"{source}: '{key}' must be a list")
    known_top = {*_REQUIRED_TOP, "links", "name", "name_zh", "units", "timezone"}
    for key in data:
        if key not in known_top:
            raise CampusError(f"{source}: unknown top-level section '{key}' (expected one of {sorted(known_top)})")

    timezone = data.get("timezone")
    if timezone is not None:
        from hospital_ops.config import zone_info

        try:
            timezone = zone_info(timezone, setting="'timezone'").key
        except ValueError as exc:
            raise CampusError(f"{source}: {exc}") from None

    buildings: dict[str, Building] = {}
    lift_ids: set[str] = set()
    for i, b in enumerate(data["buildings"]):
        entry = f"buildings[{i}]"
        bid = str(_get(b, "id", source, entry))
        entry = f"buildings[{i}] ({bid})"
        if bid in buildings:
            raise _fail(source, entry, f"duplicate building id '{bid}'")
        floors = tuple(str(f) for f in _get(b, "floors", source, entry))
        if not floors:
            raise _fail(source, entry, "a building needs at least one floor")
        if len(set(floors)) != len(floors):
            raise _fail(source, entry, "duplicate floor in 'floors'")
        origin = b.get("origin", [0.0, 0.0])
        if not (isinstance(origin, list) and len(origin) == 2):
            raise _fail(source, entry, "'origin' must be [x, y] in metres")
        lifts: list[Lift] = []
        for j, lf in enumerate(b.get("lifts", []) or []):
            lentry = f"{entry}.lifts[{j}]"
            lid = str(_get(lf, "id", source, lentry))
            lentry = f"{entry}.lifts[{j}] ({lid})"
            if lid in lift_ids:
                raise _fail(source, lentry, f"duplicate lift id '{lid}'")
            lift_ids.add(lid)
            lfloors = tuple(str(f) for f in (lf.get("floors") or []))
            if len(lfloors) < 2:
                raise _fail(source, lentry, "a lift must serve at least two floors (it serves no floor otherwise)")
            for f in lfloors:
                if f not in floors:
                    raise _fail(source, lentry, f"serves floor '{f}' which building {bid} does not have")
            lfloors = tuple(sorted(lfloors, key=floors.index))
            cap = _get(lf, "capacity", source, lentry)
            if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
                raise _fail(source, lentry, f"'capacity' must be a whole number of robots ≥ 1, got {cap!r}")
            lifts.append(
                Lift(
                    id=lid,
                    building=bid,
                    floors=lfloors,
                    capacity=cap,
                    seconds_per_floor=_number(
                        _get(lf, "seconds_per_floor", source, lentry), source, lentry, "seconds_per_floor", True
                    ),
                    door_s=int(_number(lf.get("door_s", 6), source, lentry, "door_s")),
                    mean_wait_s=int(_number(lf.get("mean_wait_s", 20), source, lentry, "mean_wait_s")),
                )
            )
        if len(floors) > 1 and not lifts:
            raise _fail(source, entry, "a building with several floors needs at least one lift")
        buildings[bid] = Building(
            id=bid,
            name=str(b.get("name", bid)),
            name_zh=str(b.get("name_zh", "")),
            kind=str(b.get("kind", "")),
            floors=floors,
            origin=(float(origin[0]), float(origin[1])),
            lifts=tuple(lifts),
        )

    locations: dict[str, Location] = {}
    for i, loc in enumerate(data["locations"]):
        entry = f"locations[{i}]"
        lid = str(_get(loc, "id", source, entry))
        entry = f"locations[{i}] ({lid})"
        if lid in locations or lid in lift_ids or lid in buildings:
            raise _fail(source, entry, f"duplicate id '{lid}'")
        if "@" in lid or lid.startswith("lift:"):
            raise _fail(source, entry, "ids must not contain '@' or start with 'lift:' (reserved)")
        kind_raw = _get(loc, "kind", source, entry)
        try:
            kind = LocationKind(kind_raw)
        except ValueError:
            raise _fail(
                source, entry, f"unknown kind {kind_raw!r} (expected one of {[k.value for k in LocationKind]})"
            ) from None
        bid = str(_get(loc, "building", source, entry))
        if bid not in buildings:
            raise _fail(source, entry, f"unknown building '{bid}'")
        floor = str(_get(loc, "floor", source, entry))
        if floor not in buildings[bid].floors:
            raise _fail(source, entry, f"building {bid} has no floor '{floor}'")
        xy = loc.get("xy", list(buildings[bid].origin))
        if not (isinstance(xy, list) and len(xy) == 2):
            raise _fail(source, entry, "'xy' must be [x, y] in metres")
        locations[lid] = Location(
            id=lid,
            kind=kind,
            building=bid,
            floor=floor,
            x=float(xy[0]),
            y=float(xy[1]),
            name=str(loc.get("name", lid)),
            name_zh=str(loc.get("name_zh", "")),
        )

    wards: list[Ward] = []
    ward_ids: set[str] = set()
    for i, w in enumerate(data["wards"]):
        entry = f"wards[{i}]"
        wid = str(_get(w, "id", source, entry))
        entry = f"wards[{i}] ({wid})"
        if wid in ward_ids:
            raise _fail(source, entry, f"duplicate ward id '{wid}'")
        ward_ids.add(wid)
        beds = _get(w, "beds", source, entry)
        if not isinstance(beds, int) or isinstance(beds, bool) or beds <= 0:
            raise _fail(source, entry, f"a ward needs a whole, positive number of beds, got {beds!r}")
        station = str(_get(w, "station", source, entry))
        if station not in locations:
            raise _fail(source, entry, f"unknown location '{station}' as nurse station")
        st = locations[station]
        if st.kind is not LocationKind.NURSE_STATION:
            raise _fail(source, entry, f"station '{station}' is a {st.kind.value}, not a nurse_station")
        if st.ward is not None:
            raise _fail(source, entry, f"station '{station}' already serves ward {st.ward}")
        locations[station] = Location(
            id=st.id,
            kind=st.kind,
            building=st.building,
            floor=st.floor,
            x=st.x,
            y=st.y,
            name=str(w.get("name", wid)),
            name_zh=str(w.get("name_zh", "")),
            beds=beds,
            ward=wid,
        )
        wards.append(
            Ward(
                id=wid,
                name=str(w.get("name", wid)),
                name_zh=str(w.get("name_zh", "")),
                building=st.building,
                floor=st.floor,
                beds=beds,
                station=station,
            )
        )

    links: list[Link] = []
    for i, lk in enumerate(data.get("links") or []):
        entry = f"links[{i}]"
        ends = []
        for key in ("from", "to"):
            ref = str(_get(lk, key, source, entry))
            if "@" in ref:
                bid, _, floor = ref.partition("@")
                if bid not in buildings:
                    raise _fail(source, entry, f"'{key}' names unknown building '{bid}'")
                if floor not in buildings[bid].floors:
                    raise _fail(source, entry, f"'{key}': building {bid} has no floor '{floor}'")
            elif ref not in locations:
                raise _fail(source, entry, f"'{key}' names unknown location '{ref}'")
            ends.append(ref)
        links.append(
            Link(
                start=ends[0],
                end=ends[1],
                metres=_number(_get(lk, "metres", source, entry), source, entry, "metres", True),
                kind=str(lk.get("kind", "corridor")),
                one_way=bool(lk.get("one_way", False)),
            )
        )

    raw = yaml.safe_dump(data, sort_keys=True, allow_unicode=True).encode()
    campus = Campus(
        name=str(data.get("name", "campus")),
        name_zh=str(data.get("name_zh", "")),
        buildings=buildings,
        locations=locations,
        wards=wards,
        links=links,
        source=source,
        fingerprint=hashlib.sha256(raw).hexdigest()[:16],
        timezone=timezone,
    )
    _check_reachable(campus)
    return campus


def _check_reachable(campus: Campus) -> None:
    """Refuse a campus where a delivery point cannot reach, or be reached from, the others."""
    points = [
        loc.id for loc in campus.locations.values() if loc.kind in DELIVERY_KINDS or loc.kind is LocationKind.DOCK
    ]
    if len(points) < 2:
        return
    secs = campus._csr(1.0)
    idx = np.array([campus.graph.index[p] for p in points])
    hub = idx[0]
    fwd = dijkstra(secs, directed=True, indices=hub)
    back = dijkstra(secs.T.tocsr(), directed=True, indices=hub)
    for p, i in zip(points, idx, strict=True):
        if np.isinf(fwd[i]) or np.isinf(back[i]):
            loc = campus.locations[p]
            raise CampusError(
                f"{campus.source}: locations ({p}): unreachable from {points[0]} "
                f"(building {loc.building} floor {loc.floor} has no lift or link to the rest of the campus)"
            )


def load_campus(path: str | Path) -> Campus:
    """Read and validate a campus YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampusError(f"{p}: cannot read the campus file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CampusError(f"{p}: not valid YAML: {exc}") from None
    return parse_campus(data, source=str(p))


DEFAULT_CAMPUS_FILE = "campus.yaml"


def default_campus_path() -> Path:
    return Path(str(resources.files("hospital_ops") / "data" / DEFAULT_CAMPUS_FILE))


@cache
def default_campus() -> Campus:
    """The default 5,037-bed campus shipped with the product (loaded once per process)."""
    return load_campus(default_campus_path())
