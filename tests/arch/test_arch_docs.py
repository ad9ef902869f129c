"""docs/arch.md: every `$ aitc arch ...` example prints exactly what the page shows."""

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitc.cli.arch import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "arch.md"
BLOCK = re.compile(r"```text\n\$ aitc arch (?P<args>[^\n]*)\n(?P<out>.*?)```", re.S)


def examples() -> list[tuple[str, str]]:
    return [(m["args"], m["out"]) for m in BLOCK.finditer(DOC.read_text())]


def test_the_page_has_the_worked_examples():
    args = [a for a, _ in examples()]
    assert "build dgx-h100-superpod --sus 4" in args
    assert "list" in args


@pytest.mark.parametrize(("args", "expected"), examples())
def test_documented_output_is_the_real_output(args, expected):
    result = CliRunner().invoke(app, shlex.split(args), env={"COLUMNS": "100"})
    assert _lines(result.output) == _lines(expected)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip().splitlines()]


def test_every_arch_command_is_documented_with_help():
    text = DOC.read_text()
    for command in app.registered_commands:
        assert f"aitc arch {command.name}" in text
        assert command.callback.__doc__
