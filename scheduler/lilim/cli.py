"""``hospital-ops bench lilim``: the Li & Lim PDPTW benchmark (the lead mounts ``app`` under ``bench``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.lilim.bench import Kind, Report, Row, default_jobs, run_benchmark
from scheduler.lilim.read import (
    DATA_ENV,
    InstanceFormatError,
    bks_path_for,
    default_data_dir,
    find_instances,
    read_bks,
    read_instance,
)

app = typer.Typer(help="Li & Lim pickup-and-delivery (PDPTW) benchmark.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Li & Lim pickup-and-delivery (PDPTW) benchmark."""


@app.command("lilim")
def lilim(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help=f"Directory of instance files (*.txt) with a bks.csv in it or beside it "
            f"[default: ${DATA_ENV} or ../shared/data/lilim/100 from the project root].",
            show_default=False,
        ),
    ] = None,
    instances: Annotated[
        str | None,
        typer.Option("--instances", help="Comma-separated instance names, e.g. lc101,lr201 [default: all]."),
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Wall-clock seconds per instance and planner.")
    ] = 10.0,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the results to this JSON file.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of our planner.")] = 1,
    jobs: Annotated[
        int, typer.Option("--jobs", min=0, help="Single-threaded worker processes; 0 = min(2, cores).")
    ] = 0,
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="Also run the plain OR-Tools model side by side.")
    ] = True,
) -> None:
    """Solve Li & Lim PDPTW instances (vehicles first, then distance), check every plan, compare with BKS."""
    console = Console(width=max(Console().width, 136))
    err = Console(stderr=True)
    try:
        data_dir = data if data is not None else default_data_dir()
        names = [n.strip() for n in instances.split(",") if n.strip()] if instances is not None else None
        if names is not None and not names:
            raise InstanceFormatError("--instances: no instance names given")
        paths = find_instances(data_dir, names)
        bks = read_bks(bks_path_for(data_dir))
        missing = [p.stem for p in paths if p.stem not in bks]
        if missing:
            raise InstanceFormatError(f"--data: bks.csv has no best-known solution for {', '.join(missing)}")
        if json_file is not None and not json_file.parent.resolve().is_dir():
            raise InstanceFormatError(f"--json: directory {json_file.parent} does not exist")
        for p in paths:  # parse everything up front so a bad file fails before any solving
            read_instance(p)
    except InstanceFormatError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

    workers = jobs or default_jobs()
    total = len(paths) * (2 if baseline else 1)
    with Progress(
        TextColumn("[bold]Li & Lim[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{len(paths)} instances × {time_limit:g} s", total=total)

        def done(kind: Kind, row: Row) -> None:
            progress.advance(task)
            progress.update(task, description=f"{kind} {row.name}: {row.vehicles} veh")

        report = run_benchmark(
            paths, bks, time_limit=time_limit, seed=seed, baseline=baseline, jobs=workers, on_done=done
        )
    console.print(render_table(report))
    console.print(render_summary(report))
    if json_file is not None:
        try:
            json_file.write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            err.print(f"[red]error:[/red] --json: cannot write {json_file}: {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        console.print(f"wrote {json_file}")
    bad = [r.name for r in report.instances if not r.feasible]
    if bad:
        err.print(f"[red]infeasible plans from our planner:[/red] {', '.join(bad)}")
        raise typer.Exit(1)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _veh(row: Row) -> str:
    text = str(row.vehicles)
    return text if row.vehicles <= row.bks_vehicles else f"[yellow]{text}[/yellow]"


def render_table(report: Report) -> Table:
    """Per-instance table: ours and (if run) the baseline side by side."""
    table = Table(title="Li & Lim PDPTW — ours vs plain OR-Tools", box=box.SIMPLE_HEAD, padding=(0, 1))
    for col in ("instance", "BKS veh", "BKS dist", "veh", "distance", "gap %", "s", "feasible"):
        table.add_column(col, justify="left" if col == "instance" else "right", no_wrap=True)
    if report.baseline:
        for col in ("OR veh", "OR distance", "OR gap %", "OR s", "OR feasible"):
            table.add_column(col, justify="right", no_wrap=True)
    base = {r.name: r for r in report.baseline}
    for r in report.instances:
        cells = [
            r.name,
            str(r.bks_vehicles),
            f"{r.bks_distance:.2f}",
            _veh(r),
            _fmt(r.distance),
            _fmt(r.gap_pct),
            f"{r.seconds:.1f}",
            "yes" if r.feasible else "[red]NO[/red]",
        ]
        if report.baseline:
            b = base[r.name]
            cells += [
                _veh(b),
                _fmt(b.distance),
                _fmt(b.gap_pct),
                f"{b.seconds:.1f}",
                "yes" if b.feasible else "[red]NO[/red]",
            ]
        table.add_row(*cells)
    return table


def render_summary(report: Report) -> Table:
    """Summary table, one column per planner."""
    s = report.summary
    cols = [("ours", s)] + ([("plain OR-Tools", s["baseline"])] if "baseline" in s else [])
    table = Table(title=f"Summary ({s['time_limit_s']:g} s per instance, seed {s['seed']})")
    table.add_column("")
    for name, _ in cols:
        table.add_column(name, justify="right")
    lines = [
        ("at best-known vehicles", lambda d: f"{d['at_bks_vehicles']}/{d['instances']}"),
        ("total vehicles (best known)", lambda d: f"{d['total_vehicles']} ({d['bks_total_vehicles']})"),
        ("mean gap %", lambda d: _fmt(d["mean_gap_pct"])),
        ("median gap %", lambda d: _fmt(d["median_gap_pct"])),
        ("mean gap % at BKS vehicles", lambda d: _fmt(d["mean_gap_at_bks_vehicles_pct"])),
        ("infeasible / no plan", lambda d: str(d["infeasible"])),
        ("mean seconds", lambda d: _fmt(d["mean_seconds"])),
    ]
    for label, fn in lines:
        table.add_row(label, *(fn(d) for _, d in cols))
    return table


if __name__ == "__main__":
    app()
