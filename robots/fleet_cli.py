"""`hospital-ops up` (the stack from launch/hospital.yaml) and `hospital-ops fleet demo` (mounted by the lead)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from hospital_ops.clock import CampusClock
from robots.launcher import (
    DEFAULT_LAUNCH,
    LaunchError,
    Supervisor,
    child_env,
    expand,
    install_signal_handlers,
    load_launch,
)

fleet_app = typer.Typer(help="The robot fleet: demo runs.", no_args_is_help=True)
err = Console(stderr=True, highlight=False)

LaunchOpt = Annotated[Path, typer.Option("--launch", help="Launch description (YAML).")]
ScaleOpt = Annotated[
    float | None, typer.Option("--time-scale", min=0.001, help="Campus seconds per wall second (default: the file's).")
]


@fleet_app.callback()
def _root() -> None:
    """The robot fleet."""


def up(
    robots: Annotated[
        int | None, typer.Option("--robots", min=0, help="Simulated robots (default: the file's).")
    ] = None,
    time_scale: ScaleOpt = None,
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="One log file per node here (default var/log/stack-<time>).")
    ] = None,
    with_nodes: Annotated[
        list[str] | None, typer.Option("--with", help="Also start a disabled node: web, bridge, twin_live.")
    ] = None,
    without_nodes: Annotated[list[str] | None, typer.Option("--without", help="Leave a node out.")] = None,
    http_port: Annotated[int, typer.Option("--http-port", min=1, max=65535, help="Port of the web app.")] = 8080,
    launch: LaunchOpt = DEFAULT_LAUNCH,
    print_only: Annotated[bool, typer.Option("--print", help="Print the commands and exit.")] = False,
) -> None:
    """Start the robot stack (lift manager, robots, fleet manager, scheduler; web/bridge/twin with --with)
    as supervised processes with one log each; Ctrl-C stops everything cleanly."""
    con = Console(highlight=False)
    try:
        desc = load_launch(launch)
        clock = CampusClock.starting_now(time_scale if time_scale is not None else desc.time_scale)
        specs = expand(
            desc, clock, robots=robots, with_nodes=with_nodes or (), without_nodes=without_nodes or (),
            http_port=http_port,
        )  # fmt: skip
    except (LaunchError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if print_only:
        for s in specs:
            con.print(f"{s.name}: {' '.join(s.argv)}", soft_wrap=True)
        return
    logs = log_dir or Path("var") / "log" / time.strftime("stack-%Y%m%d-%H%M%S")
    env = child_env(clock)
    if any(s.name == "bridge" for s in specs) and not env.get("HOSPITAL_OPS_BRIDGE_TOKEN"):
        env["HOSPITAL_OPS_BRIDGE_TOKEN"] = _bridge_token()
    sup = Supervisor(specs, logs, env, say=lambda m: err.print(f"[yellow]{m}[/yellow]"))
    restore = install_signal_handlers(sup)
    try:
        sup.start()
        table = Table(title=f"hospital-ops up: {len(specs)} processes, time scale {clock.scale:g}")
        for col in ("node", "pid", "log"):
            table.add_column(col)
        for name, pid in sup.pids().items():
            table.add_row(name, str(pid), str(sup.running[name].log))
        con.print(table)
        con.print("running; Ctrl-C stops everything")
        status = sup.wait()
    finally:
        codes = sup.stop()
        restore()
    bad = {n: c for n, c in codes.items() if c not in (0, None, -2)}
    con.print(f"stopped {len(codes)} processes" + (f"; non-zero exits: {bad}" if bad else ""))
    raise typer.Exit(status)


def _bridge_token() -> str:
    """A fresh device token of kind bridge for this stack's bridge (only its hash is stored)."""
    from hospital_ops.store import Store

    with Store.open() as store:
        token, _ = store.issue_device_token("ros-bridge", "bridge", actor="hospital-ops up")
    return token


@fleet_app.command("demo")
def demo(
    robots: Annotated[int, typer.Option("--robots", min=1, help="Simulated robots.")] = 5,
    tasks: Annotated[int, typer.Option("--tasks", min=1, help="Delivery requests to submit.")] = 20,
    time_scale: Annotated[float, typer.Option("--time-scale", min=0.001, help="Campus s per wall s.")] = 20.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the task mix.")] = 0,
    policy: Annotated[str, typer.Option("--policy", help="Dispatch policy: ortools or greedy.")] = "ortools",
    timeout_s: Annotated[float, typer.Option("--timeout-s", min=1, help="Give up after this long (wall s).")] = 900.0,
    log_dir: Annotated[Path | None, typer.Option("--log-dir", help="Logs and the demo database here.")] = None,
    launch: LaunchOpt = DEFAULT_LAUNCH,
) -> None:
    """Bring a fleet up, submit TASKS realistic requests on the default campus, wait until all are
    delivered or failed, and report delivered, failed, turnaround per priority, custody events, processes."""
    from hospital_ops.campus import default_campus
    from robots.fleet_demo import DemoConfig, run_demo

    if policy not in ("ortools", "greedy"):
        err.print(f"[red]error:[/red] --policy: must be ortools or greedy, got {policy!r}")
        raise typer.Exit(2)
    try:
        config = DemoConfig(robots, tasks, time_scale, seed, timeout_s, log_dir, launch, policy)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    con = Console(highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=con, transient=False) as bar:
        ids: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in ids:
                ids[phase] = bar.add_task(phase, total=total)
            bar.update(ids[phase], completed=done, total=total)

        try:
            result = run_demo(config, default_campus(), progress, say=lambda m: con.print(m))
        except (RuntimeError, LaunchError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    table = Table(title=f"fleet demo: {robots} robots, {tasks} tasks, time scale {time_scale:g}")
    for col in ("priority", "delivered", "mean turnaround (campus min)", "P95 (campus min)"):
        table.add_column(col, justify="right")
    for prio, row in result["turnaround_s"].items():
        mean, p95 = row["mean_s"], row["p95_s"]
        table.add_row(
            prio,
            str(row["delivered"]),
            "–" if math.isnan(mean) else f"{mean / 60:.1f}",
            "–" if math.isnan(p95) else f"{p95 / 60:.1f}",
        )
    con.print(table)
    con.print(
        f"delivered {result['delivered']}/{result['tasks']}, failed {result['failed']}, "
        f"custody events {result['custody_events']}, OS processes {result['processes']}"
    )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        clean = json.loads(json.dumps(result).replace("NaN", "null"))
        json_out.write_text(json.dumps(clean, indent=2) + "\n", encoding="utf-8")
        con.print(f"report: {json_out}")
    if result["delivered"] + result["failed"] < result["tasks"]:
        raise typer.Exit(1)
