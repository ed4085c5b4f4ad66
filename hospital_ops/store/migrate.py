"""Schema migrations (Alembic) with the configuration built in code: works from any directory.

    db_upgrade(url)            # migrate to head (what `hospital-ops db upgrade` runs)
    schema_state(engine)       # "fresh" | "current" | "behind" | "ahead" | "unmanaged"
    ensure_schema(engine, auto_upgrade=None)   # what Store.open does on first open

Policy on opening a store (``ensure_schema``): a *fresh* SQLite database (no tables at all) is
migrated to head automatically, so ``hospital-ops`` works out of the box on one machine. Anything
else that is not at head is refused with a ``SchemaError`` that says to run
``hospital-ops db upgrade``: a PostgreSQL database is never migrated implicitly (several
processes open it; the operator decides and backs up first), and neither is an existing SQLite
file that is behind (same reason). Pass ``auto_upgrade=True`` to migrate anyway, ``False`` never to.

The migration runs inside one transaction (BEGIN IMMEDIATE on SQLite), so concurrent first opens
take turns and a failed migration leaves the database as it was.

New revision (developers)::

    python -c "from alembic import command; from hospital_ops.store.migrate import alembic_config; \
command.revision(alembic_config('sqlite:///var/hospital_ops.sqlite3'), 'what changed', \
autogenerate=True, rev_id='0002')"
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import Connection

from hospital_ops.store.engine import make_engine, redact, writer
from hospital_ops.store.errors import SchemaError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
UPGRADE_HINT = "run `hospital-ops db upgrade` (with the same DATABASE_URL / HOSPITAL_OPS_DATA_DIR)"

SchemaState = Literal["fresh", "current", "behind", "ahead", "unmanaged"]


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at ``hospital_ops/migrations`` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"migrations have {len(heads)} heads ({', '.join(heads)}); merge them")
    return heads[0]


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at, None if it has never been migrated."""
    return MigrationContext.configure(conn).get_current_revision()


def schema_state(conn: Connection) -> tuple[SchemaState, str | None]:
    """Where the database stands relative to this code, and its current revision."""
    tables = set(inspect(conn).get_table_names())
    if not tables:
        return "fresh", None
    if "alembic_version" not in tables:
        return "unmanaged", None
    current = current_revision(conn)
    head = head_revision()
    if current == head:
        return "current", current
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    return ("behind" if current is None or current in known else "ahead"), current


def _upgrade(conn: Connection, revision: str = "head") -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def upgrade_engine(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database of ``engine`` to ``revision`` in one transaction; the new revision."""
    with writer(engine).begin() as conn:
        _upgrade(conn, revision)
        return current_revision(conn)


def db_upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` (default: the configured one) to ``revision``.

    Returns the revision the database is at afterwards. Safe to run again (no-op at head).
    """
    if url is None:
        from hospital_ops.config import get_settings

        url = get_settings().database_url_or_default()
    engine = make_engine(url)
    try:
        return upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def ensure_schema(engine: Engine, *, auto_upgrade: bool | None = None) -> None:
    """Make sure the schema is at head, or raise ``SchemaError`` saying what to do.

    ``auto_upgrade=None`` (default): migrate a fresh SQLite database, refuse anything else not
    at head. ``True``: migrate whatever is behind. ``False``: never migrate.
    """
    where = redact(engine.url)
    with writer(engine).begin() as conn:  # holds the SQLite write lock: first opens take turns
        state, current = schema_state(conn)
        if state == "current":
            return
        if state == "unmanaged":
            raise SchemaError(
                f"{where}: has tables but no alembic_version; it was not created by hospital-ops "
                "migrations (point DATABASE_URL at an empty database)"
            )
        if state == "ahead":
            raise SchemaError(
                f"{where}: schema revision {current} is newer than this code knows "
                f"(head {head_revision()}); upgrade hospital-ops"
            )
        fresh_sqlite = state == "fresh" and engine.dialect.name == "sqlite"
        if auto_upgrade or (auto_upgrade is None and fresh_sqlite):
            _upgrade(conn)
            return
        what = "is empty" if state == "fresh" else f"is at schema revision {current}"
        raise SchemaError(f"{where}: {what}, this code needs {head_revision()}: {UPGRADE_HINT}")
