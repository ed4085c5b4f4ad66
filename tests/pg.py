"""A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temporary directory.

Usage from any test (the fixtures are registered in ``tests/conftest.py``)::

    @pytest.mark.postgres
    def test_something(postgres_url: str) -> None:   # a fresh, empty database per test
        ...

    def test_other(postgres_server: PostgresServer) -> None:
        url = postgres_server.create_database(template="my_template")

Without pytest (a benchmark, a notebook)::

    with start_postgres() as server:
        url = server.create_database()

The server runs with ``fsync=off`` (fast; a *process* crash still loses nothing, an OS crash
would) and listens on 127.0.0.1 and a socket in its own directory only. When run as root,
``initdb``/``pg_ctl`` run as the ``postgres`` user (initdb refuses root) in a directory made with
``tempfile.mkdtemp()`` and chowned to it. ``PostgresUnavailable`` is raised only when the server
binaries are missing; any other failure to start is an error, with the server log in the message.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

#: Environment variable naming the directory holding initdb/pg_ctl (overrides the search).
BIN_DIR_ENV = "POSTGRES_BIN_DIR"
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed here (tests should skip, saying so)."""


def find_bin_dir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: $POSTGRES_BIN_DIR, the newest
    /usr/lib/postgresql/<ver>/bin, or the PATH."""
    env = os.environ.get(BIN_DIR_ENV)
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throw-away server. ``url`` points at its ``postgres`` database."""

    bin_dir: Path
    base_dir: Path
    port: int
    run_as: str | None
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3) of one database on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, cwd=self.base_dir, capture_output=True, text=True, check=check, timeout=60)

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement in autocommit mode (CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=database, autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a new database (a copy of ``template`` if given) and return its URL.

        Copying a prepared template (schema already migrated) is much faster than migrating
        each test's database. The template must have no open connections while copied.
        """
        name = name or f"test_{os.getpid()}_{next(self._counter)}"
        if not name.replace("_", "").isalnum():
            raise ValueError(f"name: {name!r} must be letters, digits and underscores")
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url_for(name)

    def stop(self) -> None:
        """Stop the server and delete its directory. Immediate shutdown: no final checkpoint,
        since the data is thrown away (a fast shutdown writes every database out first)."""
        if self.data_dir.exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_postgres(*, attempts: int = 3) -> PostgresServer:
    """Initialise and start a server on a free port; ready to accept connections on return.

    Raises ``PostgresUnavailable`` when the binaries are missing (or root has no ``postgres``
    user to run them as) and ``RuntimeError`` with the server log for any other failure.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (apt-get install postgresql, or set "
            f"{BIN_DIR_ENV} to the directory holding initdb and pg_ctl)"
        )
    run_as: str | None = None
    base_dir = Path(tempfile.mkdtemp(prefix="hospital-ops-pg-"))
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(SUPERUSER)
        except KeyError as exc:
            shutil.rmtree(base_dir, ignore_errors=True)
            raise PostgresUnavailable(f"running as root and there is no '{SUPERUSER}' user to run initdb as") from exc
        run_as = SUPERUSER
        os.chown(base_dir, pw.pw_uid, pw.pw_gid)
    server = PostgresServer(bin_dir=bin_dir, base_dir=base_dir, port=0, run_as=run_as)
    init = server._run(
        "initdb", "-D", str(server.data_dir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
        "--locale=C.UTF-8", "--no-sync", check=False,
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(base_dir, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
    last_error = ""
    for _ in range(attempts):  # another process may take the free port before the server does
        server.port = _free_port()
        options = f"-p {server.port} -k {base_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        started = server._run(
            "pg_ctl", "-D", str(server.data_dir), "-l", str(server.log_file), "-w", "-t", "30",
            "-o", options, "start", check=False,
        )  # fmt: skip
        if started.returncode == 0:
            return server
        with contextlib.suppress(OSError):
            last_error = server.log_file.read_text()[-4000:]
        last_error = f"{started.stdout}\n{started.stderr}\n{last_error}"
    shutil.rmtree(base_dir, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start after {attempts} attempts:\n{last_error}")
