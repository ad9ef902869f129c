"""Every query is scoped to what the caller may see; what they may not see does not exist."""

from __future__ import annotations

import pytest
from conftest import Api

OWNERS = {"alice": "vision", "bob": "nlp", "dave": "course", "pat": "health", "quinn": "energy"}
# Who sees whose jobs (besides their own): the rules of aitc.control.store.access.
SEES = {
    "admin": set(OWNERS),
    "alice": {"alice"},
    "erin": {"alice"},  # same project
    "bob": {"bob"},
    "carol": {"alice", "bob"},  # instructor: her organisation
    "dave": {"dave"},
    "pat": {"pat"},
    "pia": {"pat"},  # partner in vision too, but never sees another organisation's jobs
    "quinn": {"quinn"},
}


@pytest.fixture
def jobs(api: Api) -> dict[str, int]:
    return {m: int(api.submit(m, project=p)["id"]) for m, p in OWNERS.items()}  # type: ignore[arg-type]


def test_listing_shows_exactly_the_jobs_the_caller_may_see(api: Api, jobs: dict[str, int]) -> None:
    for viewer, owners in SEES.items():
        listed = api.client.get("/api/v1/jobs", headers=api.auth(viewer)).json()
        assert {j["member"] for j in listed["data"]} == owners, viewer
        assert listed["count"] == len(owners)


@pytest.mark.parametrize("path", ["", "/events", "/logs", "/logs?follow=true"])
def test_reading_a_job_you_may_not_see_is_404(api: Api, jobs: dict[str, int], path: str) -> None:
    for job_id in jobs.values():  # ended jobs, so that following their logs returns at once
        api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=api.auth("admin"))
    for viewer, owners in SEES.items():
        for owner, job_id in jobs.items():
            r = api.client.get(f"/api/v1/jobs/{job_id}{path}", headers=api.auth(viewer))
            expected = 200 if owner in owners else 404
            assert r.status_code == expected, (viewer, owner, path)


def test_cancelling_a_job_you_may_not_see_is_404_and_changes_nothing(
    api: Api, jobs: dict[str, int]
) -> None:
    for viewer, owners in SEES.items():
        for owner, job_id in jobs.items():
            if owner in owners or viewer == "admin":
                continue
            r = api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=api.auth(viewer))
            assert r.status_code == 404, (viewer, owner)
    states = {
        j["state"] for j in api.client.get("/api/v1/jobs", headers=api.auth("admin")).json()["data"]
    }
    assert states == {"pending"}


def test_seeing_a_job_is_not_enough_to_cancel_it(api: Api, jobs: dict[str, int]) -> None:
    r = api.client.post(f"/api/v1/jobs/{jobs['alice']}/cancel", headers=api.auth("erin"))
    assert r.status_code == 403


def test_an_instructor_may_cancel_jobs_of_their_organisation(
    api: Api, jobs: dict[str, int]
) -> None:
    r = api.client.post(f"/api/v1/jobs/{jobs['bob']}/cancel", headers=api.auth("carol"))
    assert r.json()["state"] == "cancelled"


def test_a_partner_cannot_submit_to_another_organisations_project(api: Api) -> None:
    r = api.client.post(
        "/api/v1/jobs", json={"command": ["x"], "project": "vision"}, headers=api.auth("pia")
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "project"]


def test_usage_and_queue_count_only_visible_jobs(api: Api, jobs: dict[str, int]) -> None:
    q = api.client.get("/api/v1/queue", headers=api.auth("pat")).json()
    assert {j["member"] for j in q["pending"]} == {"pat"}
    usage = api.client.get(
        "/api/v1/usage", params={"by": "member"}, headers=api.auth("quinn")
    ).json()
    assert {r["key"] for r in usage["data"]} <= {"quinn"}


@pytest.mark.parametrize(
    "path", ["/api/v1/organisations", "/api/v1/projects", "/api/v1/members", "/api/v1/tokens"]
)
def test_directory_and_tokens_are_for_admins_only(api: Api, path: str) -> None:
    for member in ("alice", "carol", "pat", "dave"):
        assert api.client.get(path, headers=api.auth(member)).status_code == 403
    assert api.client.get(path, headers=api.auth("admin")).status_code == 200
