"""A throwaway PostgreSQL server for tests: initdb + pg_ctl as the ``postgres`` user, in a temp
directory, listening on a free port of 127.0.0.1; one migrated template database, copied into a
fresh database for each test (``CREATE DATABASE … TEMPLATE``, much faster than migrating).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TEMPLATE = "aitc_template"


def postgres_available() -> str | None:
    """``None`` when a server can be started here, else the reason why not."""
    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL 15 server binaries are not installed"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "starting PostgreSQL as the postgres user needs root and runuser"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )


@dataclass
class PgServer:
    root: Path
    port: int = field(default_factory=_free_port)
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Stop at once (-m immediate); kill the postmaster if it has not gone within 15 s."""
        pid_file = self.data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        try:
            _as_postgres(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "-t",
                "15",
                "stop",
            )
        except subprocess.CalledProcessError:
            if pid is not None:
                os.kill(pid, signal.SIGKILL)

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def make_template(self) -> None:
        from aitc.control.store import create_db_engine, migrate

        self.execute(f"CREATE DATABASE {TEMPLATE}")
        engine = create_db_engine(self.url(TEMPLATE))
        migrate(engine)
        engine.dispose()

    def fresh_database(self) -> str:
        """A new, migrated, empty database; returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)


def start_server() -> PgServer:
    root = Path(tempfile.mkdtemp(prefix="aitc-pg-"))
    shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    server = PgServer(root)
    server.start()
    server.make_template()
    return server


def stop_server(server: PgServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
