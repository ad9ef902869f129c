"""docs/twin.md: its Python examples run, and every `aitc sim` flag is documented."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from aitc.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "twin.md"


def test_python_examples_in_the_twin_guide_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})


def test_every_sim_flag_is_documented() -> None:
    help_text = CliRunner().invoke(app, ["sim", "--help"], env={"COLUMNS": "200"}).output
    flags = set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help"}
    assert flags, help_text
    text = DOC.read_text()
    assert sorted(f for f in flags if f not in text) == []
