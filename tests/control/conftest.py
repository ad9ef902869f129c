"""Fixtures of the control-plane tests: a fresh database per test, on SQLite and again on a
real PostgreSQL server that the session starts once (``pgserver.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pgserver import PgServer, postgres_available, start_server, stop_server

from aitc.control.clock import FakeClock
from aitc.control.store import Store


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole test session (skips the test if none can start)."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    server = start_server()
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> str:
    """The URL of a fresh, migrated, empty PostgreSQL database."""
    return postgres_server.fresh_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh database: a new SQLite file, or a new database on the test PostgreSQL."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'aitc.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Api:
    """The API app in-process on a seeded store, with a token per member of ``seed.py``."""

    def __init__(self, store: Store, clock: FakeClock, tokens: dict[str, str]) -> None:
        from fastapi.testclient import TestClient

        from aitc.control.api import Settings, create_app

        self.store, self.clock, self.tokens = store, clock, tokens
        self.wakes = 0
        self.app = create_app(
            Settings(store=store, clock=clock, wake=self._wake, follow_poll_s=0.02)
        )
        self.client = TestClient(self.app)

    def _wake(self) -> None:
        self.wakes += 1

    def auth(self, member: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[member]}"}

    def submit(self, member: str, **body: object) -> dict[str, object]:
        body.setdefault("command", ["echo", "hi"])
        r = self.client.post("/api/v1/jobs", json=body, headers=self.auth(member))
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.fixture
def api(store: Store, clock: FakeClock) -> Iterator[Api]:
    from seed import seed

    harness = Api(store, clock, seed(store, clock))
    with harness.client:
        yield harness
