"""Migrations, schema policy on open, SQLite connection settings and the `db` CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from hospital_ops.store import SchemaError, Store, db_upgrade, head_revision, make_engine
from hospital_ops.store.cli import app
from hospital_ops.store.engine import writer
from hospital_ops.store.migrate import alembic_config, schema_state
from hospital_ops.store.models import Base


def test_migrations_match_models(db_url: str) -> None:
    """Autogenerate finds no difference between the migrated schema and the models (both databases)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert schema_state(conn) == ("current", head_revision())
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(fresh_db_url: str) -> None:
    """The initial migration can be undone and redone; a database at base is 'behind' and refused."""
    engine = make_engine(fresh_db_url)
    try:
        with writer(engine).begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
            assert schema_state(conn) == ("behind", None)
    finally:
        engine.dispose()
    with pytest.raises(SchemaError, match="hospital-ops db upgrade"):
        Store.open(fresh_db_url)
    assert db_upgrade(fresh_db_url) == head_revision()
    with Store.open(fresh_db_url) as store:
        assert store.list_tasks() == []


def test_fresh_sqlite_file_is_migrated_on_first_open(tmp_path: Path) -> None:
    """Opening a store on a new SQLite file creates the schema at head (and its directory)."""
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'db.sqlite3'}"
    with Store.open(url) as store:
        assert store.list_tasks() == []
        with store.engine.connect() as conn:
            assert schema_state(conn) == ("current", head_revision())


@pytest.mark.postgres
def test_fresh_postgresql_is_refused_with_the_command_to_run(postgres_url: str) -> None:
    """An empty PostgreSQL database is not migrated implicitly: the error says what to run."""
    with pytest.raises(
        SchemaError, match=rf"is empty, this code needs {head_revision()}: run `hospital-ops db upgrade`"
    ):
        Store.open(postgres_url)
    with Store.open(postgres_url, auto_upgrade=True) as store:
        assert store.list_tasks() == []


def test_never_upgrade_when_told_not_to(tmp_path: Path) -> None:
    """auto_upgrade=False refuses even a fresh SQLite file."""
    with pytest.raises(SchemaError, match="is empty"):
        Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", auto_upgrade=False)


def test_foreign_and_newer_schemas_refused(tmp_path: Path) -> None:
    """A database with other tables, or at a revision this code does not know, is refused."""
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE something (x INTEGER)")
    with pytest.raises(SchemaError, match="not created by hospital-ops migrations"):
        Store.open(f"sqlite:///{foreign}")
    newer = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    db_upgrade(newer)
    with sqlite3.connect(tmp_path / "newer.sqlite3") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaError, match="revision 9999 is newer than this code knows"):
        Store.open(newer)


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    """SQLite connections use WAL, synchronous=FULL, foreign keys and a busy timeout."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 30_000}


def test_bad_url_is_a_clear_error() -> None:
    """An unsupported or unparseable URL names the setting and the reason."""
    from hospital_ops.store import InvalidInputError

    with pytest.raises(InvalidInputError, match="database_url: 'mysql' is not supported"):
        make_engine("mysql://u@h/db")
    with pytest.raises(InvalidInputError, match="database_url: cannot parse"):
        make_engine("not a url")


def test_cli_upgrade_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`db upgrade` migrates the configured database from any working directory (no alembic.ini),
    is safe to run twice, and `db current` reports the state (exit 2 when behind)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("HOSPITAL_OPS_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOSPITAL_OPS_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    before = runner.invoke(app, ["current"])
    assert before.exit_code == 2 and "fresh" in before.output
    for _ in range(2):
        result = runner.invoke(app, ["upgrade"])
        assert result.exit_code == 0, result.output
        assert f"at schema revision {head_revision()} (head {head_revision()})" in result.output
    assert (tmp_path / "data" / "hospital_ops.sqlite3").exists()
    after = runner.invoke(app, ["current"])
    assert after.exit_code == 0 and f"current (revision {head_revision()}" in after.output


def test_cli_reports_errors_without_traceback(tmp_path: Path) -> None:
    """A bad URL or revision gives one clear error line and exit 1; passwords are not printed."""
    runner = CliRunner()
    bad = runner.invoke(app, ["upgrade", "--url", "mysql://u:hunter2@h/db"])
    assert bad.exit_code == 1
    assert "not supported" in bad.output and "hunter2" not in bad.output and "Traceback" not in bad.output
    rev = runner.invoke(app, ["upgrade", "--url", f"sqlite:///{tmp_path / 'x.sqlite3'}", "--revision", "abc"])
    assert rev.exit_code == 1 and "error:" in rev.output and "Traceback" not in rev.output
