"""The dashboard's further pages in Chromium against the real ``aitc serve`` of the web tests
(8 virtual H100s, with their MIG profiles): a MIG job shows on its slice of the map, an admin
reserves GPUs through the form, and axe-core finds no serious violation on the admin, course
and report pages (their screenshots go to docs/img with AITC_WEB_SCREENSHOTS=1).

These run before test_dashboard.py (the name sorts first): the two weeks of history they
write make the overview's 14 days, taken there, worth a picture."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_check import axe_violations
from server_proc import ServerProcess, wait_until
from test_dashboard import state, waiting_on
from web_signin import sign_in

DAY = 86400.0


@pytest.fixture
def admin_page(browser: Any, server: ServerProcess) -> Any:
    assert server.token is not None
    page = sign_in(browser, server, server.token)
    yield page
    page.context.close()


@pytest.fixture(scope="module", autouse=True)
def history(server: ServerProcess) -> int:
    """Two weeks of finished jobs written into the server's store (as the report's benchmark
    writes them: about 70 % of its 8 GPUs busy), before any page asks for the 14 days' figures,
    so that they, the reports and their pictures have something to show."""
    from aitc.control.report.history import write_history
    from aitc.control.store import Store

    store = Store.open(f"sqlite:///{server.state_dir / 'aitc.db'}", upgrade=False)
    t = datetime.now(UTC).timestamp()
    try:
        return write_history(store, jobs=240, start=t - 14 * DAY, stop=t - 600, seed=7)
    finally:
        store.close()


def a_course_session(admin: httpx.Client, tokens: dict[str, str], base: str) -> int:
    """A session of the example lab's first workshop in ten days, bklein enrolled."""
    start = datetime.now(UTC).timestamp() + 10 * DAY
    body = {
        "course": "dli-fundamentals-dl",
        "start": datetime.fromtimestamp(start, UTC).isoformat(),
        "end": datetime.fromtimestamp(start + 8 * 3600, UTC).isoformat(),
        "instructors": ["mokafor"],
        "location": "Room 2.14",
    }
    made = admin.post("/course-sessions", json=body)
    assert made.status_code == 201, made.text
    sid = int(made.json()["id"])
    headers = {"Authorization": f"Bearer {tokens['bklein']}"}
    enrolled = httpx.post(
        f"{base}/api/v1/course-sessions/{sid}/enrolments", json={}, headers=headers
    )
    assert enrolled.status_code == 201, enrolled.text
    return sid


def test_the_map_shows_a_mig_job_on_its_slice(
    server: ServerProcess, member_page: Any, admin: httpx.Client, base: Path, shots: Path
) -> None:
    page = member_page
    page.goto(server.url + "/submit")
    page.get_by_label("Name").fill("notebook")
    page.get_by_label("Project").select_option("vision")
    page.get_by_label("GPUs").fill("")
    page.get_by_label("MIG slice").select_option("1g.10gb")
    page.get_by_label("Command").fill(waiting_on(base / "flag-mig"))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r".*/jobs/\d+$"))
    job = int(page.url.rsplit("/", 1)[1])
    wait_until(lambda: state(admin, job), lambda s: s == "running", timeout=90)
    page.goto(server.url + "/map")
    cell = page.locator("li.slice", has_text=f"1g.10gb: {job} notebook")
    cell.wait_for()
    assert cell.get_attribute("data-slots") == "0-0"  # NVIDIA's first 1g.10gb placement
    assert "at-0 span-1" in (cell.locator(".slot").get_attribute("class") or "")
    gpu = page.locator("li.gpu", has=cell)
    assert gpu.get_attribute("data-gpu") is not None and gpu.locator("li.slice").count() == 1
    page.screenshot(path=shots / "map-mig.png", full_page=True)
    (base / "flag-mig").touch()
    wait_until(lambda: state(admin, job), lambda s: s == "completed", timeout=90)


def test_an_admin_reserves_gpus_through_the_form_and_deletes_them(
    server: ServerProcess, admin_page: Any, admin: httpx.Client, shots: Path
) -> None:
    page = admin_page
    page.goto(server.url + "/admin/reservations")
    start = datetime.now(UTC).timestamp() + 30 * DAY  # far off: the other tests' jobs run on
    when = datetime.fromtimestamp(start, UTC)
    page.get_by_label("Organisation").select_option("ai-institute")
    page.get_by_label("What it is for").fill("paper deadline")
    page.get_by_label("Starts").fill(when.strftime("%Y-%m-%dT09:00"))
    page.get_by_label("Ends").fill(when.strftime("%Y-%m-%dT18:00"))
    page.get_by_label("Whole GPUs").fill("16")
    page.get_by_role("button", name="Reserve").click()
    page.locator("#r-gpus-error", has_text="can never be guaranteed").wait_for()
    page.get_by_label("Whole GPUs").fill("8")
    page.get_by_role("button", name="Reserve").click()
    page.get_by_role("status").filter(has_text="made").wait_for()
    listed = admin.get("/reservations").json()["data"]
    made = [r for r in listed if r["name"] == "paper deadline"]
    assert [(r["org"], r["gpus"]) for r in made] == [("ai-institute", 8)]
    page.screenshot(path=shots / "admin-reservations.png", full_page=True)
    page.get_by_role("button", name=f"Delete reservation {made[0]['id']}").click()
    page.get_by_role("status").filter(has_text="deleted").wait_for()
    assert all(r["id"] != made[0]["id"] for r in admin.get("/reservations").json()["data"])


def test_no_new_page_has_a_serious_accessibility_violation(
    server: ServerProcess,
    admin_page: Any,
    member_page: Any,
    admin: httpx.Client,
    tokens: dict[str, str],
    shots: Path,
) -> None:
    sid = a_course_session(admin, tokens, server.url)
    found: dict[str, list[dict[str, Any]]] = {}
    pictures = {
        "/admin/members": "admin-members.png",
        "/admin/tokens": "admin-tokens.png",
        "/admin/organisations": "admin-organisations.png",
        "/reports": "report-web.png",
        "/reports/invoices": "invoices.png",
        "/courses": "courses.png",
    }
    for path in (
        *pictures,
        "/admin/reservations",
        "/admin/nodes",
        "/notebook",
        "/reports/tables/usage_by_member",
    ):
        admin_page.goto(server.url + path)
        if path.startswith("/reports"):  # prepared off the request: the page fills itself in
            admin_page.locator("table").first.wait_for()
        found[path] = axe_violations(admin_page)
        if path in pictures:  # the top of the long lists is picture enough
            long = path in ("/admin/members", "/reports")
            admin_page.screenshot(path=shots / pictures[path], full_page=not long)
    member_page.goto(f"{server.url}/courses/sessions/{sid}")
    assert "You are enrolled in this session." in member_page.locator("main").inner_text()
    found["course session (member)"] = axe_violations(member_page)
    member_page.screenshot(path=shots / "course-session.png", full_page=True)
    member_page.goto(server.url + "/")
    member_page.locator("svg.chart rect").first.wait_for()  # the 14 days, computed off the request
    found["/ with the 14 days (member)"] = axe_violations(member_page)
    assert {p: [v["id"] for v in vs] for p, vs in found.items() if vs} == {}
