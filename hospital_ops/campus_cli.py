"""`hospital-ops campus …`: look at the campus model and the routes robots take through it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hospital_ops.campus import Campus, CampusError, LocationKind, default_campus, load_campus

app = typer.Typer(help="The campus model: buildings, wards, lifts, delivery points and routes.", no_args_is_help=True)

CampusOption = Annotated[
    Path | None,
    typer.Option(
        "--campus", "-c", help="Campus YAML file (default: the shipped 5,037-bed campus).", show_default=False
    ),
]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _load(path: Path | None) -> Campus:
    try:
        return load_campus(path) if path else default_campus()
    except CampusError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def summary_table(campus: Campus) -> Table:
    """One row per building: floors, lifts, wards, beds, kiosks, delivery points."""
    t = Table(title=f"{campus.name} — {campus.total_beds:,} beds", title_justify="left")
    for col in ("building", "kind", "floors", "lifts", "wards", "beds", "kiosks", "delivery points"):
        t.add_column(col, justify="left" if col in ("building", "kind") else "right")
    delivery = set(campus.delivery_points())
    for b in campus.buildings.values():
        locs = [loc for loc in campus.locations.values() if loc.building == b.id]
        wards = [w for w in campus.wards if w.building == b.id]
        t.add_row(
            f"{b.id} {b.name}",
            b.kind,
            f"{b.floors[0]}–{b.floors[-1]} ({len(b.floors)})",
            str(len(b.lifts)),
            str(len(wards)),
            f"{sum(w.beds for w in wards):,}",
            str(sum(1 for loc in locs if loc.kind is LocationKind.KIOSK)),
            str(sum(1 for loc in locs if loc.id in delivery)),
        )
    towers = [b for b in campus.buildings.values() if b.kind == "inpatient_tower"]
    t.add_section()
    t.add_row(
        "total",
        f"{len(towers)} towers",
        str(sum(len(b.floors) for b in campus.buildings.values())),
        str(len(campus.lifts)),
        str(len(campus.wards)),
        f"{campus.total_beds:,}",
        str(len(campus.by_kind(LocationKind.KIOSK))),
        str(len(delivery)),
    )
    return t


@app.command("show")
def show(campus_file: CampusOption = None) -> None:
    """Summarise the campus: towers, floors, lifts, wards and beds, kiosks, delivery points."""
    campus = _load(campus_file)
    con = _console()
    con.print(summary_table(campus))
    lifts = campus.lifts
    if lifts:
        caps = sorted({lift.capacity for lift in lifts})
        spf = sorted({lift.seconds_per_floor for lift in lifts})
        con.print(
            f"Lifts: {len(lifts)} robot-usable service lifts; capacity {'/'.join(map(str, caps))} robots; "
            f"{'/'.join(f'{s:g}' for s in spf)} s per floor."
        )
    con.print(
        f"Docks: {len(campus.by_kind(LocationKind.DOCK))}; pharmacies: {len(campus.by_kind(LocationKind.PHARMACY))}; "
        f"laboratories: {len(campus.by_kind(LocationKind.LAB))}; ED points: {len(campus.by_kind(LocationKind.ED))}; "
        f"triage rooms: {len(campus.by_kind(LocationKind.ED_TRIAGE))}; "
        f"outpatient departments: {len(campus.by_kind(LocationKind.OUTPATIENT_DEPT))}."
    )


@app.command("route")
def route(
    start: Annotated[str, typer.Argument(help="Start location id, e.g. MT-01-PHARMACY.")],
    end: Annotated[str, typer.Argument(help="End location id, e.g. T3-15-NS (ward T3-15's nurse station).")],
    speed: Annotated[float, typer.Option(help="Robot speed in m/s.", min=0.1, max=3.0)] = 1.0,
    campus_file: CampusOption = None,
) -> None:
    """The route a robot takes from START to END: walks, lifts used, metres and seconds."""
    campus = _load(campus_file)
    err = Console(stderr=True)
    for name, loc in (("START", start), ("END", end)):
        if loc not in campus.locations:
            close = [k for k in campus.locations if k.startswith(loc.split("-")[0])][:5]
            hint = f" (e.g. {', '.join(close)})" if close else ""
            err.print(f"[red]error:[/red] {name}: unknown location '{loc}'{hint}")
            raise typer.Exit(2)
    r = campus.route(start, end, speed_mps=speed)
    t = Table(title=f"{start} → {end}", title_justify="left")
    for col in ("#", "leg", "from", "to", "metres", "seconds"):
        t.add_column(col, justify="right" if col in ("#", "metres", "seconds") else "left")
    for i, leg in enumerate(r.legs, 1):
        label = f"lift {leg.lift}" if leg.kind == "lift" else "walk"
        t.add_row(str(i), label, leg.start, leg.end, str(leg.metres), str(leg.seconds))
    con = _console()
    con.print(t)
    m, s = divmod(r.seconds, 60)
    lifts = ", ".join(r.lifts) or "none"
    con.print(f"Total: {r.metres} m, {r.seconds} s ({m} min {s:02d} s) at {speed:g} m/s; lifts: {lifts}.")
