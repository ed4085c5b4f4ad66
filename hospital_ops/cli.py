"""`hospital-ops`: the one command-line entry. It mounts each room's own sub-commands.

This is the single place where the core wires the rooms together (see DESIGN.md): each room owns
its commands in ``<room>/cli.py`` and this module only mounts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hospital_ops import __version__
from hospital_ops.campus_cli import app as campus_app

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
def demo(
    robots: Annotated[int, typer.Option("--robots", min=1, max=60, help="Simulated robots (one process each).")] = 10,
    time_scale: Annotated[
        float, typer.Option("--time-scale", min=1.0, max=100.0, help="Campus seconds per wall second.")
    ] = 10.0,
    http_port: Annotated[int, typer.Option("--http-port", min=1, max=65535, help="Port of the web app.")] = 8080,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Database, secrets, demo logins and logs (kept between runs).")
    ] = Path("var/demo"),
    demand: Annotated[
        float | None,
        typer.Option("--demand", min=0.0, help="Share of the whole campus's delivery demand (default: robots / 60)."),
    ] = None,
    duration_s: Annotated[
        float | None, typer.Option("--duration-s", min=1.0, help="Stop by itself after this many wall seconds.")
    ] = None,
) -> None:
    """Bring the whole hospital up on this machine: the ROS 2 robot fleet (simulated drivers), lift
    manager, fleet manager and scheduler node, the web app with its ROS bridge, and the twin in live
    mode sending a Monday morning's demand; prints the URL and the demo logins. Ctrl-C stops it all.

    The fleet carries its share of the campus: with 10 of the 60 robots the default scenario
    sizes for 5,037 beds, the twin sends a sixth of the campus's requests, from Monday 07:00.
    """
    import os
    import signal
    import threading
    import time
    import urllib.request

    from rich.table import Table

    from hospital_ops.config import Settings
    from hospital_ops.demo import seed_demo_accounts
    from hospital_ops.store import Store
    from robots.fleet_cli import up

    data_dir = data_dir.resolve()
    os.environ["HOSPITAL_OPS_DATA_DIR"] = str(data_dir)
    settings = Settings.load(create_secrets=True)
    with Store.open(settings.database_url_or_default(), auto_upgrade=True) as store:
        accounts = seed_demo_accounts(store, data_dir)
    os.environ["HOSPITAL_OPS_BRIDGE_TOKEN"] = accounts.tokens["ros-bridge"]
    os.environ["HOSPITAL_OPS_TOKEN"] = accounts.tokens["twin-live"]
    os.environ["HOSPITAL_OPS_LIVE_DEMAND"] = f"{demand if demand is not None else robots / 60:g}"
    os.environ["HOSPITAL_OPS_LIVE_FROM_H"] = "9"  # the default scenario starts Sunday 22:00
    os.environ["HOSPITAL_OPS_LIVE_WAIT_S"] = "120"  # the twin waits for the web app to answer
    url = f"http://127.0.0.1:{http_port}/"
    con = Console(highlight=False)

    def banner() -> None:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "login", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        table = Table(title=f"hospital-ops demo: {url}", title_justify="left")
        for col in ("login", "password", "role", "what to try"):
            table.add_column(col)
        for x in accounts.logins:
            table.add_row(x.username, x.password, x.role, x.what)
        con.print(table)
        con.print(f"logins kept in {accounts.path} (mode 0600); data in {data_dir}; Ctrl-C stops everything")

    threading.Thread(target=banner, daemon=True).start()
    if duration_s is not None:
        threading.Timer(duration_s, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    up(
        robots=robots,
        time_scale=time_scale,
        log_dir=data_dir / "log" / time.strftime("stack-%Y%m%d-%H%M%S"),
        with_nodes=["web", "bridge", "twin_live"],
        without_nodes=None,
        http_port=http_port,
    )


_mount()


def main() -> None:
    """The ``hospital-ops`` command; a bad setting (HOSPITAL_OPS_*) is one line naming it, not a traceback."""
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            name = f"HOSPITAL_OPS_{field.upper()}"
            typer.echo(f"error: {msg if msg.startswith(name) else f'{name}: {msg}'}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
