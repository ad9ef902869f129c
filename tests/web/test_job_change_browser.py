"""In Chromium against a real ``aitc serve``: a held job's page changes its time limit through
its form, and the page, form and error included, has no serious accessibility violation."""

from __future__ import annotations

from typing import Any

import httpx
from axe_check import axe_violations
from server_proc import ServerProcess


def test_a_held_jobs_page_changes_its_time_limit_accessibly(
    server: ServerProcess, member_page: Any, admin: httpx.Client, tokens: dict[str, str]
) -> None:
    body = {"command": ["true"], "hold": True, "project": "vision", "time_limit": 600}
    auth = {"Authorization": f"Bearer {tokens['bklein']}"}
    job = httpx.post(f"{server.url}/api/v1/jobs", json=body, headers=auth).json()["id"]
    page = member_page
    page.goto(f"{server.url}/jobs/{job}")
    assert page.get_by_label("Time limit (minutes)").input_value() == "10"
    found = {"form": axe_violations(page)}
    page.get_by_label("Time limit (minutes)").fill("0.001")
    page.get_by_role("button", name=f"Change job {job}").click()
    page.locator("#f-time_limit-error").wait_for()
    found["error"] = axe_violations(page)
    page.get_by_label("Time limit (minutes)").fill("5")
    page.get_by_role("button", name=f"Change job {job}").click()
    page.get_by_text("time limit 00:10:00 -> 00:05:00 by bklein").wait_for()
    assert admin.get(f"/jobs/{job}").json()["time_limit"] == 300.0
    assert {k: [v["id"] for v in vs] for k, vs in found.items() if vs} == {}
