"""`hospital-ops`: the one command-line entry. It mounts each room's own sub-commands.

This is the single place where the core wires the rooms together (see DESIGN.md): each room owns
its commands in ``<room>/cli.py`` and this module only mounts them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from hospital_ops import __version__
from hospital_ops.campus import default_campus
from hospital_ops.campus_cli import app as campus_app
from hospital_ops.campus_cli import summary_table

app = typer.Typer(
    name="hospital-ops",
    help="Smart-hospital operations and logistics control: campus, robots, planning, triage, twin, dashboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
bench_app = typer.Typer(
    help="Benchmarks of the planner (quality and speed); see docs/benchmarks.md.", no_args_is_help=True
)

app.add_typer(campus_app, name="campus")
app.add_typer(bench_app, name="bench")


#: (parent, name, module, attribute, help) of each room's sub-commands.
_ROOMS: list[tuple[typer.Typer, str, str, str, str | None]] = [
    (app, "db", "hospital_ops.store.cli", "app", "The database: migrations."),
    (app, "triage", "triage_kiosk.cli", "app", "Triage kiosk: the rules engine and its evaluation."),
    (app, "sim", "sim.cli", "app", "The digital twin: scenarios, replications, reports."),
    (app, "robots", "robots.cli", "app", "ROS 2 robots: driver and lift manager nodes, interfaces."),
    (app, "up", "robots.fleet_cli", "up", None),
    (app, "fleet", "robots.fleet_cli", "fleet_app", "The robot fleet: demo runs."),
    (app, "users", "ops_dashboard.cli", "users_app", "Staff accounts and device tokens."),
    (app, "serve", "ops_dashboard.cli", "serve", None),
    (bench_app, "lilim", "scheduler.lilim.cli", "lilim", None),
    (bench_app, "dispatch", "scheduler.cli", "dispatch", None),
]


def _mount() -> None:
    import importlib

    for parent, name, module, attr, help_text in _ROOMS:
        sub = getattr(importlib.import_module(module), attr)
        if isinstance(sub, typer.Typer):
            parent.add_typer(sub, name=name, help=help_text)
        else:
            parent.command(name)(sub)


def _version(value: bool) -> None:
    if value:
        Console().print(f"hospital-ops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Smart-hospital operations and logistics control."""


@app.command("demo")
def demo() -> None:
    """Show the campus and a delivery route (the full hospital demo grows as capabilities land)."""
    con = Console(highlight=False)
    campus = default_campus()
    con.print(summary_table(campus))
    r = campus.route("MT-01-PHARMACY", campus.wards[len(campus.wards) // 2].station)
    con.print(f"A robot from the central pharmacy to {r.end}: {r.metres} m, {r.seconds} s, lifts {', '.join(r.lifts)}.")


_mount()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
