"""`hospital-ops serve` and `hospital-ops users …`: run the web app, manage staff and device accounts."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console

from hospital_ops.config import MissingSecretError, Settings
from hospital_ops.store import DuplicateError, InvalidInputError, Store
from ops_dashboard.auth import ALL_ROLES, DEVICE_ROLES, STAFF_ROLES

users_app = typer.Typer(
    help="Staff accounts and device tokens (kiosks, the ROS bridge, the hospital system).", no_args_is_help=True
)
err = Console(stderr=True)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default from HOSPITAL_OPS_HTTP_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default from HOSPITAL_OPS_HTTP_PORT, 8080).", min=1, max=65535)
    ] = None,
) -> None:
    """Start the web app: dashboard, dispatch and hand-over pages, kiosk, REST API (/api/openapi.json)."""
    from hospital_ops.clock import CampusClock
    from ops_dashboard import create_app
    from ops_dashboard.extensions import socketio

    settings = Settings.load(create_secrets=True)
    try:
        # inside a stack (`hospital-ops up`) the campus clock runs at the stack's time scale
        app = create_app(settings, clock=CampusClock.from_env().now)
    except MissingSecretError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    h = host or settings.http_host
    p = port or settings.http_port
    Console().print(f"hospital-ops web app on http://{h}:{p}/  (OpenAPI: http://{h}:{p}/api/openapi.json)")
    socketio.run(app, host=h, port=p, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


def _store() -> Store:
    return Store.open(Settings().database_url_or_default())


@users_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="Login name, e.g. nurse.li")],
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(STAFF_ROLES)}")],
    password: Annotated[
        str | None, typer.Option(help="Password (asked for when not given; at least 10 characters).")
    ] = None,
) -> None:
    """Create a staff account."""
    if role not in STAFF_ROLES:
        err.print(f"[red]error:[/red] role: {role!r} is not one of {', '.join(STAFF_ROLES)}")
        raise typer.Exit(2)
    pw = password or getpass.getpass(f"password for {username}: ")
    try:
        with _store() as store:
            store.add_user(username, role, pw, actor="cli")
    except (DuplicateError, InvalidInputError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    Console().print(f"created {username} ({role})")


@users_app.command("token")
def device_token(
    device_id: Annotated[str, typer.Argument(help="Device name, e.g. kiosk-OP-01-K01 or ros-bridge")],
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(DEVICE_ROLES)}")],
) -> None:
    """Issue a bearer token for a device (printed once; only its hash is stored)."""
    if kind not in ALL_ROLES:
        err.print(f"[red]error:[/red] kind: {kind!r} is not one of {', '.join(ALL_ROLES)}")
        raise typer.Exit(2)
    with _store() as store:
        token, _ = store.issue_device_token(device_id, kind, actor="cli")
    Console().print(token)
