"""What the Slurm executor writes and submits for one attempt: the batch script, sbatch's
arguments, and the small files that survive a controller restart.

Each attempt has a directory ``<state_dir>/slurm/<name>/`` (``name`` is the Slurm job name,
``aitc-<job>-<attempt>``)::

    intent.json  written just before sbatch: only an attempt that has one can have been
                 submitted without a record, so only then ``start`` asks Slurm by job name
    batch.sh     the script sbatch runs on the first node: ``srun`` starts one task per node
    record.json  the Slurm job id and when it was submitted (written right after sbatch)
    exit.json    written by batch.sh when the command ends: status (exited/timeout), exit code
    cancel.json  written by ``cancel()`` before it calls scancel
    lost.json    written when aitc stopped the attempt because a node went down or drained

``exit.json`` is how an end is known when Slurm keeps no accounting: ``squeue`` forgets a job
``MinJobAge`` seconds after it ends. It works because the state directory is shared by the
controller and the nodes (one host in the test rig; a shared file system on a real cluster,
which should also run slurmdbd so that ``sacct`` has the final word).
"""

from __future__ import annotations

import json
import math
import os
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

from aitc.control.executors.base import ExecJob
from aitc.errors import SlurmError

SLURM_DIR = "slurm"
DONE_DIR = "slurm-done"
GRACE_S = 5


@dataclass(frozen=True, slots=True)
class Record:
    slurm_id: int
    submitted_at: float


@dataclass(frozen=True, slots=True)
class Ended:
    """An end recorded on disk: by batch.sh (exit.json) or by the executor (cancel/lost)."""

    status: str
    exit_code: int | None = None
    cause: str = ""
    nodes: tuple[str, ...] = ()  # for a lost attempt: the nodes that failed


class AttemptFiles:
    """The files of one attempt's directory, written atomically (temporary name, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, data: object) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.root / name)

    def read(self, name: str) -> dict[str, object] | None:
        try:
            data = json.loads((self.root / name).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def record(self) -> Record | None:
        data = self.read("record.json")
        return (
            None
            if data is None
            else Record(int(str(data["slurm_id"])), float(str(data["submitted_at"])))
        )

    def write_record(self, record: Record) -> None:
        self.write("record.json", asdict(record))

    def ended(self, name: str) -> Ended | None:
        data = self.read(name)
        if data is None:
            return None
        code = data.get("exit_code")
        nodes = data.get("nodes")
        return Ended(
            str(data.get("status")),
            code if isinstance(code, int) else None,
            str(data.get("cause") or ""),
            tuple(str(n) for n in nodes) if isinstance(nodes, list) else (),
        )


def gres_per_node(job: ExecJob) -> str | None:
    """``--gres`` for the placement: the same count on every node (Slurm's --gres is per node)."""
    allocs = job.placement.allocs
    migs = {a.mig.profile for a in allocs if a.mig is not None}
    if migs:
        return f"gpu:{migs.pop()}:1"
    counts = {len(a.gpus) for a in allocs}
    if len(counts) > 1:
        raise SlurmError(
            f"job {job.job_id}: placement {[(a.node, len(a.gpus)) for a in allocs]} asks for "
            "different GPU counts per node; sbatch's --gres is per node. Hint: place multi-node "
            "jobs on whole nodes or equal shares"
        )
    count = counts.pop() if counts else 0
    return f"gpu:{count}" if count else None


def sbatch_args(
    job: ExecJob, *, name: str, stdout: str, stderr: str, partition: str | None, comment: str = ""
) -> list[str]:
    """sbatch's arguments: exactly the engine's nodes, the GPUs per node, the time limit."""
    nodes = job.placement.nodes
    args = [
        "sbatch",
        "--parsable",
        f"--job-name={name}",
        f"--nodes={len(nodes)}",
        f"--nodelist={','.join(nodes)}",
        "--ntasks-per-node=1",
        "--no-requeue",
        f"--output={stdout}",
        f"--error={stderr}",
        "--export=ALL",
    ]
    gres = gres_per_node(job)
    if gres:
        args.append(f"--gres={gres}")
    if job.time_limit is not None:
        # Slurm counts whole minutes; batch.sh enforces the exact second, this is the backstop.
        args.append(f"--time={math.ceil((job.time_limit + GRACE_S) / 60) + 1}")
    if job.workdir:
        args.append(f"--chdir={job.workdir}")
    if partition:
        args.append(f"--partition={partition}")
    if comment:
        args.append(f"--comment={comment}")
    return args


def batch_script(job: ExecJob, *, name: str, files: AttemptFiles) -> str:
    """The script sbatch runs: one ``srun`` task per node, then the end written to exit.json."""
    srun = f"srun --ntasks-per-node=1 --kill-on-bad-exit=1 -- {shlex.join(job.command)}"
    timeout_check = []
    if job.time_limit is not None:
        limit = max(1, math.ceil(job.time_limit))
        srun = f"timeout -s TERM -k {GRACE_S} {limit} {srun}"
        timeout_check = [
            "if { [ $rc -eq 124 ] || [ $rc -eq 137 ]; } && "
            f"[ $(( $(date +%s) - started )) -ge {limit} ]; then",
            "  status=timeout",
            "fi",
        ]
    exit_json = shlex.quote(str(files.root / "exit.json"))
    record = 'printf \'{"status": "%s", "exit_code": %d}\\n\' "$status" "$rc"'
    return "\n".join(
        [
            "#!/bin/bash",
            f"# {name}: job {job.job_id} attempt {job.attempt}, from aitc's Slurm executor.",
            "# One task per node: each sees its own SLURMD_NODENAME and CUDA_VISIBLE_DEVICES.",
            "started=$(date +%s)",
            srun,
            "rc=$?",
            "status=exited",
            *timeout_check,
            f"{record} > {exit_json}.tmp && mv {exit_json}.tmp {exit_json}",
            "exit $rc",
            "",
        ]
    )
