"""The "Start a notebook" page (linked from the submit page) starts a notebook as ``POST
/notebooks`` does (errors beside their field, nothing stored); the job page of a running
notebook links to it for its member and admins only."""

from __future__ import annotations

from page_harness import Pages
from page_harness import pages_fixture as pages_fixture  # noqa: F401 (the pages fixture)

from aitc.control.store.models import JobRow
from aitc.control.store.specs import placement_to_json
from aitc.domain.job import NodeAlloc, Placement


def test_the_form_starts_a_notebook_and_its_page_links_to_it(pages: Pages) -> None:
    alice = pages.visitor("alice")
    assert 'href="/notebook"' in alice.get("/submit").text
    page = alice.get("/notebook").text
    assert "Start a notebook" in page and 'action="/notebook"' in page
    r = alice.post("/notebook", project="vision", gpus="1", time_limit="30")
    assert r.status_code == 303
    job_id = int(r.headers["location"].rsplit("/", 1)[1])
    job = pages.api("alice", "GET", f"/jobs/{job_id}").json()
    assert (job["member"], job["gpus"], job["time_limit"]) == ("alice", 1, 1800.0)
    assert (
        job["notebook_port"]
        and "link that opens it comes here" in alice.get(f"/jobs/{job_id}").text
    )
    with pages.store.session() as s:  # as the controller records its start
        row = s.get(JobRow, job_id)
        assert row is not None
        row.state = "running"
        row.placement = placement_to_json(Placement((NodeAlloc("node3", (0,)),)))
    token = job["env"]["JUPYTER_TOKEN"]
    for member in ("alice", "admin"):
        shown = pages.visitor(member).get(f"/jobs/{job_id}").text
        assert "Open notebook" in shown and f"?token={token}" in shown
    other = pages.visitor("erin").get(f"/jobs/{job_id}").text  # same project: sees the job
    assert "Open notebook" not in other and token not in other


def test_a_wrong_value_is_shown_beside_its_field_and_starts_nothing(pages: Pages) -> None:
    alice = pages.visitor("alice")
    alice.get("/notebook")
    r = alice.post("/notebook", project="vision", gpus="two", time_limit="30")
    assert r.status_code == 422
    assert 'id="nb-gpus-error"' in r.text and "must be a whole number" in r.text
    r = alice.post("/notebook", project="nlp", gpus="1", time_limit="30")
    assert r.status_code == 422 and 'id="nb-project-error"' in r.text
    assert pages.api("alice", "GET", "/jobs").json()["count"] == 0


def test_the_form_sent_twice_starts_one_notebook(pages: Pages) -> None:
    alice = pages.visitor("alice")
    page = alice.get("/notebook").text
    key = page.split('name="key" value="', 1)[1].split('"', 1)[0]
    first = alice.post("/notebook", project="vision", gpus="1", time_limit="30", key=key)
    again = alice.post("/notebook", project="vision", gpus="1", time_limit="30", key=key)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert pages.api("alice", "GET", "/jobs").json()["count"] == 1
