"""The mapping tables of the FHIR intake: data files a hospital's IT staff read and change.

    tables = load_tables()                       # hospital_ops/data/fhir/*.yaml, checked against the campus
    tables = load_tables(Path("/etc/hospital-ops/fhir"), campus=campus)

Four files (each documented in its own comments):

- ``drugs.yaml``      medication codings -> controlled-substance schedule, cold chain, drawer units
- ``lab_tests.yaml``  laboratory test codings -> specimen maximum transit, cold chain, units
- ``locations.yaml``  HIS ward codes -> campus wards; HIS department codes -> outpatient departments
- ``intake.yaml``     identifier systems, FHIR priority -> delivery priority, service levels

Every file is validated on load; a mistake raises :class:`MappingError` naming the file, the entry
and the reason (``drugs.yaml: drugs[3] (N02AA01): schedule: 'CII' is not one of narcotic, ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hospital_ops.campus import Campus, LocationKind, default_campus
from hospital_ops.domain import Priority

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data" / "fhir"
FILES = ("drugs.yaml", "lab_tests.yaml", "locations.yaml", "intake.yaml")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
FHIR_PRIORITIES = ("routine", "urgent", "asap", "stat")


class MappingError(ValueError):
    """A mapping table is wrong; the message names the file, the entry and the reason."""


@dataclass(frozen=True, slots=True)
class Drug:
    code: str
    system: str
    name: str
    schedule: str | None
    cold_chain: bool
    units: int = 1
    also: tuple[tuple[str, str], ...] = ()

    @property
    def controlled(self) -> bool:
        return self.schedule is not None


@dataclass(frozen=True, slots=True)
class LabTest:
    code: str
    system: str
    name: str
    max_transit_s: int
    cold_chain: bool
    units: int = 1
    also: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MedicationLevel:
    dispense_s: int
    deliver_within_s: int


@dataclass(frozen=True, slots=True)
class MappingTables:
    """The four tables, indexed by (system, code)."""

    drugs: dict[tuple[str, str], Drug]
    lab_tests: dict[tuple[str, str], LabTest]
    #: HIS ward code -> campus ward id
    wards: dict[str, str]
    #: HIS department code -> campus OUTPATIENT_DEPT location id
    departments: dict[str, str]
    location_system: str
    accept_campus_ids: bool
    mrn_system: str
    order_system: str
    appointment_system: str
    priorities: dict[str, Priority]
    pharmacy_location: str
    laboratory_location: str
    medication: dict[Priority, MedicationLevel]
    specimen_turnaround_s: dict[Priority, int]
    #: campus ward id -> nurse-station location id; campus department ids
    ward_stations: dict[str, str] = field(default_factory=dict)
    campus_departments: frozenset[str] = frozenset()
    source: str = ""

    def drug(self, system: str | None, code: str | None) -> Drug | None:
        return self.drugs.get((system or "", code or ""))

    def lab_test(self, system: str | None, code: str | None) -> LabTest | None:
        return self.lab_tests.get((system or "", code or ""))

    def ward_for(self, code: str) -> str | None:
        """Campus ward id of a HIS ward code (or of a campus ward id, when accepted)."""
        if code in self.wards:
            return self.wards[code]
        if self.accept_campus_ids and code in self.ward_stations:
            return code
        return None

    def department_for(self, code: str) -> str | None:
        """Campus OUTPATIENT_DEPT location of a HIS department code (or of a campus id, when accepted)."""
        if code in self.departments:
            return self.departments[code]
        if self.accept_campus_ids and code in self.campus_departments:
            return code
        return None


def parse_duration(value: Any, where: str) -> int:
    """Seconds of "90s" / "15m" / "4h" / "1d" (or a positive whole number of seconds)."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNIT_S[m.group(2)]
    else:
        raise MappingError(f"{where}: {value!r} is not a duration (write it like 90s, 30m, 4h)")
    if seconds <= 0:
        raise MappingError(f"{where}: must be longer than zero, got {value!r}")
    return seconds


