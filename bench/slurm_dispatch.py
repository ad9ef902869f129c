"""Dispatch rate and submit -> running latency through aitc's Slurm executor, beside plain sbatch.

Starts the one-host Slurm test cluster (4 nodes x 8 fake H100s; needs root, slurm-wlm and
munge), then submits the same jobs twice per round: through ``SlurmExecutor.start`` (what the
controller calls) and with plain ``sbatch`` (same nodes, GPUs and srun launch). Each job writes
the time its task began; latency is that time minus the moment its submission was issued, for
a burst of jobs and for single jobs sent one at a time to an idle cluster. Both sides submit as
the same member's Unix account (aitc through ``runuser -u``, as it runs every member's job; the
plain side with ``runuser -u`` too). The rounds alternate which side goes first. Prints the
figures and aitc's ratio to plain sbatch.

    .venv/bin/python bench/slurm_dispatch.py [--jobs 32] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aitc.control.executors.base import ExecJob
from aitc.control.executors.slurm import SlurmExecutor
from aitc.control.executors.slurm_cli.rig import SlurmRig, ensure_test_users
from aitc.domain.cluster import Cluster, Node
from aitc.domain.job import NodeAlloc, Placement
from aitc.domain.node import node_model

NODES = ("node01", "node02", "node03", "node04")
MEMBER = "aitc-t-alice"  # both sides submit as this member, as a lab member would


@dataclass(frozen=True)
class Figures:
    dispatch_per_s: float
    p50_ms: float
    p95_ms: float


def _cluster() -> Cluster:
    model = node_model("dgx-h100")
    return Cluster("bench", tuple(Node(n, model, i // 2, 0) for i, n in enumerate(NODES)))


def _stamp(out: Path, tag: str) -> str:
    return f"date +%s.%N > {out}/{tag}"


def _wait(out: Path, tags: list[str], timeout_s: float = 120.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = {t: out / t for t in tags}
        if all(f.exists() and f.stat().st_size for f in files.values()):
            return {t: float(f.read_text()) for t, f in files.items()}
        time.sleep(0.05)
    raise SystemExit(f"jobs did not all start within {timeout_s:.0f} s")


def _measure(submit: Callable[[int, str], None], jobs: int, out: Path, side: str) -> Figures:
    tags = [f"{side}-{i}" for i in range(jobs)]
    issued: dict[str, float] = {}
    began = time.time()
    for i, tag in enumerate(tags):
        issued[tag] = time.time()
        submit(i, tag)
    elapsed = time.time() - began
    started = _wait(out, tags)
    lat = sorted((started[t] - issued[t]) * 1000 for t in tags)
    return Figures(jobs / elapsed, statistics.median(lat), lat[int(0.95 * (len(lat) - 1))])


def _serial(submit: Callable[[int, str], None], jobs: int, out: Path, side: str) -> list[float]:
    """Submit -> running of jobs sent one at a time to an idle cluster (ms)."""
    lat = []
    for i in range(jobs):
        tag = f"{side}-{i}"
        issued = time.time()
        submit(i, tag)
        lat.append((_wait(out, [tag])[tag] - issued) * 1000)
    return lat


def _aitc(ex: SlurmExecutor, out: Path, base: int, user: str) -> Callable[[int, str], None]:
    def submit(i: int, tag: str) -> None:
        where = Placement((NodeAlloc(NODES[i % len(NODES)], (0,)),))
        cmd = ("bash", "-c", _stamp(out, tag))
        ex.start(ExecJob(base + i, 0, tag, cmd, where, unix_user=user))

    return submit


def _plain(rig: SlurmRig, out: Path, user: str) -> Callable[[int, str], None]:
    def submit(i: int, tag: str) -> None:
        wrap = f"srun --ntasks-per-node=1 bash -c '{_stamp(out, tag)}'"
        subprocess.run(
            [
                "runuser",
                "-u",
                user,
                "--",
                "sbatch",
                "--parsable",
                f"--nodelist={NODES[i % len(NODES)]}",
                "--nodes=1",
                "--gres=gpu:1",
                "--no-requeue",
                "-o",
                "/dev/null",
                "--wrap",
                wrap,
            ],
            env=rig.env,
            check=True,
            capture_output=True,
            timeout=30,
        )

    return submit


def _drain(rig: SlurmRig) -> None:
    """Wait until the previous batch has left the queue, so each side starts on an idle cluster."""
    for _ in range(600):
        q = subprocess.run(
            ["squeue", "-h", "-t", "pending,running,completing"],
            env=rig.env,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        if not q.strip():
            return
        time.sleep(0.1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=32, help="jobs per side per round (1 GPU each)")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="aitc-slurm-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the member submitting on both sides passes through
        rig = SlurmRig(_cluster(), root / "rig")
        rig.start()
        try:
            _run(rig, root, args.jobs, args.rounds)
        finally:
            rig.stop()


def _run(rig: SlurmRig, root: Path, jobs: int, rounds: int) -> None:
    out = root / "stamps"
    out.mkdir()
    out.chmod(0o777)  # the member's jobs stamp their start here
    user = ensure_test_users([MEMBER])[0].name
    ex = SlurmExecutor(root / "state", env=rig.env)
    results: dict[str, list[Figures]] = {"aitc": [], "sbatch": []}
    serial: dict[str, list[float]] = {"aitc": [], "sbatch": []}
    for r in range(rounds):
        sides = [
            ("aitc", _aitc(ex, out, 100_000 + 100 * r, user)),
            ("sbatch", _plain(rig, out, user)),
        ]
        for side, submit in sides if r % 2 == 0 else sides[::-1]:
            _drain(rig)
            serial[side] += _serial(submit, 4, out, f"one-{side}{r}")
    for r in range(rounds):
        sides = [("aitc", _aitc(ex, out, 1000 * (r + 1), user)), ("sbatch", _plain(rig, out, user))]
        for side, submit in sides if r % 2 == 0 else sides[::-1]:
            _drain(rig)
            results[side].append(_measure(submit, jobs, out, f"{side}{r}"))
    _print(results, serial, jobs, rounds)


def _print(
    results: dict[str, list[Figures]], serial: dict[str, list[float]], jobs: int, rounds: int
) -> None:
    def mean(side: str, attr: str) -> float:
        return statistics.fmean(getattr(f, attr) for f in results[side])

    print(
        f"Slurm test cluster (4 nodes x 8 GPUs, one host), {jobs} one-GPU jobs x {rounds} "
        "rounds per side"
    )
    print(f"{'':30}{'aitc SlurmExecutor':>18}{'plain sbatch':>15}{'aitc/sbatch':>13}")
    for label, attr in (
        ("dispatch rate (jobs/s)", "dispatch_per_s"),
        ("submit->running p50 (ms)", "p50_ms"),
        ("submit->running p95 (ms)", "p95_ms"),
    ):
        a, b = mean("aitc", attr), mean("sbatch", attr)
        print(f"{label:30}{a:>18.1f}{b:>15.1f}{a / b:>13.2f}")
    a, b = statistics.median(serial["aitc"]), statistics.median(serial["sbatch"])
    label = "one job, idle cluster p50 (ms)"
    print(f"{label:30}{a:>18.1f}{b:>15.1f}{a / b:>13.2f}")


if __name__ == "__main__":
    main()
