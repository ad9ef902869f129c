"""In-process harness of the page tests that need no browser: the control-plane test lab
(tests/control/seed.py) served by ``create_app`` on a fresh SQLite store with a fake clock,
and one signed-in ``Visitor`` per member, who signs in through the form and sends forms
with the CSRF token of their page, as a browser does.

(Not a conftest.py: the browser tests' conftest starts a real server this harness does not
need; fixture ``pages``, imported by the test modules.)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))

from aitc.control.clock import FakeClock  # noqa: E402
from aitc.control.store import Store  # noqa: E402

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Visitor:
    """A browser's session of one member: cookies, and the CSRF token of the last page."""

    def __init__(self, app: Any, token: str | None) -> None:
        from fastapi.testclient import TestClient

        self.client = TestClient(app)
        self.csrf = ""
        if token is not None:
            page = self.get("/signin")
            assert page.status_code == 200
            signed = self.post("/signin", token=token, next="/")
            assert signed.status_code == 303, signed.text

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params or None, follow_redirects=False)
        found = CSRF.search(r.text)
        if found:
            self.csrf = found.group(1)
        return r

    def post(self, path: str, **fields: str) -> Any:
        """A form with the session's CSRF token (``csrf=""`` in ``fields``: without one)."""
        body = {"csrf": self.csrf, **fields}
        r = self.client.post(path, data=body, follow_redirects=False)
        found = CSRF.search(r.text)
        if found:
            self.csrf = found.group(1)
        return r


class Pages:
    """The app on the seeded store; ``visitor(member)`` signs a member in."""

    def __init__(self, tmp: Path) -> None:
        from seed import seed

        from aitc.control.api import Settings, create_app

        self.clock = FakeClock()
        self.store = Store.open(f"sqlite:///{tmp / 'aitc.db'}")
        self.tokens = seed(self.store, self.clock)
        settings = Settings(store=self.store, clock=self.clock, credential_key=tmp / "issuer.key")
        self.app = create_app(settings)
        self._visitors: dict[str, Visitor] = {}

    def visitor(self, member: str, *, again: bool = False) -> Visitor:
        """The member's signed-in visitor (``again``: signed in anew, e.g. after the clock
        moved past the session's 12 hours)."""
        if again or member not in self._visitors:
            self._visitors[member] = Visitor(self.app, self.tokens[member])
            self._visitors[member].get("/")
        return self._visitors[member]

    def api(self, member: str, method: str, path: str, json: Any = None) -> Any:
        from fastapi.testclient import TestClient

        headers = {"Authorization": f"Bearer {self.tokens[member]}"}
        return TestClient(self.app).request(method, f"/api/v1{path}", json=json, headers=headers)

    def figures_ready(self) -> None:
        """Wait until the figures asked for so far are computed (web.figures)."""
        from aitc.control.web.figures import figures_of

        figures_of(self.app).wait()


@pytest.fixture(name="pages")
def pages_fixture(tmp_path: Path) -> Iterator[Pages]:
    harness = Pages(tmp_path)
    yield harness
    harness.store.close()
