"""README.md: the quick start names real scripts, CI runs its test command, examples are real.

The README's design and lab examples are run here and must print what the README shows
(trimmed blocks mark the cut with a line of ``…``). The twin and operate examples take longer
or need a server; tests/cli/test_sim_cli.py and tests/control/ run those paths.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitc.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CHEAP = ("aitc arch list", "aitc arch build", "aitc lab check")


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_the_quick_start_is_the_two_commands() -> None:
    block = re.search(r"```bash\n(.*?)```", section("Quick start"), flags=re.S)
    assert block
    commands = [line.split("#")[0].strip() for line in block[1].splitlines()]
    assert commands == ["./scripts/up", "./scripts/test"]


@pytest.mark.parametrize("script", ["scripts/up", "scripts/test", "scripts/check"])
def test_the_scripts_the_readme_names_exist_and_are_executable(script: str) -> None:
    assert f"{script}" in README.read_text()
    path = ROOT / script
    assert path.is_file() and os.access(path, os.X_OK), f"{script} is missing or not executable"


def test_ci_runs_the_readme_test_command() -> None:
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    code = [line for line in ci.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert any(re.search(r"(^|\s)(exec\s+)?\./scripts/test(\s|$)", line) for line in code)


def examples() -> list[tuple[str, str]]:
    """(command, documented output) of every README console example that runs in a second."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(), flags=re.S):
        for m in re.finditer(r"^\$ (aitc [^\n]*)\n(.*?)(?=^\$ |\Z)", block, flags=re.S | re.M):
            if m[1].startswith(CHEAP):
                found.append((m[1], m[2]))
    return found


def test_the_readme_has_the_design_and_lab_examples() -> None:
    commands = [command for command, _ in examples()]
    assert "aitc arch list" in commands
    assert "aitc lab check examples/joint-lab.yaml" in commands
    assert any(c.startswith("aitc arch build dgx-h100-superpod --sus 4") for c in commands)


@pytest.mark.parametrize(("command", "expected"), examples())
def test_readme_output_is_the_real_output(
    command: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)  # `--out cluster.yaml` writes here, not into the checkout
    # a terminal 100 columns wide, as the README shows it (piped, tables are plain columns)
    env = {"COLUMNS": "100", "TTY_COMPATIBLE": "1"}
    result = CliRunner().invoke(app, shlex.split(command)[1:], env=env)
    assert result.exit_code == 0, result.output
    shown_text = re.sub(r"\x1b\[[0-9;]*m", "", result.output)  # colours off
    real = [line.rstrip() for line in shown_text.splitlines()]
    shown = [line.rstrip() for line in expected.rstrip().splitlines() if line.strip() != "…"]
    assert in_order(shown, real), f"{command}: the README shows lines it does not print"


def in_order(shown: list[str], real: list[str]) -> bool:
    """Whether every shown line is a real line, in the same order (trims may drop lines)."""
    lines = iter(real)
    return all(any(line == candidate for candidate in lines) for line in shown)


def table_rows(text: str) -> dict[str, list[str]]:
    """Rows of the `aitc sim` comparison table: policy -> its figures up to `vs first`, from
    the terminal's table (the README) or the plain columns it prints when piped.

    Wall time and events/s (the last two columns) change from run to run and are left out.
    """
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]] if "│" in line else line.split()
        if len(cells) == 12 and cells[0] in {"fifo", "backfill", "tiresias"}:
            rows[cells[0]] = cells[:10]
    return rows


@pytest.mark.slow  # about 12 s of two cores: three policies on 20,000 jobs
def test_the_readme_twin_example_prints_the_readme_figures(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = next(
        c
        for b in re.findall(r"```console\n(.*?)```", README.read_text(), flags=re.S)
        for c in re.findall(r"^\$ (aitc sim [^\n]*)", b, flags=re.M)
    )
    args = shlex.split(command)[1:]
    args[args.index("--out") + 1] = str(tmp_path / "run")
    env = {**os.environ, "COLUMNS": "128"}
    real = subprocess.run(
        [str(Path(sys.executable).with_name("aitc")), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shown = table_rows(README.read_text())
    assert set(shown) == {"fifo", "backfill", "tiresias"}
    assert table_rows(real) == shown
