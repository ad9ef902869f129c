"""`aitc sim --trace philly` loads only what a run needs: no pandas, no HTTP client, and, with
a core to spare, no matplotlib in its own process (a painter process draws the plots)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RUN = """
import json, sys
from aitc.cli.main import app
try:
    app(sys.argv[2:], standalone_mode=False)
finally:
    heavy = ("pandas", "httpx", "matplotlib", "fastapi", "sqlalchemy")
    with open(sys.argv[1], "w") as f:
        json.dump(sorted(m for m in heavy if m in sys.modules), f)
"""


def test_a_philly_run_imports_no_pandas_nor_server_modules(tmp_path: Path) -> None:
    loaded = tmp_path / "modules.json"
    args = ["sim", "--trace", "philly", "--ra", "dgx-h100-superpod", "--nodes", "8"]
    args += ["--limit", "300", "--out", str(tmp_path / "run")]
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(loaded), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    heavy = json.loads(loaded.read_text())
    assert heavy == ([] if (os.cpu_count() or 1) > 1 else ["matplotlib"])
    names = sorted(p.name for p in (tmp_path / "run" / "fifo").iterdir())
    assert names == ["jct_cdf.png", "jobs.parquet", "shares.png", "summary.json", "timeline.png"]


def test_a_lab_run_imports_no_pandas(tmp_path: Path) -> None:
    loaded = tmp_path / "modules.json"
    lab = Path(__file__).resolve().parents[2] / "examples" / "joint-lab.yaml"
    args = ["sim", "--lab", str(lab), "--format", "lab", "--days", "0.2", "--policy", "fifo"]
    args += ["--out", str(tmp_path / "run")]
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(loaded), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "pandas" not in json.loads(loaded.read_text())
