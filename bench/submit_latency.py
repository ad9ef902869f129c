"""Submit -> process running, on an idle cluster, through ``aitc serve`` with the local executor.

Starts a real server (8 virtual GPUs, SQLite in a temporary directory unless ``--db`` names
another database), then submits jobs one at a time; each job writes the time it started
(``date +%s.%N``) into a file. Latency = that time - the time just before the HTTP request.
Prints median and p99 over ``--jobs`` jobs, the target (200 ms median), and as a baseline the
latency of spawning the same command directly with ``subprocess.Popen`` in the same run.

Run: .venv/bin/python bench/submit_latency.py [--jobs 50] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TARGET_S = 0.200
LAB = Path(__file__).resolve().parents[1] / "examples" / "joint-lab.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(state: Path, port: int, db: str | None) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        "-c",
        "from aitc.cli.main import app; app()",
        "serve",
        "--lab",
        str(LAB),
        "--virtual-gpus",
        "8",
        "--state-dir",
        str(state),
        "--port",
        str(port),
    ]
    cmd += ["--db", db] if db else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("AITC_")}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("admin token (shown once"):
            return proc, line.rsplit(" ", 1)[1].strip()
    raise SystemExit("aitc serve did not start")


def stamp_command(path: Path) -> list[str]:
    return ["sh", "-c", f"date +%s.%N > {path}.tmp && mv {path}.tmp {path}"]


def wait_for_stamp(path: Path, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return float(path.read_text())
        time.sleep(0.001)
    raise SystemExit(f"no start stamp in {timeout} s: {path}")


def through_aitc(client: httpx.Client, out: Path, jobs: int) -> list[float]:
    latencies = []
    for i in range(jobs + 3):  # the first three warm up the server
        stamp = out / f"aitc-{i}"
        body = {"command": stamp_command(stamp), "gpus": 1, "project": "vision"}
        t0 = time.time()
        r = client.post("/jobs", json=body)
        r.raise_for_status()
        started = wait_for_stamp(stamp)
        job_id = r.json()["id"]
        while client.get(f"/jobs/{job_id}").json()["state"] != "completed":
            time.sleep(0.005)  # idle cluster: the next job starts after this one ended
        if i >= 3:
            latencies.append(started - t0)
    return latencies


def direct_spawn(out: Path, jobs: int) -> list[float]:
    latencies = []
    for i in range(jobs):
        stamp = out / f"direct-{i}"
        t0 = time.time()
        subprocess.Popen(stamp_command(stamp), start_new_session=True).wait()
        latencies.append(wait_for_stamp(stamp) - t0)
    return latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aitc-bench-") as tmp:
        root = Path(tmp)
        port = free_port()
        proc, token = start_server(root / "var", port, args.db)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}/api/v1", headers=headers, timeout=30
            ) as client:
                aitc = through_aitc(client, root, args.jobs)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        direct = direct_spawn(root, args.jobs)
    med, base = statistics.median(aitc), statistics.median(direct)
    print(
        f"submit -> process running, {args.jobs} jobs, idle cluster, "
        f"{'SQLite' if not args.db else args.db.split(':', 1)[0]}:"
    )
    print(f"  aitc:          median {med * 1000:7.1f} ms   p99 {p99(aitc) * 1000:7.1f} ms")
    print(f"  direct spawn:  median {base * 1000:7.1f} ms   p99 {p99(direct) * 1000:7.1f} ms")
    print(
        f"  ratio to direct spawn: {med / base:.1f}x; target median <= {TARGET_S * 1000:.0f} ms:"
        f" {'met' if med <= TARGET_S else 'NOT met'} ({med / TARGET_S:.2f} of target)"
    )


if __name__ == "__main__":
    main()
