"""`hospital-ops robots ...` (mounted by the lead): drawer PIN hashes, the ROS nodes, the interfaces."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated

import typer

from robots.credentials import check_pin, hash_pin

app = typer.Typer(help="Delivery robots over ROS 2: nodes, drawer PINs, interface build.", no_args_is_help=True)

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.callback()
def _root() -> None:
    """Delivery robots over ROS 2."""


@app.command("hash-pin")
def hash_pin_cmd(
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the PIN from standard input (scripts).")] = False,
) -> None:
    """Print the argon2id hash of a drawer PIN (what a task carries; the PIN itself never leaves here)."""
    pin = sys.stdin.readline().strip() if stdin else typer.prompt("PIN", hide_input=True, confirmation_prompt=True)
    try:
        check_pin(pin)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(hash_pin(pin))


@app.command("driver", context_settings=_PASS_THROUGH)
def driver(ctx: typer.Context) -> None:
    """Run one robot driver node (arguments as `python -m robots.nodes.robot_driver --help`)."""
    from robots.nodes import robot_driver

    raise typer.Exit(robot_driver.main(["robot_driver", *ctx.args]))


@app.command("lift-manager", context_settings=_PASS_THROUGH)
def lift_manager(ctx: typer.Context) -> None:
    """Run the lift manager node (arguments as `python -m robots.nodes.lift_manager --help`)."""
    from robots.nodes import lift_manager as node

    raise typer.Exit(node.main(["lift_manager", *ctx.args]))


@app.command("scheduler", context_settings=_PASS_THROUGH)
def scheduler_node(ctx: typer.Context) -> None:
    """Run the scheduler node (arguments as `python -m robots.nodes.scheduler_node --help`)."""
    from robots.nodes import scheduler_node as node

    raise typer.Exit(node.main(["scheduler_node", *ctx.args]))


@app.command("fleet-manager", context_settings=_PASS_THROUGH)
def fleet_manager(ctx: typer.Context) -> None:
    """Run the fleet manager node (arguments as `python -m robots.nodes.fleet_manager --help`)."""
    from robots.nodes import fleet_manager as node

    raise typer.Exit(node.main(["fleet_manager", *ctx.args]))


@app.command("bridge", context_settings=_PASS_THROUGH)
def bridge(ctx: typer.Context) -> None:
    """Run the ROS → web bridge (arguments as `python -m robots.nodes.bridge --help`)."""
    from robots.nodes import bridge as node

    raise typer.Exit(node.main(["bridge", *ctx.args]))


@app.command("build-interfaces")
def build_interfaces(
    clean: Annotated[bool, typer.Option("--clean", help="Wipe the cmake build directory first.")] = False,
) -> None:
    """Generate and install hospital_ops_interfaces into this venv (what `make interfaces` runs)."""
    path = Path(__file__).resolve().parent / "interfaces" / "build.py"
    spec = importlib.util.spec_from_file_location("hospital_ops_interfaces_build", path)
    if spec is None or spec.loader is None:
        typer.echo(f"error: cannot load {path}", err=True)
        raise typer.Exit(2)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raise typer.Exit(module.main(["--venv", sys.prefix, *(["--clean"] if clean else [])]))
