"""Shared fixtures (kept small; nothing autouse).

``postgres_server`` (session): a throw-away PostgreSQL server (``tests/pg.py``), started the first
time a test asks for it and stopped at the end of the session; tests using it are skipped, with
the reason shown, only where the server binaries are missing. ``postgres_url``: a fresh, empty
database on it for one test. Mark such tests ``@pytest.mark.postgres``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

try:  # the repository root is on sys.path (python -m pytest, or pythonpath = ["."])
    from tests.pg import PostgresServer, PostgresUnavailable, start_postgres
except ModuleNotFoundError:  # rootdir-less tests/ (pytest's default "prepend" import mode)
    from pg import PostgresServer, PostgresUnavailable, start_postgres  # type: ignore[no-redef]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of a new, empty database for this test."""
    return postgres_server.create_database()
