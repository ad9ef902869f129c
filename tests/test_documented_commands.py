"""Every `aitc` command the README and docs/ show in a console block is valid as printed: its
sub-commands exist and its flags and values parse (click parses it exactly as a shell would
hand it over, without running it). The commands that run in a second are also compared with
their printed output elsewhere (tests/test_readme.py, tests/arch/test_arch_docs.py); this
guards the rest (servers, courses, plans) against a renamed flag or sub-command."""

from __future__ import annotations

import contextlib
import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer._click.exceptions import UsageError

from aitc.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROMPT = re.compile(r"^\$ (?:\.venv/bin/)?aitc\s")


def documented() -> list[tuple[str, str, bool]]:
    """(page:line, command line, whether the page shows it failing) of every `$ aitc ...` in a
    console block, continuation lines joined; lines that elide part of the command (`...`,
    `…`) are left out."""
    out = []
    for page in PAGES:
        text = page.read_text()
        for block in re.finditer(r"```console\n(.*?)```", text, flags=re.S):
            lines = block[1].splitlines()
            first = text[: block.start()].count("\n") + 2
            i = 0
            while i < len(lines):
                line, at = lines[i], i
                while line.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    line = line[:-1] + " " + lines[i].strip()
                i += 1
                if PROMPT.match(line) and "..." not in line and "…" not in line:
                    shown = lines[i] if i < len(lines) else ""
                    where = f"{page.relative_to(ROOT)}:{first + at}"
                    out.append((where, line[2:], shown.startswith("aitc: ")))
    return out


COMMANDS = documented()


def words(line: str) -> list[str]:
    """The words a shell hands to the command of ``line``: up to a pipe, a list or a
    redirection (and the descriptor number before one), quotes and comments as a shell reads
    them; a command substitution (`$(date +%F)`) is one word, whose value the shell computes."""
    line = re.sub(r"\$\([^()]*\)", "$VALUE", line)
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    out: list[str] = []
    for word in lex:
        if word and all(c in "();<>|&" for c in word):
            if word.startswith(">") and out and out[-1].isdigit():
                out.pop()
            break
        out.append(word)
    return out


def parse(args: list[str]) -> str:
    """Parse ``args`` down to the command they name, as `aitc` would; the command's name."""
    cli = typer.main.get_command(app)
    ctx = cli.make_context("aitc", list(args))
    cmd = cli
    while hasattr(cmd, "resolve_command"):
        protected = getattr(ctx, "_protected_args", None)  # (the vendored click's name)
        if protected is None:
            protected = ctx.protected_args
        name, sub, rest = cmd.resolve_command(ctx, [*protected, *ctx.args])
        assert sub is not None, args
        ctx = sub.make_context(name or "", rest, parent=ctx)
        cmd = sub
    return str(cmd.name)


def test_the_pages_show_commands() -> None:
    assert len(COMMANDS) > 100
    assert {c[0].split(":")[0] for c in COMMANDS} >= {"README.md", "docs/users.md"}


@pytest.mark.parametrize(("where", "line", "fails"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_documented_command_parses_as_printed(where: str, line: str, fails: bool) -> None:
    args = words(line)
    assert args[0].endswith("aitc"), (where, args)
    if not fails:
        parse(args[1:])  # a usage error (unknown flag, sub-command or bad value) raises here
        return
    # the page shows an error: one of aitc's own (a usage error, or one from running it)
    with contextlib.suppress(UsageError):
        parse(args[1:])
