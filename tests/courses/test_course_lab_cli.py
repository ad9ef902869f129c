"""The lab flags of `aitc serve` and `aitc course create` refuse bad input before anything
starts, naming the flag (exit 2)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aitc.cli.main import app


def test_serve_refuses_a_port_range_that_is_not_one(tmp_path: Path) -> None:
    for bad in ("30000-20000", "20000", "a-b", "0-10"):
        result = CliRunner().invoke(
            app, ["serve", "--state-dir", str(tmp_path / "s"), "--lab-ports", bad]
        )
        assert result.exit_code == 2, result.output
        assert f"aitc: --lab-ports: '{bad}' is not a port range FIRST-LAST" in result.stderr
    assert not (tmp_path / "s").exists()  # nothing was started


def test_course_create_splits_commands_as_a_shell_would_or_says_why_not() -> None:
    from aitc.cli.course import _argv

    assert _argv("--assessment-command", "sh -c 'test -s answer.txt'") == [
        "sh", "-c", "test -s answer.txt",
    ]  # fmt: skip
    result = CliRunner().invoke(
        app,
        ["course", "create", "c", "--title", "T", "--org", "o",
         "--assessment-command", "sh -c 'unclosed"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "aitc: --assessment-command: cannot split" in result.stderr
