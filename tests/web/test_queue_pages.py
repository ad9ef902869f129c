"""The queue's pager: its links carry the page's first or last job, so walking forward and
back shows every job once, in order, whatever the depth."""

from __future__ import annotations

import re

from page_harness import Pages
from page_harness import pages_fixture as pages_fixture  # noqa: F401 (the pages fixture)

from aitc.control.store import JobSpec, create_job, load_caller

ROW = re.compile(r'<td><a href="/jobs/(\d+)">')
NEXT = re.compile(r'<a href="(/queue\?[^"]+)" rel="next">')
PREV = re.compile(r'<a href="(/queue\?[^"]+)" rel="prev">')


def test_walking_the_pages_shows_every_job_once_in_order(pages: Pages) -> None:
    with pages.store.session() as s:
        alice = load_caller(session=s, member_id="alice")
        made = [
            create_job(session=s, spec=JobSpec(command=("true",)), caller=alice, now=0.0)[0].id
            for _ in range(120)
        ]
    visitor, seen, path = pages.visitor("alice"), [], "/queue?state=all"
    texts = []
    while path:
        text = visitor.get(path.replace("&amp;", "&")).text
        texts.append(text)
        seen += [int(i) for i in ROW.findall(text)]
        found = NEXT.search(text)
        path = found.group(1) if found else ""
    assert seen == made[::-1] and len(texts) == 3  # newest first, 50 a page
    forward, backward = NEXT.search(texts[1]), PREV.search(texts[-1])
    assert forward is not None and "after=" in forward.group(1) and "Page 3 of 3" in texts[-1]
    assert backward is not None and "before=" in backward.group(1)
    back = visitor.get(backward.group(1).replace("&amp;", "&")).text
    assert [int(i) for i in ROW.findall(back)] == made[::-1][50:100] and "Page 2 of 3" in back