def _read(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{name}: cannot read {path} ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise MappingError(f"{name}: not valid YAML{where} ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise MappingError(f"{name}: expected a mapping at the top level")
    return data


def _refuse_unknown(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise MappingError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _text(entry: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if value is None:
        raise MappingError(f"{where}: {key}: missing")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where}: {key}: must be non-empty text, got {value!r}")
    return value.strip()


def _bool(entry: Mapping[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise MappingError(f"{where}: {key}: must be true or false, got {value!r}")
    return value


def _units(entry: Mapping[str, Any], where: str) -> int:
    value = entry.get("units", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8:
        raise MappingError(f"{where}: units: must be a whole number of drawer slots 1-8, got {value!r}")
    return value


def _also(entry: Mapping[str, Any], default_system: str, where: str) -> tuple[tuple[str, str], ...]:
    value = entry.get("also", [])
    if not isinstance(value, list):
        raise MappingError(f"{where}: also: must be a list of {{system, code}}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise MappingError(f"{where}: also[{i}]: must be a mapping with code (and system)")
        _refuse_unknown(item, {"system", "code"}, f"{where}: also[{i}]")
        out.append(
            (_text(item, "system", f"{where}: also[{i}]", default_system), _text(item, "code", f"{where}: also[{i}]"))
        )
    return tuple(out)


def _entries(data: Mapping[str, Any], key: str, name: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise MappingError(f"{name}: {key}: must be a non-empty list")
    return value


def _index(table: dict[tuple[str, str], Any], codings: list[tuple[str, str]], item: Any, name: str, where: str) -> None:
    for coding in codings:
        if coding in table:
            raise MappingError(
                f"{name}: {where}: coding {coding[0]}|{coding[1]} is already used by {table[coding].name!r}"
            )
        table[coding] = item


def _load_drugs(directory: Path) -> dict[tuple[str, str], Drug]:
    name = "drugs.yaml"
    data = _read(directory, name)
    _refuse_unknown(data, {"system", "schedules", "drugs"}, name)
    system = _text(data, "system", name)
    schedules = data.get("schedules", [])
    if not isinstance(schedules, list) or not all(isinstance(s, str) and s for s in schedules):
        raise MappingError(f"{name}: schedules: must be a list of schedule names")
    table: dict[tuple[str, str], Drug] = {}
    for i, entry in enumerate(_entries(data, "drugs", name)):
        where = f"drugs[{i}]"
        if not isinstance(entry, dict):
            raise MappingError(f"{name}: {where}: must be a mapping")
        if "code" in entry:
            where += f" ({entry['code']})"
        _refuse_unknown(
            entry, {"code", "system", "name", "schedule", "cold_chain", "units", "also"}, f"{name}: {where}"
        )
        schedule = entry.get("schedule")
        if schedule is not None and schedule not in schedules:
            raise MappingError(
                f"{name}: {where}: schedule: {schedule!r} is not one of {', '.join(schedules)} (or null)"
            )
        drug = Drug(
            code=_text(entry, "code", f"{name}: {where}"),
            system=_text(entry, "system", f"{name}: {where}", system),
            name=_text(entry, "name", f"{name}: {where}"),
            schedule=schedule,
            cold_chain=_bool(entry, "cold_chain", f"{name}: {where}"),
            units=_units(entry, f"{name}: {where}"),
            also=_also(entry, system, f"{name}: {where}"),
        )
        _index(table, [(drug.system, drug.code), *drug.also], drug, name, where)
    return table


def _load_lab_tests(directory: Path) -> dict[tuple[str, str], LabTest]:
    name = "lab_tests.yaml"
    data = _read(directory, name)
    _refuse_unknown(data, {"system", "tests"}, name)
    system = _text(data, "system", name)
    table: dict[tuple[str, str], LabTest] = {}
    for i, entry in enumerate(_entries(data, "tests", name)):
        where = f"tests[{i}]"
        if not isinstance(entry, dict):
            raise MappingError(f"{name}: {where}: must be a mapping")
        if "code" in entry:
            where += f" ({entry['code']})"
        _refuse_unknown(
            entry, {"code", "system", "name", "max_transit", "cold_chain", "units", "also"}, f"{name}: {where}"
        )
        if "max_transit" not in entry:
            raise MappingError(f"{name}: {where}: max_transit: missing (the specimen's stability, e.g. 30m)")
        test = LabTest(
            code=_text(entry, "code", f"{name}: {where}"),
            system=_text(entry, "system", f"{name}: {where}", system),
            name=_text(entry, "name", f"{name}: {where}"),
            max_transit_s=parse_duration(entry["max_transit"], f"{name}: {where}: max_transit"),
            cold_chain=_bool(entry, "cold_chain", f"{name}: {where}"),
            units=_units(entry, f"{name}: {where}"),
            also=_also(entry, system, f"{name}: {where}"),
        )
        _index(table, [(test.system, test.code), *test.also], test, name, where)
    return table


def _code_map(
    data: Mapping[str, Any], key: str, name: str, valid: set[str] | frozenset[str], what: str
) -> dict[str, str]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise MappingError(f"{name}: {key}: must be a mapping of HIS code -> {what}")
    out: dict[str, str] = {}
    for code, target in value.items():
        where = f"{name}: {key}[{code!r}]"
        if not isinstance(code, str | int) or not str(code).strip():
            raise MappingError(f"{where}: the HIS code must be non-empty text")
        if not isinstance(target, str) or target not in valid:
            raise MappingError(f"{where}: {target!r} is not a {what} of the campus")
        out[str(code).strip()] = target
    return out


def _load_locations(directory: Path, campus: Campus) -> tuple[dict[str, str], dict[str, str], str, bool]:
    name = "locations.yaml"
    data = _read(directory, name)
    _refuse_unknown(data, {"system", "accept_campus_ids", "wards", "departments"}, name)
    ward_ids = {w.id for w in campus.wards}
    dept_ids = {loc.id for loc in campus.by_kind(LocationKind.OUTPATIENT_DEPT)}
    wards = _code_map(data, "wards", name, ward_ids, "ward id")
    departments = _code_map(data, "departments", name, dept_ids, "outpatient department location id")
    accept = data.get("accept_campus_ids", True)
    if not isinstance(accept, bool):
        raise MappingError(f"{name}: accept_campus_ids: must be true or false, got {accept!r}")
    return wards, departments, _text(data, "system", name), accept


def _location(data: Mapping[str, Any], key: str, name: str, campus: Campus, kind: LocationKind) -> str:
    value = _text(data, key, name)
    loc = campus.locations.get(value)
    if loc is None:
        raise MappingError(f"{name}: {key}: {value!r} is not a location of the campus")
    if loc.kind is not kind:
        raise MappingError(f"{name}: {key}: {value!r} is a {loc.kind.value}, not a {kind.value}")
    return value


def _per_priority(
    data: Mapping[str, Any], key: str, name: str, fields: tuple[str, ...]
) -> dict[Priority, dict[str, int]]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise MappingError(f"{name}: {key}: must map each of stat, urgent, routine to {', '.join(fields)}")
    _refuse_unknown(value, {p.value for p in Priority}, f"{name}: {key}")
    out: dict[Priority, dict[str, int]] = {}
    for p in Priority:
        level = value.get(p.value)
        where = f"{name}: {key}.{p.value}"
        if not isinstance(level, dict):
            raise MappingError(f"{where}: missing (give {', '.join(fields)})")
        _refuse_unknown(level, set(fields), where)
        out[p] = {}
        for f in fields:
            if f not in level:
                raise MappingError(f"{where}: {f}: missing")
            out[p][f] = parse_duration(level[f], f"{where}: {f}")
    return out


def load_tables(directory: Path | str | None = None, *, campus: Campus | None = None) -> MappingTables:
    """Load and check the four tables from ``directory`` (default: the shipped ones)."""
    where = Path(directory) if directory is not None else DEFAULT_DIR
    campus = campus or default_campus()
    drugs = _load_drugs(where)
    lab_tests = _load_lab_tests(where)
    wards, departments, location_system, accept = _load_locations(where, campus)

    name = "intake.yaml"
    data = _read(where, name)
    _refuse_unknown(
        data,
        {"identifiers", "priorities", "pharmacy_location", "laboratory_location", "medication", "specimen"},
        name,
    )
    ids = data.get("identifiers")
    if not isinstance(ids, dict):
        raise MappingError(f"{name}: identifiers: must map mrn, order, appointment to identifier systems")
    _refuse_unknown(ids, {"mrn", "order", "appointment"}, f"{name}: identifiers")
    prio = data.get("priorities")
    if not isinstance(prio, dict):
        raise MappingError(f"{name}: priorities: must map each FHIR priority to stat, urgent or routine")
    _refuse_unknown(prio, set(FHIR_PRIORITIES), f"{name}: priorities")
    priorities: dict[str, Priority] = {}
    for p in FHIR_PRIORITIES:
        if p not in prio:
            raise MappingError(f"{name}: priorities.{p}: missing (one of stat, urgent, routine)")
        try:
            priorities[p] = Priority(prio[p])
        except ValueError:
            raise MappingError(f"{name}: priorities.{p}: {prio[p]!r} is not one of stat, urgent, routine") from None
    med = _per_priority(data, "medication", name, ("dispense", "deliver_within"))
    for p, level in med.items():
        if level["deliver_within"] < level["dispense"]:
            raise MappingError(f"{name}: medication.{p.value}: deliver_within is shorter than dispense")
    spec = _per_priority(data, "specimen", name, ("turnaround",))
    stations = {w.id: w.station for w in campus.wards}
    return MappingTables(
        drugs=drugs,
        lab_tests=lab_tests,
        wards=wards,
        departments=departments,
        location_system=location_system,
        accept_campus_ids=accept,
        mrn_system=_text(ids, "mrn", f"{name}: identifiers"),
        order_system=_text(ids, "order", f"{name}: identifiers"),
        appointment_system=_text(ids, "appointment", f"{name}: identifiers"),
        priorities=priorities,
        pharmacy_location=_location(data, "pharmacy_location", name, campus, LocationKind.PHARMACY),
        laboratory_location=_location(data, "laboratory_location", name, campus, LocationKind.LAB),
        medication={p: MedicationLevel(v["dispense"], v["deliver_within"]) for p, v in med.items()},
        specimen_turnaround_s={p: v["turnaround"] for p, v in spec.items()},
        ward_stations=stations,
        campus_departments=frozenset(loc.id for loc in campus.by_kind(LocationKind.OUTPATIENT_DEPT)),
        source=str(where),
    )


@lru_cache(maxsize=1)
def default_tables() -> MappingTables:
    """The shipped tables over the default campus (cached)."""
    return load_tables()
