"""`hospital-ops bench dispatch` (mounted by the lead): the dispatch benchmark, as a table and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Campus delivery planning: benchmarks of the planner against the greedy baseline.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """Campus delivery planning (OR-Tools) and its greedy baseline."""


def _table(result: dict[str, Any]) -> Table:
    cfg = result["config"]
    t = Table(
        title=(
            f"Dispatch benchmark — {cfg['tasks']} open tasks, {cfg['robots']} robots, "
            f"{cfg['instances']} snapshots, time limit {cfg['time_limit_s']} s"
        ),
        title_justify="left",
    )
    t.add_column("measure")
    t.add_column("OR-Tools", justify="right")
    t.add_column("OR-Tools warm", justify="right")
    t.add_column("greedy", justify="right")
    q = result["quality"]
    o, w, g = q["ortools"], q["ortools_warm"], q["greedy"]
    t.add_row(
        "STAT on time",
        f"{o['stat_on_time']}/{o['stat_tasks']} ({o['stat_on_time_pct']:.1f} %)",
        f"{w['stat_on_time']}/{w['stat_tasks']} ({w['stat_on_time_pct']:.1f} %)",
        f"{g['stat_on_time']}/{g['stat_tasks']} ({g['stat_on_time_pct']:.1f} %)",
    )
    t.add_row("all on time (mean %)", f"{o['on_time_pct']:.1f}", f"{w['on_time_pct']:.1f}", f"{g['on_time_pct']:.1f}")
    t.add_row(
        "total lateness (s)", f"{o['total_lateness_s']:,}", f"{w['total_lateness_s']:,}", f"{g['total_lateness_s']:,}"
    )
    t.add_row("max lateness (s)", f"{o['max_lateness_s']:,}", f"{w['max_lateness_s']:,}", f"{g['max_lateness_s']:,}")
    t.add_row("robot-km", f"{o['robot_km']:.1f}", f"{w['robot_km']:.1f}", f"{g['robot_km']:.1f}")
    t.add_row(
        "mean turnaround (s)",
        f"{o['mean_turnaround_s']:.0f}",
        f"{w['mean_turnaround_s']:.0f}",
        f"{g['mean_turnaround_s']:.0f}",
    )
    t.add_row("not delivered", str(o["not_delivered"]), str(w["not_delivered"]), str(g["not_delivered"]))
    r = result["replan_s"]
    t.add_section()
    t.add_row(
        "plan everything (s, P50 / max)",
        f"{r['cold']['p50']:.2f} / {r['cold']['max']:.2f}",
        f"{r['warm']['p50']:.2f} / {r['warm']['max']:.2f}",
        f"{r['greedy']['p50']:.2f} / {r['greedy']['max']:.2f}",
    )
    ins = result["insert_stat_ms"]
    s = result["insert_stat"]
    t.add_row(
        "insert one STAT (ms, P50 / P95)",
        f"{ins['p50']:.0f} / {ins['p95']:.0f}",
        "",
        "",
    )
    t.add_row("inserted STAT on time", f"{s['on_time']}/{s['trials']} ({s['on_time_pct']:.1f} %)", "", "")
    t.add_row("checker violations", str(len(result["checker"]["violations"])), "", "")
    return t


@app.command("dispatch")
def dispatch(
    tasks: Annotated[int, typer.Option(help="Open tasks per snapshot.")] = 200,
    robots: Annotated[int, typer.Option(help="Robots per snapshot.")] = 50,
    instances: Annotated[int, typer.Option(help="Snapshots (seeds seed, seed+1, ...).")] = 3,
    stat_trials: Annotated[int, typer.Option(help="STAT insertions timed per snapshot.")] = 40,
    time_limit: Annotated[float, typer.Option(help="Planner search time limit, seconds.")] = 1.0,
    seed: Annotated[int, typer.Option(help="First snapshot seed.")] = 0,
    campus: Annotated[
        Path | None,
        typer.Option("--campus", "-c", help="Campus YAML (default: the shipped campus).", show_default=False),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full result as JSON to this file.", show_default=False)
    ] = None,
) -> None:
    """Time STAT insertion and full re-plans, and compare plan quality with the greedy baseline."""
    from hospital_ops.campus import CampusError, default_campus, load_campus
    from scheduler.bench import BenchConfig, run
    from scheduler.scenarios import campus_sites

    err = Console(stderr=True, highlight=False)
    try:
        config = BenchConfig(tasks, robots, instances, stat_trials, time_limit, seed)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        model = load_campus(campus) if campus else default_campus()
    except CampusError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    con = Console(highlight=False)
    with con.status("running the dispatch benchmark…"):
        result = run(model, campus_sites(model), config, campus_name=model.name)
    con.print(_table(result))
    for v in result["checker"]["violations"][:10]:
        con.print(f"[red]violation:[/red] {v}")
    if json_out is not None:
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            err.print(f"[red]error:[/red] cannot write {json_out}: {exc.strerror}")
            raise typer.Exit(2) from None
        con.print(f"wrote {json_out}")
    if result["checker"]["violations"]:
        raise typer.Exit(1)
