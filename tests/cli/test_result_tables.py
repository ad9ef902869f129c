"""Result tables piped or redirected: plain columns with every cell in full, nothing cut to 80
columns, and no progress bar mixed into them (`aitc sim`'s bars go to stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = (
    "policy done rejected avg JCT h p99 JCT h avg wait h util % Jain preempt vs first wall s "
    "events/s"
)


def test_the_sim_comparison_piped_is_plain_columns_with_every_figure_whole(
    tmp_path: Path,
) -> None:
    args = ["sim", "--ra", "dgx-h100-superpod", "--nodes", "8", "--trace", "philly"]
    args += ["--limit", "300", "--policy", "fifo,backfill", "--out", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # a pipe: no width given
    done = subprocess.run(
        [str(Path(sys.executable).parent / "aitc"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "aitc sim: policies compared"
    assert " ".join(lines[1].split()) == COLUMNS
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert set(rows) == {"fifo", "backfill"}
    assert all(len(cells) == 12 for cells in rows.values())
    assert rows["fifo"][1:3] == ["300", "0"]  # done, rejected: whole numbers, not "3…"
    assert rows["fifo"][9] == "1.00x"
    assert all(float(cell) >= 0 for cell in rows["backfill"][3:9])  # every figure whole
    assert max(len(line) for line in lines) > 80  # wider than 80 columns, not cut to them
    assert lines[4] == f"results in {tmp_path}"
    assert "━" not in done.stdout and "━" in done.stderr  # the bars are on stderr
