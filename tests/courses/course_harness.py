"""The courses tests' harness: the control-plane test lab (tests/control/seed.py) served
in-process, with a token per member and an issuer key file (fixture ``course_api``, imported
by the test modules). Not a conftest.py: tests/control's tests import their own ``conftest``
by name, and a second module of that name would shadow it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))

from aitc.control.clock import FakeClock  # noqa: E402
from aitc.control.store import Store  # noqa: E402

DAY = 86400.0


class CourseApi:
    """The API app on the seeded store; ``call(member, method, path, json)`` → response."""

    def __init__(self, store: Store, clock: FakeClock, tokens: dict[str, str], key: Path) -> None:
        from fastapi.testclient import TestClient

        from aitc.control.api import Settings, create_app

        self.store, self.clock, self.tokens = store, clock, tokens
        app = create_app(Settings(store=store, clock=clock, credential_key=key))
        self.client = TestClient(app)

    def call(self, member: str, method: str, path: str, json: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[member]}"}
        return self.client.request(method, f"/api/v1{path}", json=json, headers=headers)

    def ok(self, member: str, method: str, path: str, json: Any = None) -> Any:
        r = self.call(member, method, path, json)
        assert r.status_code in (200, 201), r.text
        return r.json()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def make_course(api: CourseApi, course_id: str = "intro", **extra: Any) -> None:
    body = {"id": course_id, "title": "Intro to DL", "org": "school", "seats": 14}
    body.setdefault("mig_profile", "1g.10gb")
    body.update(extra)
    body = {k: v for k, v in body.items() if v is not None}
    api.ok("admin", "POST", "/courses", body)
    api.ok("admin", "POST", f"/courses/{course_id}/instructors", {"member": "carol"})


def session_body(
    api: CourseApi, course: str = "intro", day: float = 2, **extra: Any
) -> dict[str, Any]:
    start = api.clock.now() + day * DAY
    return {"course": course, "start": iso(start), "end": iso(start + 3 * 3600), **extra}


@pytest.fixture(name="course_api")
def course_api_fixture(tmp_path: Path) -> Iterator[CourseApi]:
    from seed import seed

    clock = FakeClock()
    store = Store.open(f"sqlite:///{tmp_path / 'aitc.db'}")
    harness = CourseApi(store, clock, seed(store, clock), tmp_path / "state" / "issuer.key")
    with harness.client:
        yield harness
    store.close()
