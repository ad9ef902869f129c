"""Every console block of README.md and docs/*.md runs as printed (see tests/docs_replay.py).

One test per page that has a block to run: its commands in order, in one terminal, against the
servers its `<!-- replay: serve … -->` comments start; blocks marked `slow` run apart with
``-m slow``. `AITC_DOCS_RECORD=FILE` appends what each command really printed to FILE, to
update a page from a real run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docs_replay import PAGES, ROOT, Block, PageRun, page_blocks

BLOCKS = {page: page_blocks(page) for page in PAGES}
RECORD = Path(os.environ["AITC_DOCS_RECORD"]) if os.environ.get("AITC_DOCS_RECORD") else None


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


def test_every_block_is_replayed_or_says_why_not() -> None:
    for blocks in BLOCKS.values():
        for block in blocks:
            reason = block.directive("skip") or block.directive("slow")
            if reason is not None:
                assert reason.strip(), f"{block.where}: say why the block is not replayed"


@pytest.mark.parametrize("page", REPLAYED, ids=[name(p) for p in REPLAYED])
def test_the_page_runs_as_printed(page: Path) -> None:
    run = PageRun(page, RECORD)
    try:
        run.run(BLOCKS[page])
    finally:
        run.close()
    assert run.ran > 0


@pytest.mark.slow
@pytest.mark.parametrize(("page", "block"), SLOW, ids=[b.where for _, b in SLOW])
def test_the_slow_block_runs_as_printed(page: Path, block: Block) -> None:
    run = PageRun(page, RECORD)
    try:
        run.run([block], slow=True)
    finally:
        run.close()
