"""``hospital-ops db ...``: schema migrations of the configured database.

    hospital-ops db upgrade [--url URL] [--revision REV]
    hospital-ops db current [--url URL]

The URL defaults to HOSPITAL_OPS_DATABASE_URL / DATABASE_URL, else the SQLite file in
HOSPITAL_OPS_DATA_DIR. Passwords in URLs are never printed.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from hospital_ops.store.engine import make_engine, redact, sqlite_path
from hospital_ops.store.errors import StoreError
from hospital_ops.store.migrate import db_upgrade, head_revision, schema_state

app = typer.Typer(help="Database schema: upgrade to the current revision, show where it stands.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: DATABASE_URL, else the SQLite file in the data dir)."),
]


def _url(url: str | None) -> str:
    if url:
        return url
    from hospital_ops.config import Settings

    try:
        return Settings().database_url_or_default()
    except ValidationError as exc:
        _fail(f"configuration: {exc}")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def upgrade(
    url: UrlOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the database to the current schema (safe to run again)."""
    target = _url(url)
    try:
        now_at = db_upgrade(target, revision)
    except (StoreError, SQLAlchemyError) as exc:
        _fail(f"{redact(target)}: {str(exc).splitlines()[0]}")
    except Exception as exc:  # alembic raises its own errors (e.g. unknown revision)
        _fail(f"{redact(target)}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    typer.echo(f"{redact(target)}: at schema revision {now_at} (head {head_revision()})")


@app.command()
def current(url: UrlOption = None) -> None:
    """Show the database's schema revision and whether it needs an upgrade (exit 2 if so)."""
    target = _url(url)
    try:
        path = sqlite_path(target)
        if path is not None and not path.exists():
            typer.echo(f"{redact(target)}: fresh (no file yet; head {head_revision()})")
            raise typer.Exit(2)
        engine = make_engine(target)
        try:
            with engine.connect() as conn:
                state, rev = schema_state(conn)
        finally:
            engine.dispose()
    except (StoreError, SQLAlchemyError) as exc:
        _fail(f"{redact(target)}: {str(exc).splitlines()[0]}")
    typer.echo(f"{redact(target)}: {state} (revision {rev or '-'}, head {head_revision()})")
    if state != "current":
        raise typer.Exit(2)
