"""`aitc lab check`: a valid lab prints its summary and exits 0; a broken one prints each error
on stderr, one line naming file, line and field, and exits 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from aitc.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "joint-lab.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(
    (ROOT / "tests" / "data" / "labs" / "broken.yaml").read_text(encoding="utf-8")
)


# What a terminal 100 columns wide shows (rich's tables); ``plain`` drops its colours.
TERMINAL = {"COLUMNS": "100", "TTY_COMPATIBLE": "1"}


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def aitc(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``aitc`` entry point in a child process."""
    code = "from aitc.cli.main import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def broken_copy(tmp_path: Path, case: dict[str, Any]) -> tuple[Path, str]:
    """The example lab with the case's edit, and the message prefix its error must have."""
    sources = {"lab": EXAMPLE, "roster": ROOT / "examples" / "members.csv"}
    targets = {"lab": tmp_path / "joint-lab.yaml", "roster": tmp_path / "members.csv"}
    texts = {k: p.read_text(encoding="utf-8") for k, p in sources.items()}
    texts[case["file"]] = texts[case["file"]].replace(case["old"], case["new"], 1)
    for key, text in texts.items():
        targets[key].write_text(text, encoding="utf-8")
    shown = targets.get(case["error"], tmp_path / case["error"])
    where = f"{shown}:"
    if case["anchor"] is not None:
        lines = texts["lab" if shown == targets["lab"] else "roster"].splitlines()
        after = case.get("after")
        start = next(i for i, s in enumerate(lines) if after in s) if after else 0
        where += (
            f"{next(i for i, s in enumerate(lines) if i >= start and case['anchor'] in s) + 1}:"
        )
    field = f" {case['field']}:" if case["field"] else ""
    return targets["lab"], f"{where}{field} {case['reason']}"


def test_check_of_the_example_lab_prints_its_summary_and_exits_0() -> None:
    result = aitc("lab", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "valid lab joint-ai-lab" in out
    assert "dgx-h100-superpod — 31 nodes, 248 GPUs (H100-80GB), 1 scalable unit(s)" in out
    assert "guaranteed quota: 216 of 248 GPUs" in out
    assert "Members: 1000 (4 admin, 10 instructor, 356 member, 446 learner, 184 partner)" in out
    for text in (
        "partner-healthcare",
        "ai-gradschool",
        "dli-llm-apps",
        "2g.20gb",
        "Policy: fairshare (half_life_s=604800, preempt_overhead_s=120)",
    ):
        assert text in out
    assert result.stderr == ""


def test_organisation_rows_show_kind_share_quota_projects_and_members() -> None:
    result = CliRunner().invoke(app, ["lab", "check", str(EXAMPLE)], env=TERMINAL)
    row = next(line for line in plain(result.stdout).splitlines() if "partner-energy" in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["partner-energy", "partner", "5", "16", "8", "2", "48"]


def test_piped_tables_print_every_cell_in_full_however_long(tmp_path: Path) -> None:
    long_id = "university-artificial-intelligence-institute-graduate-school"
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("ai-gradschool", long_id),
        encoding="utf-8",
    )
    (tmp_path / "members.csv").write_text(
        (ROOT / "examples" / "members.csv").read_text().replace("ai-gradschool", long_id)
    )
    result = aitc("lab", "check", str(lab))  # stdout is a pipe
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines.index("Organisations") + 1
    assert lines[header].split() == [
        "id",
        "kind",
        "share",
        "quota",
        "borrow",
        "projects",
        "members",
    ]
    row = next(line for line in lines if line.startswith(long_id))
    assert row.split() == [long_id, "education", "15", "24", "32", "2", "262"]
    assert len(row) > 80  # nothing cut to 80 columns
    course = next(line for line in lines if line.startswith("ml-systems"))
    assert course.split() == ["ml-systems", long_id, "pkowalski", "60", "3g.40gb"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_check_of_a_broken_lab_exits_2_with_a_line_for_each_error_on_stderr(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    lab, expected = broken_copy(tmp_path, case)
    result = CliRunner().invoke(app, ["lab", "check", str(lab)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"aitc: {expected}"), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == case.get("errors", 1)
    assert all(line.startswith(f"aitc: {tmp_path}/") for line in lines)


def test_the_real_command_exits_2_on_a_broken_lab(tmp_path: Path) -> None:
    lab, expected = broken_copy(tmp_path, next(c for c in CASES if c["id"] == "negative-share"))
    result = aitc("lab", "check", str(lab))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"aitc: {expected}\n"


def test_check_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["lab", "check", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert result.stderr == f"aitc: {tmp_path / 'none.yaml'}: file not found\n"


def test_lab_check_has_help() -> None:
    result = CliRunner().invoke(app, ["lab", "check", "--help"])
    assert result.exit_code == 0
    assert "Validate a lab.yaml" in result.stdout


def test_summary_in_the_docs_is_what_check_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    doc = (ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    shown = doc.split("$ aitc lab check examples/joint-lab.yaml\n")[1].split("```")[0]
    result = CliRunner().invoke(
        app, ["lab", "check", "examples/joint-lab.yaml"], env=TERMINAL, catch_exceptions=False
    )
    printed = [line.rstrip() for line in plain(result.stdout).splitlines()]
    # Which members' Unix accounts resolve depends on the machine: compare the lab's summary,
    # and only the shape of the accounts report.
    cut = next(i for i, line in enumerate(printed) if line.startswith("Unix accounts:"))
    doc = shown.splitlines()
    doc_cut = next(i for i, line in enumerate(doc) if line.startswith("Unix accounts:"))
    assert printed[:cut] == doc[:doc_cut]
    assert printed[cut].endswith("of 1000 members resolve here")
