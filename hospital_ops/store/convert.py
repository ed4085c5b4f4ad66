"""Conversions: input (domain objects or plain mappings, e.g. parsed JSON) -> checked domain
objects -> rows, and rows -> domain objects.

:func:`build` validates through the domain type itself: it checks the kind of every field from the
dataclass's type hints (an ``int`` field refuses ``"10"`` and ``True``; an enum field refuses
values not in the enum, listing the allowed ones), converts nested mappings and lists, and then
calls the constructor so the type's own ``__post_init__`` checks run. Every error is an
``InvalidInputError`` naming the record and the field.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from hospital_ops.domain import (
    Capability,
    CheckIn,
    CheckInMethod,
    CustodyEvent,
    CustodyKind,
    DeliveryTask,
    Handling,
    Patient,
    Priority,
    Reason,
    Robot,
    RobotMode,
    Sex,
    TaskKind,
    TriageLevel,
    TriageResult,
    Vitals,
)
from hospital_ops.store.errors import InvalidInputError
from hospital_ops.store.models import CheckInRow, CustodyRow, PatientRow, RobotRow, TaskRow, TriageRow

T = TypeVar("T")

#: How errors name a record of each domain type ("task T-1: deadline_s: ...").
LABELS: dict[type, str] = {
    DeliveryTask: "task",
    Robot: "robot",
    Patient: "patient",
    CheckIn: "check-in",
}
E = TypeVar("E", bound=Enum)


def enum_value(enum_cls: type[E], value: Any, field: str, where: str = "") -> E:
    """``value`` as a member of ``enum_cls``, or an error listing the allowed values."""
    if isinstance(value, enum_cls):
        return value
    try:
        if isinstance(value, bool):
            raise ValueError
        return enum_cls(value)
    except (ValueError, TypeError):
        allowed = ", ".join(str(m.value) for m in enum_cls)
        raise InvalidInputError(f"{where}{field}: {value!r} is not one of {allowed}") from None


def text(value: Any, field: str, where: str = "", *, empty: bool = False) -> str:
    """A string (non-empty unless ``empty``), or an error naming the field."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}{field}: expected text, got {type(value).__name__}")
    if not empty and not value.strip():
        raise InvalidInputError(f"{where}{field}: must not be empty")
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check(value: Any, hint: Any, field: str, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check(value, inner, field, where)
    if value is None:
        raise InvalidInputError(f"{where}{field}: must not be empty (null)")
    if isinstance(hint, type) and issubclass(hint, Enum):
        return enum_value(hint, value, field, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise InvalidInputError(f"{where}{field}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"{where}{field}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInputError(f"{where}{field}: expected a finite number, got {value!r}")
        return float(value)
    if hint is str:
        return text(value, field, where, empty=True)
    if origin in (tuple, frozenset):
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise InvalidInputError(f"{where}{field}: expected a list, got {type(value).__name__}")
        item_hint = args[0]
        items = [_check(v, item_hint, f"{field}[{i}]", where) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else frozenset(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise InvalidInputError(f"{where}{field}: expected a mapping, got {type(value).__name__}")
        return {_check(k, args[0], field, where): _check(v, args[1], field, where) for k, v in value.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return build(hint, value, where=f"{where}{field}: ")
    raise TypeError(f"no check for {hint!r}")  # a domain type grew a field kind we do not know


def build(cls: type[T], data: T | Mapping[str, Any], *, where: str = "") -> T:
    """A checked instance of the domain dataclass ``cls`` from an instance or a mapping."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass")
    names = [f.name for f in dataclasses.fields(cls)]
    if isinstance(data, cls):
        values = {name: getattr(data, name) for name in names}
    elif isinstance(data, Mapping):
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise InvalidInputError(f"{where}unknown field(s) {', '.join(map(str, unknown))}")
        values = dict(data)
    else:
        raise InvalidInputError(f"{where}expected a {cls.__name__} or a mapping, got {type(data).__name__}")
    record_id = values.get("id")
    if not where and isinstance(record_id, str) and record_id:
        where = f"{LABELS.get(cls, cls.__name__)} {record_id}: "
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        checked[name] = _check(value, hints[name], name, where)
    missing = [
        name
        for name, f in fields.items()
        if name not in checked and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise InvalidInputError(f"{where}{', '.join(missing)}: required")
    try:
        return cls(**checked)
    except ValueError as exc:  # the type's own invariant (__post_init__)
        message = str(exc)
        if where and not message.startswith(where.split(":")[0]):
            message = f"{where}{message}"
        raise InvalidInputError(message) from exc


def plain(obj: Any) -> Any:
    """A domain object as JSON-ready data (enums by value, tuples as lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, tuple | list):
        return [plain(v) for v in obj]
    if isinstance(obj, frozenset | set):
        return sorted(plain(v) for v in obj)
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    return obj


# -- rows -> domain ---------------------------------------------------------------------------


def task_from_row(row: TaskRow) -> DeliveryTask:
    return DeliveryTask(
        id=row.id,
        pickup=row.pickup,
        dropoff=row.dropoff,
        priority=Priority(row.priority),
        earliest_s=row.earliest_s,
        deadline_s=row.deadline_s,
        kind=TaskKind(row.kind),
        units=row.units,
        items=tuple(row.items),
        handling=Handling(cold_chain=row.cold_chain, controlled=row.controlled, max_transit_s=row.max_transit_s),
        requester=row.requester,
        service_s=row.service_s,
    )


def task_columns(task: DeliveryTask) -> dict[str, Any]:
    """The columns of ``tasks`` that come from the domain object."""
    return {
        "id": task.id,
        "pickup": task.pickup,
        "dropoff": task.dropoff,
        "priority": task.priority.value,
        "kind": task.kind.value,
        "earliest_s": task.earliest_s,
        "deadline_s": task.deadline_s,
        "units": task.units,
        "items": list(task.items),
        "cold_chain": task.handling.cold_chain,
        "controlled": task.handling.controlled,
        "max_transit_s": task.handling.max_transit_s,
        "requester": task.requester,
        "service_s": task.service_s,
    }


def robot_from_row(row: RobotRow) -> Robot:
    return Robot(
        id=row.id,
        location=row.location,
        available_s=row.available_s,
        capacity_units=row.capacity_units,
        capabilities=frozenset(Capability(c) for c in row.capabilities),
        speed_mps=row.speed_mps,
        battery_pct=row.battery_pct,
        consumption_pct_per_km=row.consumption_pct_per_km,
        min_battery_pct=row.min_battery_pct,
        mode=RobotMode(row.mode),
        on_board=tuple(row.on_board),
        home_dock=row.home_dock,
    )


def robot_columns(robot: Robot) -> dict[str, Any]:
    return {
        "id": robot.id,
        "mode": robot.mode.value,
        "location": robot.location,
        "available_s": robot.available_s,
        "capacity_units": robot.capacity_units,
        "capabilities": sorted(c.value for c in robot.capabilities),
        "speed_mps": robot.speed_mps,
        "battery_pct": robot.battery_pct,
        "consumption_pct_per_km": robot.consumption_pct_per_km,
        "min_battery_pct": robot.min_battery_pct,
        "on_board": list(robot.on_board),
        "home_dock": robot.home_dock,
    }


def custody_from_row(row: CustodyRow) -> CustodyEvent:
    return CustodyEvent(
        task_id=row.task_id,
        robot_id=row.robot_id,
        kind=CustodyKind(row.kind),
        location=row.location,
        at_s=row.at_s,
        method=row.method,
        actor=row.actor,
        drawer=row.drawer,
    )


def patient_from_row(row: PatientRow) -> Patient:
    return Patient(
        id=row.id,
        mrn=row.mrn,
        name=row.name,
        birth_year=row.birth_year,
        sex=Sex(row.sex),
        id_number_hash=row.id_number_hash,
        phone=row.phone,
        credit_care=row.credit_care,
    )


def check_in_from_row(row: CheckInRow) -> CheckIn:
    return CheckIn(
        id=row.id,
        patient_id=row.patient_id,
        kiosk_id=row.kiosk_id,
        method=CheckInMethod(row.method),
        at_s=row.at_s,
        appointment_id=row.appointment_id,
    )


def triage_from_row(row: TriageRow) -> TriageResult:
    return TriageResult(
        level=TriageLevel(row.level),
        reasons=tuple(Reason(**r) for r in row.reasons),
        destination=row.destination,
        escalate=row.escalate,
        missing=tuple(row.missing),
        ruleset=row.ruleset,
    )


def vitals_from_json(data: Mapping[str, Any] | None) -> Vitals | None:
    return None if data is None else Vitals(**data)
