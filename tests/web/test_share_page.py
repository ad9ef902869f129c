"""The fair-share page: the tree `aitc share` prints, scoped as the API scopes it."""

from __future__ import annotations

import html
import re

from page_harness import Pages
from page_harness import pages_fixture as pages_fixture  # noqa: F401 (the pages fixture)
from sqlalchemy import update

from aitc.control.store import JobRow

ROW = re.compile(
    r'<tr class="depth-(\d)"><th scope="row">(?:<span class="sr-only">\w+ </span>)?([\w-]+)</th>'
)


def _ran(pages: Pages, member: str, project: str, gpus: int) -> None:
    job = pages.api(
        member, "POST", "/jobs", {"command": ["true"], "project": project, "gpus": gpus}
    )
    assert job.status_code == 201, job.text
    now = pages.clock.now()
    with pages.store.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job.json()["id"])
            .values(state="completed", started_at=now - 7200, ended_at=now - 3600)
        )


def test_the_page_shows_the_tree_as_the_api_and_only_what_the_member_may_see(
    pages: Pages,
) -> None:
    pages.clock.advance(86400)
    _ran(pages, "alice", "vision", 4)
    _ran(pages, "bob", "nlp", 2)
    _ran(pages, "quinn", "energy", 1)
    text = pages.visitor("alice").get("/share").text
    shown = [(int(d), name) for d, name in ROW.findall(text)]
    api = pages.api("alice", "GET", "/shares").json()["data"]
    assert [r["member"] or r["project"] or r["organisation"] for r in api] == [n for _, n in shown]
    assert (2, "alice") in shown and (1, "vision") in shown and (0, "globex") in shown
    assert not {"bob", "nlp", "quinn", "energy"} & {n for _, n in shown}
    mine = next(r for r in api if r["member"] == "alice")
    assert f"{mine['rank']} of {pages.api('alice', 'GET', '/shares').json()['members']}" in text
    assert "tries members' jobs in the order of this tree" in html.unescape(text)
    admin = pages.visitor("admin").get("/share").text
    assert {"bob", "quinn", "energy"} <= {n for _, n in ROW.findall(admin)}
