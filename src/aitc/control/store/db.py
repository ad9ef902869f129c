"""Opening the store: the database URL, connection settings and migrations.

SQLite (a file, the default) runs in WAL mode with a busy timeout, and every transaction starts
with ``BEGIN IMMEDIATE``: a writer takes the write lock up front, so two concurrent transactions
that read then write wait for each other (honouring the busy timeout) instead of failing with
"database is locked". PostgreSQL is reached by URL (``postgresql+psycopg://…``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from aitc.errors import StoreError

ENV_URL = "AITC_DATABASE_URL"
BUSY_TIMEOUT_MS = 30_000
READONLY = "aitc_readonly"


def data_dir() -> Path:
    """Where aitc keeps its state by default (``$XDG_DATA_HOME/aitc``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aitc"


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else ``$AITC_DATABASE_URL``, else a SQLite file."""
    if url:
        return url
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    return f"sqlite:///{data_dir() / 'aitc.db'}"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see module docstring)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    readonly = connection.get_execution_options().get(READONLY, False)
    connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def create_db_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (see ``database_url``), with the SQLite settings applied."""
    resolved = make_url(database_url(url))
    if resolved.get_backend_name() != "sqlite":
        return create_engine(resolved, pool_size=20, max_overflow=20, pool_pre_ping=True)
    pool: dict[str, Any] = {}
    if resolved.database and resolved.database != ":memory:":
        Path(resolved.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        pool = {"pool_size": 20, "max_overflow": 20}
    engine = create_engine(resolved, **pool)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration without an alembic.ini: the scripts ship inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("aitc.control.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (``alembic upgrade head``)."""
    cfg = alembic_config(engine)
    with migration_connection(engine) as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for migrations. On SQLite, which alters a table by
    copying it, foreign keys are not enforced while the transaction runs (dropping the old
    copy of a table that other rows refer to would fail) and are checked before it commits,
    as SQLite's documentation prescribes for such changes."""
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        raw = connection.connection.driver_connection
        if sqlite:  # outside a transaction, where the pragma takes effect
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check") if sqlite else None
                if broken is not None and (row := broken.first()) is not None:
                    raise StoreError(f"the migration broke a foreign key of table {row[0]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


class Store:
    """An engine and a session factory: what the API and the controller share.

    On SQLite, writers of this process queue on a lock before ``BEGIN IMMEDIATE``: waiting on
    it wakes a writer the moment the previous one commits, where SQLite's own busy handler
    would sleep in steps of up to 100 ms (long tails under concurrent submissions). Read-only
    transactions take no lock (WAL readers never wait for writers).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._writers = threading.Lock()

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = True) -> Store:
        """Open the database at ``url`` and, by default, migrate it to the latest schema."""
        engine = create_db_engine(url)
        if upgrade:
            migrate(engine)
        return cls(engine)

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        ``readonly=True`` promises not to write (on SQLite it then neither locks nor waits).
        """
        serialize = self.is_sqlite and not readonly
        lock = self._writers if serialize else nullcontext()
        with lock, self.sessions() as session, session.begin():
            if readonly:
                session.connection(execution_options={READONLY: True})
            yield session

    def close(self) -> None:
        self.engine.dispose()
