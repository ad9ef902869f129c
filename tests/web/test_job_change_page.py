"""A pending job's page has a form to change its name and time limit (``aitc update``): it
changes the job as ``PATCH /jobs/{id}`` does, shows what is wrong beside the field, and is
offered only to who may change a pending job."""

from __future__ import annotations

from page_harness import Pages
from page_harness import pages_fixture as pages_fixture  # noqa: F401 (the pages fixture)


def _job(pages: Pages, member: str = "alice", **body: object) -> int:
    r = pages.api(member, "POST", "/jobs", {"command": ["true"], "hold": True, **body})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_the_form_changes_the_name_and_time_limit_and_notes_it(pages: Pages) -> None:
    job = _job(pages, name="long", time_limit=7200.0)
    alice = pages.visitor("alice")
    page = alice.get(f"/jobs/{job}").text
    assert f"Change job {job}" in page and 'value="120"' in page
    r = alice.post(f"/jobs/{job}/update", name="short", time_limit="60")
    assert r.status_code == 303
    shown = pages.api("alice", "GET", f"/jobs/{job}").json()
    assert (shown["name"], shown["time_limit"]) == ("short", 3600.0)
    history = alice.get(f"/jobs/{job}").text
    assert "time limit 02:00:00 -&gt; 01:00:00 by alice" in history


def test_a_wrong_value_is_shown_beside_its_field_and_changes_nothing(pages: Pages) -> None:
    job = _job(pages, name="keep", time_limit=600.0)
    alice = pages.visitor("alice")
    alice.get(f"/jobs/{job}")
    r = alice.post(f"/jobs/{job}/update", name="new", time_limit="soon")
    assert r.status_code == 422
    assert 'id="f-time_limit-error"' in r.text and "must be a number of minutes" in r.text
    r = alice.post(f"/jobs/{job}/update", name="new", time_limit="0.001")
    assert r.status_code == 422 and 'id="f-time_limit-error"' in r.text
    assert pages.api("alice", "GET", f"/jobs/{job}").json()["name"] == "keep"


def test_the_form_is_offered_only_for_a_pending_job_its_viewer_may_change(pages: Pages) -> None:
    job = _job(pages)
    erin = pages.visitor("erin")  # sees it (same project), may not cancel it
    assert "Change job" not in erin.get(f"/jobs/{job}").text
    assert erin.post(f"/jobs/{job}/update", name="x").status_code == 403
    pages.api("alice", "POST", f"/jobs/{job}/cancel")
    assert "Change job" not in pages.visitor("alice").get(f"/jobs/{job}").text


def test_the_page_shows_a_jobs_begin_time_only_when_it_has_one(pages: Pages) -> None:
    later = _job(pages, begin_at="2099-01-01T09:00:00Z")
    page = pages.visitor("alice").get(f"/jobs/{later}").text
    assert "<dt>Begin time</dt><dd>2099-01-01 09:00" in page
    plain = _job(pages)
    assert "Begin time" not in pages.visitor("alice").get(f"/jobs/{plain}").text
