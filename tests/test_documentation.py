"""The documentation is complete: every command, option, policy and executor is documented.

Like Datasette's ``tests/test_docs.py``: the tests walk what the code offers (the CLI's command
tree, the policy and executor registries) and fail when README.md or a page of docs/ does not
mention it, so a new command or policy cannot ship undocumented. They also check that every
relative link (and its #anchor) in README.md and docs/ points at something that exists.
(Not named ``test_docs.py``: pytest imports test files by basename, and
``tests/engine/test_docs.py`` already holds that one.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from aitc.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

# Options that typer adds to every application; they document themselves.
TYPER_OPTIONS = {"--help", "--install-completion", "--show-completion"}


def all_docs() -> str:
    return "\n".join(page.read_text() for page in PAGES)


def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """Yield ("aitc arch build", click command) for the command and every sub-command below."""
    yield " ".join(path), command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = dict(walk(typer.main.get_command(app), ("aitc",)))


def test_the_walk_finds_every_verb_and_sub_command() -> None:
    assert {"aitc sim", "aitc serve", "aitc submit", "aitc arch build", "aitc token list"} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    assert (COMMANDS[name].help or "").strip(), f"`{name}` has no help text"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented(name: str) -> None:
    assert name in all_docs(), f"`{name}` is mentioned neither in README.md nor in docs/*.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help_and_is_documented(name: str) -> None:
    text = all_docs()
    for param in COMMANDS[name].params:
        assert (getattr(param, "help", None) or "").strip(), f"`{name}` {param.name}: no help"
        if param.param_type_name != "option":
            continue
        flags = [f for f in param.opts if f.startswith("--") and f not in TYPER_OPTIONS]
        missing = [f for f in flags if not re.search(re.escape(f) + r"(?![\w-])", text)]
        assert not missing, f"`{name}` {missing}: not mentioned in README.md or docs/*.md"


def test_every_policy_is_documented_in_the_scheduling_guide() -> None:
    from aitc.engine.registry import POLICIES

    text = (DOCS / "scheduling.md").read_text()
    assert POLICIES
    for name in POLICIES:
        assert f"### `{name}`" in text, f"policy {name!r} has no section in docs/scheduling.md"


def test_every_executor_is_documented_for_operators() -> None:
    from aitc.control.executors.registry import executor_names

    text = (DOCS / "operators.md").read_text() + (DOCS / "slurm.md").read_text()
    assert {"local", "slurm", "fake"} <= set(executor_names())
    for name in executor_names():
        assert f"`{name}`" in text, f"executor {name!r}: not in docs/operators.md or slurm.md"


def test_every_pending_reason_is_explained_to_members() -> None:
    from aitc.engine.view import ReasonCode

    text = (DOCS / "users.md").read_text()
    for code in ReasonCode:
        assert f"| `{code.value}` |" in text, f"reason {code.value!r}: not in docs/users.md"


def without_code(markdown: str) -> str:
    """The text outside fenced code blocks and inline code, where links are links."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    prose = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", prose, flags=re.M)}


def relative_links() -> list[tuple[str, str]]:
    links = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(page.read_text())):
            if not re.match(r"[a-z]+:", target):
                links.append((str(page.relative_to(ROOT)), target))
    return links


def test_the_pages_have_relative_links() -> None:
    targets = [target for _, target in relative_links()]
    assert "docs/index.md" in targets and "users.md" in targets


@pytest.mark.parametrize(("page", "target"), relative_links())
def test_every_relative_link_points_to_an_existing_file_and_anchor(page: str, target: str) -> None:
    path, _, anchor = target.partition("#")
    file = (ROOT / page).parent / path if path else ROOT / page
    assert file.exists(), f"{page}: link to {target}: no such file"
    if anchor and file.suffix == ".md":
        assert anchor in anchors(file), f"{page}: link to {target}: no such heading"


def test_the_slug_follows_github() -> None:
    assert slug("The store: databases and tokens") == "the-store-databases-and-tokens"
    assert slug("Slurm configuration (`aitc arch slurm-config`)") == (
        "slurm-configuration-aitc-arch-slurm-config"
    )


def test_every_docs_page_is_in_the_index_and_the_readme() -> None:
    index = (DOCS / "index.md").read_text()
    readme = README.read_text()
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}"
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
