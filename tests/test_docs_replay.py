"""Every console block of README.md and docs/*.md runs as printed (see tests/docs_replay.py).

One test per page that has a block to run: its commands in order, in one terminal, against the
servers its `<!-- replay: serve … -->` comments start. The pages selected run side by side
(`AITC_DOCS_WORKERS`, default 4, at a time, the longest first: much of a page's time is spent
waiting for its server and its jobs), each test reporting its own page. Blocks marked `slow`
run apart with ``-m slow``. `AITC_DOCS_RECORD=FILE` appends what each command really printed to
FILE, to update a page from a real run (one page at a time then). Needs root, as CI has: the
pages' members run jobs as their own Unix accounts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from docs_replay import PAGES, ROOT, Block, PageRun, page_blocks

BLOCKS = {page: page_blocks(page) for page in PAGES}
RECORD = Path(os.environ["AITC_DOCS_RECORD"]) if os.environ.get("AITC_DOCS_RECORD") else None
WORKERS = 1 if RECORD else int(os.environ.get("AITC_DOCS_WORKERS", "4"))


def runnable(blocks: list[Block], *, slow: bool) -> list[Block]:
    return [
        b
        for b in blocks
        if b.directive("skip") is None and (b.directive("slow") is not None) == slow
    ]


def name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


REPLAYED = [page for page, blocks in BLOCKS.items() if runnable(blocks, slow=False)]
SLOW = [(page, b) for page, blocks in BLOCKS.items() for b in runnable(blocks, slow=True)]


def weight(page: Path) -> int:
    """About how long a page takes: its commands, a simulation or a wait counting for ten."""
    commands = [c.text for b in runnable(BLOCKS[page], slow=False) for c in b.commands]
    return len(commands) + 10 * sum("aitc sim" in c or "sleep" in c for c in commands)


def replay(page: Path, blocks: list[Block], *, slow: bool = False) -> int:
    """Run ``blocks`` of ``page`` in a fresh terminal; how many commands ran."""
    run = PageRun(page, RECORD)
    try:
        run.run(blocks, slow=slow)
    finally:
        run.close()
    return run.ran


@pytest.fixture(scope="module")
def replays(request: pytest.FixtureRequest) -> Iterator[dict[Path, Future[int]]]:
    """The replays of the pages this session runs, started together on first use."""
    selected = [
        item.callspec.params["page"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_the_page_runs_as_printed"
    ]
    selected.sort(key=weight, reverse=True)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        yield {page: pool.submit(replay, page, BLOCKS[page]) for page in selected}


def test_every_block_is_replayed_or_says_why_not() -> None:
    for blocks in BLOCKS.values():
        for block in blocks:
            reason = block.directive("skip") or block.directive("slow")
            if reason is not None:
                assert reason.strip(), f"{block.where}: say why the block is not replayed"


@pytest.mark.parametrize("page", REPLAYED, ids=[name(p) for p in REPLAYED])
def test_the_page_runs_as_printed(page: Path, replays: dict[Path, Future[int]]) -> None:
    assert replays[page].result() > 0


@pytest.mark.slow
@pytest.mark.parametrize(("page", "block"), SLOW, ids=[b.where for _, b in SLOW])
def test_the_slow_block_runs_as_printed(page: Path, block: Block) -> None:
    assert replay(page, [block], slow=True) > 0


def replayed(tmp_path: Path, block: str) -> str:
    """What replaying a page of one console block reports ("" when it runs as printed)."""
    page = tmp_path / "page.md"
    page.write_text(f"# A page\n\n```console\n{block}```\n")
    try:
        replay(page, page_blocks(page))
    except AssertionError as failed:
        return str(failed)
    return ""


def test_the_replay_compares_what_varies_without_its_value_and_honours_cuts(
    tmp_path: Path,
) -> None:
    block = (
        "$ printf 'one\\ntwo\\nthree\\n'\none\n…\nthree\n"
        "$ date '+%Y-%m-%d %H:%M:%S'\n2026-11-26 04:42:01\n"
        "$ FOO=bar\n$ echo $FOO\nbar\n"
    )
    assert replayed(tmp_path, block) == ""


def test_the_replay_fails_on_an_output_the_page_does_not_show(tmp_path: Path) -> None:
    failed = replayed(tmp_path, "$ echo hello\ngoodbye\n")
    assert "page.md:4: `echo hello` printed what the page does not show" in failed
    assert "hello" in failed.split("real:")[1]


def test_the_replay_fails_on_an_exit_status_the_page_does_not_show(tmp_path: Path) -> None:
    assert "`false` exited 1, expected to exit 0" in replayed(tmp_path, "$ false\n")
    failing = "$ aitc show abc\naitc: JOB_ID: 'abc' is not a job number (see aitc queue)\n"
    assert replayed(tmp_path, failing) == ""  # the page shows it failing: it must fail
