"""Reading Li & Lim instance files and their best-known-solution table.

Format (whitespace separated integers): first line ``K Q speed``; then one line per task
``id x y demand earliest latest service pickup_index delivery_index`` with the depot as id 0.
A pickup has ``pickup_index = 0`` and points to its delivery; a delivery points to its pickup.
Task ids need not be ordered pickup-first (in lc101 task 1 is the delivery of task 11).
Every problem is reported as :class:`InstanceFormatError` naming the file, line and field.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from scheduler.lilim.instance import Instance

#: Environment variable overriding the default data directory.
DATA_ENV = "HOSPITAL_OPS_LILIM_DIR"

_FIELDS = ("id", "x", "y", "demand", "earliest", "latest", "service", "pickup_index", "delivery_index")


class InstanceFormatError(ValueError):
    """An instance file, directory or BKS table that cannot be used; the message says why."""


@dataclass(frozen=True)
class BestKnown:
    """Best-known solution value of one instance: vehicles first, then distance."""

    vehicles: int
    distance: float


def default_data_dir() -> Path:
    """``$HOSPITAL_OPS_LILIM_DIR`` or ``../shared/data/lilim/100`` relative to the project root."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    project_root = Path(__file__).resolve().parents[2]
    return (project_root / ".." / "shared" / "data" / "lilim" / "100").resolve()


def parse_instance(text: str, name: str = "instance", source: str = "<text>") -> Instance:
    """Parse the text of one instance file."""
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if parts:
            rows.append((lineno, parts))
    if not rows:
        raise InstanceFormatError(f"{source}: empty file")
    lineno, head = rows[0]
    if len(head) < 2:
        raise InstanceFormatError(f"{source}:{lineno}: expected 'vehicles capacity [speed]' on the first line")
    max_vehicles = _int(head[0], source, lineno, "vehicles")
    capacity = _int(head[1], source, lineno, "capacity")
    if max_vehicles < 1 or capacity < 1:
        raise InstanceFormatError(f"{source}:{lineno}: vehicles and capacity must be positive")
    cols: dict[str, list[float]] = {f: [] for f in _FIELDS}
    lines: list[int] = []
    for lineno, parts in rows[1:]:
        if len(parts) != len(_FIELDS):
            raise InstanceFormatError(
                f"{source}:{lineno}: expected {len(_FIELDS)} fields ({' '.join(_FIELDS)}), got {len(parts)}"
            )
        for f, v in zip(_FIELDS, parts, strict=True):
            cols[f].append(_num(v, source, lineno, f) if f in ("x", "y") else _int(v, source, lineno, f))
        lines.append(lineno)
    n = len(lines)
    if n < 1:
        raise InstanceFormatError(f"{source}: no task rows (the depot row is missing)")
    ids = [int(v) for v in cols["id"]]
    for k, (task_id, lineno) in enumerate(zip(ids, lines, strict=True)):
        if task_id != k:
            raise InstanceFormatError(f"{source}:{lineno}: field id: expected {k} (ids must be 0..n-1 in order)")
    demand = [int(v) for v in cols["demand"]]
    ready = [int(v) for v in cols["earliest"]]
    due = [int(v) for v in cols["latest"]]
    service = [int(v) for v in cols["service"]]
    pidx = [int(v) for v in cols["pickup_index"]]
    didx = [int(v) for v in cols["delivery_index"]]
    if demand[0] != 0 or pidx[0] != 0 or didx[0] != 0:
        raise InstanceFormatError(f"{source}:{lines[0]}: the depot row must have demand 0 and both indices 0")
    pickup_of = [-1] * n
    delivery_of = [-1] * n
    for i in range(1, n):
        where = f"{source}:{lines[i]}"
        if ready[i] > due[i]:
            raise InstanceFormatError(f"{where}: field latest: window [{ready[i]}, {due[i]}] is empty")
        if service[i] < 0:
            raise InstanceFormatError(f"{where}: field service: must be >= 0")
        if (pidx[i] == 0) == (didx[i] == 0):
            raise InstanceFormatError(
                f"{where}: exactly one of pickup_index and delivery_index must be non-zero "
                f"(got {pidx[i]} and {didx[i]})"
            )
        if pidx[i] == 0:  # a pickup
            d = didx[i]
            if not 0 < d < n:
                raise InstanceFormatError(f"{where}: field delivery_index: {d} is not a task id")
            if pidx[d] != i:
                raise InstanceFormatError(f"{where}: field delivery_index: task {d} does not name {i} as its pickup")
            if demand[i] < 0 or demand[d] != -demand[i]:
                raise InstanceFormatError(
                    f"{where}: field demand: pickup {i} has {demand[i]}, its delivery {d} has {demand[d]} "
                    "(expected opposite values, pickup >= 0)"
                )
            delivery_of[i] = d
        else:  # a delivery
            p = pidx[i]
            if not 0 < p < n:
                raise InstanceFormatError(f"{where}: field pickup_index: {p} is not a task id")
            if didx[p] != i:
                raise InstanceFormatError(f"{where}: field pickup_index: task {p} does not name {i} as its delivery")
            pickup_of[i] = p
    if max(demand) > capacity:
        raise InstanceFormatError(f"{source}: a demand exceeds the vehicle capacity {capacity}")
    return Instance(
        name=name,
        max_vehicles=max_vehicles,
        capacity=capacity,
        x=tuple(cols["x"]),
        y=tuple(cols["y"]),
        demand=tuple(demand),
        ready=tuple(ready),
        due=tuple(due),
        service=tuple(service),
        pickup_of=tuple(pickup_of),
        delivery_of=tuple(delivery_of),
    )


