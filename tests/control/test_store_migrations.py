"""The shipped Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from aitc.control.store import Store, migrate
from aitc.control.store.models import Base


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_twice_changes_nothing(store: Store) -> None:
    migrate(store.engine)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0013"
        assert "job_events" in inspect(conn).get_table_names()


def test_roles_are_seeded(store: Store) -> None:
    with store.engine.connect() as conn:
        roles = set(conn.execute(text("SELECT name FROM roles")).scalars())
    assert roles == {"admin", "instructor", "member", "learner", "partner"}


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: object) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/aitc.db")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    store.close()


@pytest.mark.parametrize(
    "statement", ["UPDATE job_events SET cause = 'rewritten'", "DELETE FROM job_events"]
)
def test_the_database_refuses_to_rewrite_job_events(store: Store, statement: str) -> None:
    from seed import seed

    from aitc.control.clock import FakeClock
    from aitc.control.store import JobSpec, create_job, load_caller

    clock = FakeClock()
    seed(store, clock)
    with store.session() as s:
        create_job(
            session=s,
            spec=JobSpec(command=("true",)),
            now=clock.now(),
            caller=load_caller(session=s, member_id="alice"),
        )
    with pytest.raises(DBAPIError, match="append-only"), store.session() as s:
        s.execute(text(statement))
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT cause FROM job_events")).scalars().all() == ["submitted"]
