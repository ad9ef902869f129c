"""`aitc sim` on an Alibaba-style pod list and a node-list CSV: the heterogeneous cluster, the
mapping summary, --max-rejected, --where, and a header-only trace; the docs' command as printed."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitc.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "alibaba"
DOC = ROOT / "docs" / "twin.md"
POD_MAP = (
    "submit=creation_time,start=scheduled_time,end=deletion_time,gpus=num_gpu,"
    "gpu_milli=gpu_milli,gpu_model=gpu_spec,cpu_milli=cpu_milli,memory=memory_mib:mib,tenant=qos"
)


def sim(out: Path, *flags: str, trace: Path = DATA / "pods.csv") -> tuple[int, str]:
    args = ["sim", "--cluster", str(DATA / "nodes.csv"), "--trace", str(trace)]
    args += ["--map", POD_MAP, "--out", str(out), *flags]
    done = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    return done.exit_code, done.stderr


def documented() -> tuple[list[str], dict[str, object]]:
    """The heterogeneous example of docs/twin.md: its command and its mapping section."""
    text = DOC.read_text()
    start = text.index("### Heterogeneous traces")
    # the command: its first line and the lines a backslash continues (its output follows)
    command = re.search(r"```console\n\$ (aitc sim (?:.*\\\n)*.*)\n", text[start:])
    mapping = re.search(r"```json\n\"mapping\": (\{.*?\n\})\n```", text[start:], flags=re.S)
    assert command and mapping
    return shlex.split(command[1].replace("\\\n", " ")), json.loads(mapping[1])


def test_the_documented_command_runs_on_the_node_list_and_prints_the_documented_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args, mapping = documented()
    args = [a.replace("tests/data/alibaba", str(DATA)) for a in args[1:]]
    done = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "runs/alibaba/fifo/summary.json").read_text())
    assert summary["mapping"] == mapping
    assert summary["cluster"] == {"name": "nodes", "nodes": 8, "gpus": 33}
    assert (summary["jobs_total"], summary["skipped_rows"], summary["rejected_jobs"]) == (29, 1, 3)


def test_more_rejections_than_max_rejected_exit_1_naming_the_counts_by_reason(
    tmp_path: Path,
) -> None:
    code, err = sim(tmp_path, "--where", "pod_phase=Succeeded,Failed")
    assert code == 1
    [line] = [line for line in err.splitlines() if line.startswith("aitc:")]  # past the bars
    assert line.startswith("aitc: sim: 3 of 29 jobs rejected under fifo (1 no_such_gpu_model, ")
    assert "more than --max-rejected 0" in line
    assert (tmp_path / "fifo" / "summary.json").is_file()  # the results are written all the same


def test_without_where_the_pods_that_never_ended_are_an_error_naming_the_row(
    tmp_path: Path,
) -> None:
    code, err = sim(tmp_path, "--max-rejected", "9")
    assert code == 1
    assert "pods.csv: row 28: column 'deletion_time': cannot read" in err


def test_a_header_only_trace_exits_1_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text((DATA / "pods.csv").read_text().splitlines()[0] + "\n")
    code, err = sim(tmp_path / "out", trace=empty)
    assert code == 1
    assert "empty.csv: no jobs: the file has a header but no rows" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--where", "pod_phase"), "is not COLUMN=VALUE"),
        (("--max-rejected", "-1"), "must not be negative"),
    ],
)
def test_bad_where_and_max_rejected_exit_2(
    tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    code, err = sim(tmp_path, *flags)
    assert code == 2
    assert message in " ".join(err.split())
