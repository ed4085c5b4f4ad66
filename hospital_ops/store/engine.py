"""Engine factory: a SQLite file (default) or PostgreSQL (``postgresql+psycopg://``).

SQLite connections are set up so that an acknowledged commit survives a crash and concurrent
processes (web app, scheduler node, kiosks) take turns instead of failing:

- ``journal_mode=WAL``: readers never block the writer;
- ``synchronous=FULL``: the WAL is fsynced at every commit (NORMAL could lose the last commits
  on power loss; FULL loses none);
- ``foreign_keys=ON``, ``busy_timeout`` (wait for the lock instead of "database is locked");
- SQLAlchemy, not the sqlite3 module, emits ``BEGIN`` (the module's legacy mode runs SELECTs and
  DDL outside the transaction, so migrations would not be atomic). Write transactions use
  ``BEGIN IMMEDIATE`` (take the write lock up front: a read-then-write transaction can then never
  fail half-way with SQLITE_BUSY); see :func:`writer`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError

from hospital_ops.config import normalize_database_url
from hospital_ops.store.errors import InvalidInputError

#: Milliseconds a SQLite connection waits for another process's write lock.
SQLITE_BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "hospital_ops_begin"


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def parse_url(url: str | URL) -> URL:
    """Parse a database URL, with a clear error for a bad one."""
    if isinstance(url, URL):
        return url
    try:
        parsed = make_url(normalize_database_url(url.strip()))
    except ArgumentError as exc:
        raise InvalidInputError(f"database_url: cannot parse {url!r} ({exc})") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInputError(
            f"database_url: {parsed.get_backend_name()!r} is not supported; use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST/DB"
        )
    return parsed


def redact(url: str | URL) -> str:
    """The URL with any password hidden (for logs and messages)."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except InvalidInputError:
        return "<unparseable url>"


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL, None for PostgreSQL or an in-memory SQLite database."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings above. Creates a SQLite file's directory."""
    parsed = parse_url(url)
    options: dict[str, Any] = {"json_serializer": _json_dumps, **kwargs}
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **options)
        _setup_sqlite(engine, wal=path is not None)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **options)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions start with ``BEGIN IMMEDIATE`` on SQLite;
    on PostgreSQL it is the engine unchanged."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


def _setup_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
