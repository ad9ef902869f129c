"""Benchmark: how long `aitc` takes to answer a command that does little, whole process.

Each run is a fresh `aitc ...` process (the interpreter, the command's imports, typer's parsing,
the answer and the exit): `aitc --version`, `aitc queue --help`, `aitc submit --help`,
`aitc sim --help` and `aitc queue` against a port where no server listens (it fails at once,
after every import a real `aitc queue` makes). Printed per command: the best of ``--repeat``
wall seconds, and with ``--before SRC`` (an earlier checkout's src/, e.g. from
`git worktree add /tmp/before HEAD~5`) the same runs with that code, alternating, and the
ratio.

    .venv/bin/python bench/cli_start.py [--repeat 5] [--before SRC]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "aitc --version": ["--version"],
    "aitc queue --help": ["queue", "--help"],
    "aitc submit --help": ["submit", "--help"],
    "aitc sim --help": ["sim", "--help"],
    "aitc queue (no server)": ["queue", "--url", "http://127.0.0.1:9"],
}


def once(args: list[str], src: Path) -> float:
    """Wall seconds of one `aitc` process with the code under ``src``."""
    env = dict(os.environ, PYTHONPATH=str(src), COLUMNS="100")
    cmd = [sys.executable, "-c", "from aitc.cli.main import app; app()", *args]
    began = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True)  # (the last one exits 1: no server)
    return time.perf_counter() - began


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", type=Path, default=None, help="src/ of the code to compare with")
    args = ap.parse_args()
    print(f"{'command':<26} {'wall s':>7}", end="")
    print(f" {'before s':>8} {'now/before':>10}" if args.before else "")
    for label, argv in COMMANDS.items():
        now: list[float] = []
        old: list[float] = []
        for _ in range(args.repeat):
            now.append(once(argv, ROOT / "src"))
            if args.before is not None:
                old.append(once(argv, args.before))
        print(f"{label:<26} {min(now):>7.3f}", end="")
        print(f" {min(old):>8.3f} {min(now) / min(old):>10.2f}" if old else "")


if __name__ == "__main__":
    main()
