"""Schemathesis against the OpenAPI schema, in-process: no input makes the server fail (5xx).

Each operation gets a bounded number of valid and of invalid generated examples, sent with an
admin's token (the caller who reaches the most code), on SQLite and again on PostgreSQL (which
refuses NUL characters and unpaired surrogates that SQLite would store). One seeded app per
database serves every operation, so the run stays short; ``AITC_FUZZ_EXAMPLES=200`` hunts longer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from conftest import Api
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from seed import seed

from aitc.control.api import Settings, create_app
from aitc.control.clock import FakeClock
from aitc.control.store import Store, create_db_engine

EXAMPLES = int(os.environ.get("AITC_FUZZ_EXAMPLES", "10"))
FOLLOW = ("true", "1", "yes", "on", "t", "y")


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every (method, path, mode) of the schema (the app is built on an unused in-memory engine).

    Invalid (negative) examples exist only for operations that take some input.
    """
    app = create_app(Settings(store=Store(create_db_engine("sqlite://"))))
    paths = app.openapi()["paths"]
    return [
        (method.upper(), path, mode)
        for path, ops in paths.items()
        for method, op in ops.items()
        for mode in GenerationMode
        if mode == GenerationMode.POSITIVE or op.get("parameters") or op.get("requestBody")
    ]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzz_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, object]]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").fresh_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'aitc.db'}"
    store, clock = Store.open(url), FakeClock()
    api = Api(store, clock, seed(store, clock))
    with api.client:
        yield api, schemathesis.openapi.from_asgi("/openapi.json", api.app)
    store.close()


@pytest.mark.parametrize(("method", "path", "mode"), _cases(), ids=str)
def test_no_input_makes_the_server_fail(
    fuzz_api: tuple[Api, schemathesis.BaseSchema], method: str, path: str, mode: GenerationMode
) -> None:
    api, schema = fuzz_api
    operation = schema[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        if case.query and str(case.query.get("follow", "")).lower() in FOLLOW:
            case.query["follow"] = "false"  # following a pending job's log waits for its end
        response = case.call(headers=api.auth("admin"))
        assert response.status_code < 500, (method, path, response.text[:500])

    run()