def read_instance(path: Path | str) -> Instance:
    """Read one instance file; the instance name is the file stem (``lc101``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceFormatError(f"{path}: cannot read: {exc}") from None
    return parse_instance(text, name=path.stem, source=str(path))


def read_bks(path: Path | str) -> dict[str, BestKnown]:
    """Read ``bks.csv`` (columns ``instance,vehicles,distance``)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"instance", "vehicles", "distance"} - set(reader.fieldnames or ())
            if missing:
                raise InstanceFormatError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            out: dict[str, BestKnown] = {}
            for k, row in enumerate(reader, start=2):
                try:
                    out[row["instance"].strip()] = BestKnown(int(row["vehicles"]), float(row["distance"]))
                except (TypeError, ValueError):
                    raise InstanceFormatError(
                        f"{path}:{k}: vehicles must be an integer and distance a number"
                    ) from None
            return out
    except OSError as exc:
        raise InstanceFormatError(f"{path}: cannot read: {exc}") from None


def find_instances(data_dir: Path | str, names: list[str] | None = None) -> list[Path]:
    """Instance files (``*.txt``) in ``data_dir``, sorted by name, or exactly the ``names`` asked for."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InstanceFormatError(f"--data: {data_dir} is not a directory")
    available = {p.stem: p for p in data_dir.glob("*.txt")}
    if not available:
        raise InstanceFormatError(f"--data: {data_dir} holds no instance files (*.txt)")
    if not names:
        return [available[k] for k in sorted(available)]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InstanceFormatError(
            f"--instances: unknown instance(s) {', '.join(unknown)} in {data_dir} "
            f"(available: {', '.join(sorted(available)[:8])}{', ...' if len(available) > 8 else ''})"
        )
    return [available[n] for n in names]


def bks_path_for(data_dir: Path | str) -> Path:
    """``bks.csv`` inside ``data_dir`` or beside it (the shipped layout keeps it one level up)."""
    data_dir = Path(data_dir)
    for candidate in (data_dir / "bks.csv", data_dir.parent / "bks.csv"):
        if candidate.is_file():
            return candidate
    raise InstanceFormatError(f"--data: no bks.csv in {data_dir} or its parent directory")


def truncate_instance_text(text: str, pairs: int) -> str:
    """The same instance restricted to its first ``pairs`` requests (by pickup id), renumbered.

    For tests and quick experiments; task order and the pickup/delivery cross-references are kept.
    """
    rows = [ln.split() for ln in text.splitlines() if ln.strip()]
    head, tasks = rows[0], rows[1:]
    pickups = [int(r[0]) for r in tasks[1:] if int(r[7]) == 0][:pairs]
    keep = {0, *pickups, *(int(tasks[p][8]) for p in pickups)}
    new_id = {old: k for k, old in enumerate(sorted(keep))}
    out = ["\t".join(head)]
    for old in sorted(keep):
        r = list(tasks[old])
        r[0] = str(new_id[old])
        r[7] = str(new_id[int(r[7])]) if int(r[7]) else "0"
        r[8] = str(new_id[int(r[8])]) if int(r[8]) else "0"
        out.append("\t".join(r))
    return "\n".join(out) + "\n"


def _int(value: str, source: str, lineno: int, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InstanceFormatError(f"{source}:{lineno}: field {field}: {value!r} is not an integer") from None


def _num(value: str, source: str, lineno: int, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InstanceFormatError(f"{source}:{lineno}: field {field}: {value!r} is not a number") from None
