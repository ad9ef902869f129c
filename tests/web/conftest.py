"""Fixtures of the web tests: a real ``aitc serve`` (8 virtual GPUs, jobs run as real Unix
accounts, so these tests need root, as CI has), Debian's Chromium driven by Playwright, and a
signed-in page per member.

Screenshots go to a temporary directory; ``AITC_WEB_SCREENSHOTS=1`` writes them to docs/img
instead (how the pictures of docs/web.md are made).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))

from security_lab import ensure_user  # noqa: E402
from server_proc import REPO, ServerProcess  # noqa: E402
from web_signin import sign_in  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
MEMBERS = ("bklein", "randersen")  # a member of vision; a partner of another organisation


@pytest.fixture(scope="session")
def base() -> Iterator[Path]:
    """A directory every account may traverse (jobs wait on flag files here)."""
    if os.geteuid() != 0:
        pytest.skip("the web tests run jobs as members' Unix accounts and need root (CI has it)")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium; scripts/test does)")
    path = Path(tempfile.mkdtemp(prefix="aitc-web-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server(base: Path) -> Iterator[ServerProcess]:
    for account in MEMBERS:
        ensure_user(account)
    proc = ServerProcess(base / "state")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="session")
def tokens(server: ServerProcess) -> dict[str, str]:
    with server.client() as admin:
        made = {}
        for member in MEMBERS:
            r = admin.post("/tokens", json={"member": member, "name": "web tests"})
            assert r.status_code == 201, r.text
            made[member] = r.json()["token"]
        return made


@pytest.fixture
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    """The admin's API client; cancels every job the test left running."""
    with server.client() as client:
        yield client
        for job in client.get("/jobs", params={"state": ["pending", "running"]}).json()["data"]:
            client.post(f"/jobs/{job['id']}/cancel")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shots() -> Iterator[Path]:
    """Where screenshots go: docs/img with AITC_WEB_SCREENSHOTS=1, else a temporary folder."""
    if os.environ.get("AITC_WEB_SCREENSHOTS") == "1":
        path = REPO / "docs" / "img"
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="aitc-web-shots-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def member_page(browser: Any, server: ServerProcess, tokens: dict[str, str]) -> Iterator[Any]:
    page = sign_in(browser, server, tokens["bklein"])
    yield page
    page.context.close()


@pytest.fixture
def other_page(browser: Any, server: ServerProcess, tokens: dict[str, str]) -> Iterator[Any]:
    page = sign_in(browser, server, tokens["randersen"])
    yield page
    page.context.close()
