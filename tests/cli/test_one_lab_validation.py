"""One validation of lab.yaml: `aitc lab check`, `aitc serve --lab`, `aitc sim --lab` and
`aitc lab apply` refuse the same files with the same lines, every error of each file named."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitc.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "joint-lab.yaml"
ROSTER = ROOT / "examples" / "members.csv"

Edit = tuple[str, str]
# Bad labs, each a few edits of the example lab (and its roster): name -> (lab edits, roster
# edits). Each kind of error once (tests/arch has the rest, through load_lab): the engine's
# parameters, a driver's, a key, a check across keys, a roster row, several at once.
BAD: dict[str, tuple[list[Edit], list[Edit]]] = {
    "policy-parameter-in-days": ([("    half_life_s: 604800\n", "    half_life: 7d\n")], []),
    "driver-parameter-out-of-range": (
        [("    preempt_overhead_s: 120\n", "    preempt_overhead_s: 120\n    tick_s: 0\n")],
        [],
    ),
    "misspelt-key": ([("    borrow_limit: 64\n", "    borow_limit: 64\n")], []),
    "quota-over-the-cluster": ([("    quota: 96\n", "    quota: 140\n")], []),
    "bad-roster-row": ([], [("kvaldez,Kim Valdez,kvaldez@", "kvaldez,Kim Valdez,kvaldez.")]),
    "several-errors": (
        [
            ("    half_life_s: 604800\n", "    half_life: 7d\n"),
            ("    share: 15\n", "    share: -1\n"),
            ("org: ai-gradschool,", "org: gradschool,"),
        ],
        [("tokoye,Tunde Okoye,tokoye@ai.example.edu,ai-institute,", "tokoye,T,t@x.org,ai-inst,")],
    ),
}


def write_lab(folder: Path, lab: list[Edit], roster: list[Edit]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for source, edits, name in ((EXAMPLE, lab, "lab.yaml"), (ROSTER, roster, "members.csv")):
        text = source.read_text(encoding="utf-8")
        for old, new in edits:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "lab.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check(lab: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["lab", "check", str(lab)])
    return result.exit_code, result.stderr


def serve(lab: Path, state: Path) -> tuple[int, str]:
    """The real server, as an operator starts it (a valid lab would keep it running: the
    timeout makes that a failure rather than a hang)."""
    command = "from aitc.cli.main import app; app()"
    args = ["serve", "--lab", str(lab), "--state-dir", str(state), "--virtual-gpus", "8"]
    done = subprocess.run(
        [sys.executable, "-c", command, *args, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    return done.returncode, done.stderr


def sim(lab: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["sim", "--lab", str(lab), "--days", "0.01", "--out", str(out)]
    )
    return result.exit_code, result.stderr


def apply(lab: Path, state: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["lab", "apply", str(lab), "--state-dir", str(state)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize("name", sorted(BAD))
def test_check_serve_sim_and_apply_refuse_a_bad_lab_with_the_same_lines(
    tmp_path: Path, name: str
) -> None:
    lab = write_lab(tmp_path / "lab", *BAD[name])
    code, lines = check(lab)
    assert code == 2
    assert lines and all(line.startswith(f"aitc: {lab.parent}/") for line in lines.splitlines())
    assert serve(lab, tmp_path / "serve") == (2, lines)
    assert sim(lab, tmp_path / "sim") == (2, lines)
    assert not (tmp_path / "sim").exists()  # refused before any run
    assert apply(lab, tmp_path / "apply") == (2, lines)
    assert not (tmp_path / "apply").exists()  # nothing written to a store


def test_the_several_errors_lab_names_each_of_them(tmp_path: Path) -> None:
    lab = write_lab(tmp_path, *BAD["several-errors"])
    _, lines = check(lab)
    fields = [line.split(": ")[2] for line in lines.splitlines()]
    assert fields == [
        "policy.params.half_life",
        "organisations[1].share",
        "courses[4].org",
        "organisation",  # the roster's row 3
    ]


def test_the_documented_several_errors_example_is_what_check_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    block = doc.split("**One validation.**")[1].split("```text\n")[1].split("```")[0]
    command, *shown = block.splitlines()
    assert command == "$ aitc lab check examples/joint-lab.yaml"
    write_lab(
        tmp_path / "examples",
        [
            ("    half_life_s: 604800\n", "    half_life: 7d\n"),
            ("    borrow_limit: 64\n", "    borow_limit: 64\n"),
        ],
        [("tokoye@ai.example.edu,ai-institute,", "tokoye@ai.example.edu,ai-institut,")],
    )
    (tmp_path / "examples" / "lab.yaml").rename(tmp_path / "examples" / "joint-lab.yaml")
    monkeypatch.chdir(tmp_path)
    assert check(Path("examples/joint-lab.yaml")) == (2, "\n".join(shown) + "\n")
