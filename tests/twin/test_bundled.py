"""The Philly trace ships inside the package: `--trace philly` works from any directory."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.twin.bundled import bundled_trace


def test_the_philly_trace_is_in_the_package_with_its_source_note() -> None:
    found = bundled_trace("philly")
    assert found is not None
    path, fmt = found
    assert fmt == "philly"
    with gzip.open(path, "rt") as f:
        assert f.readline().strip().split(",")[:3] == ["timestamp", "duration", "num_gpus"]
        assert sum(1 for line in f if line.strip()) == 82_247
    note = (path.parent / "README.md").read_text()
    assert "Apache License 2.0" in note and "Jeon et al." in note


def test_an_unknown_name_is_not_a_bundled_trace() -> None:
    assert bundled_trace("alibaba-2099") is None


def test_sim_reads_the_bundled_trace_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing called "philly" here, and no ../shared
    args = ["sim", "--ra", "dgx-h100-superpod", "--nodes", "8", "--trace", "philly"]
    result = CliRunner().invoke(app, [*args, "--limit", "300", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "fifo" / "summary.json").is_file()
