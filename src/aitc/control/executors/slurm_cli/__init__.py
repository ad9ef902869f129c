"""The Slurm command line behind one adapter, versioned by Slurm release.

Every Slurm command aitc runs goes through ``SlurmCli``: each call has a timeout, and a failure
becomes a ``SlurmError`` naming the command, its stderr and a hint. The JSON that ``sinfo``,
``squeue`` and ``sacct`` print changes with every Slurm release, so parsing lives in one module
per release (``v2205`` for 22.05, OpenAPI v0.0.38), chosen by ``sinfo --version``; all of them
return the release-neutral records below.

The environment of every command is aitc's own and minimal: ``SLURM_CONF`` (and whatever else
the operator configured), a standard ``PATH`` and the C locale. Never a job's environment, never
the server's: a member's ``PATH`` must not choose which ``sbatch`` the controller runs. Commands
are run by absolute path; ``sbatch`` for a member runs as that member (``runuser -u USER --``).
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType

from aitc.control.gpuusage.tres import TresUsage
from aitc.errors import SlurmError

ADAPTERS: Mapping[tuple[int, int], str] = {(22, 5): "v2205"}
SBIN = "/usr/sbin:/sbin"
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class SlurmNode:
    """One node as ``sinfo`` reports it. ``gpus_used`` counts every job's GPUs, aitc's or not."""

    name: str
    state: str  # lower-case base state: idle, allocated, mixed, down, ...
    flags: tuple[str, ...]
    reason: str
    cpus: int
    memory_mb: int
    gpu_type: str
    gpus: int
    gpus_used: int


@dataclass(frozen=True, slots=True)
class SlurmJob:
    """One job as ``squeue`` (or ``sacct``) reports it.

    ``gpus`` maps each node to the GPU indices Slurm chose there (empty until it runs).
    ``exit_code`` is the job's return code and ``signal`` the signal that ended it, if any.
    """

    job_id: int
    name: str
    state: str  # upper-case: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL...
    reason: str
    nodes: tuple[str, ...] = ()
    gpus: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    exit_code: int | None = None
    signal: int | None = None
    submit_time: int = 0
    start_time: int = 0
    required: tuple[str, ...] = ()  # --nodelist, known before the job runs
    comment: str = ""  # sbatch --comment: aitc marks its jobs with its instance there


ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "RESIZING",
        "STAGE_OUT",
        "SIGNALING",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESV_DEL_HOLD",
    }
)


class SlurmCli:
    """Runs Slurm commands against one cluster.

    ``env`` is the operator's configuration (``SLURM_CONF``, a ``PATH`` where Slurm's commands
    live if not a standard one); nothing else reaches the commands.
    """

    def __init__(self, env: Mapping[str, str] | None = None, *, timeout_s: float = 15.0) -> None:
        base = {"PATH": STANDARD_PATH, "LC_ALL": "C"}
        base.update(env or {})
        base["PATH"] = f"{base['PATH']}:{SBIN}"
        self.env: dict[str, str] = base
        self.timeout_s = timeout_s
        self._adapter: ModuleType | None = None

    def which(self, program: str) -> str:
        """The absolute path of ``program`` on aitc's own ``PATH`` (``SlurmError`` if none)."""
        if os.path.isabs(program):
            return program
        found = shutil.which(program, path=self.env["PATH"])
        if found is None:
            raise SlurmError(_message([program], f"{program} not found", _MISSING))
        return found

    def run(
        self,
        args: Sequence[str],
        *,
        user: str | None = None,
        stdin: str | None = None,
        hint: str = "",
    ) -> str:
        """Run ``args`` (as ``user`` when given: ``runuser -u user --``, which needs root);
        its stdout, or ``SlurmError`` with the command, stderr and a hint."""
        argv = [self.which(args[0]), *args[1:]]
        if user is not None:
            argv = [self.which("runuser"), "-u", user, "--", *argv]
        try:
            done = subprocess.run(
                argv,
                env=dict(self.env),
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                cwd="/" if user is not None else None,
            )
        except FileNotFoundError:
            raise SlurmError(_message(args, f"{args[0]} not found", _MISSING)) from None
        except subprocess.TimeoutExpired:
            raise SlurmError(
                _message(args, f"no answer within {self.timeout_s:.0f} s", hint or UNREACHABLE_HINT)
            ) from None
        if done.returncode != 0:
            raise SlurmError(
                _message(
                    args,
                    done.stderr.strip() or f"exit {done.returncode}",
                    hint or _hint(done.stderr),
                )
            )
        return done.stdout

    @property
    def adapter(self) -> ModuleType:
        """The JSON parser for this cluster's Slurm release (``SlurmError`` if unsupported)."""
        if self._adapter is None:
            self._adapter = adapter_for(self.version())
        return self._adapter

    def version(self) -> tuple[int, int, int]:
        out = self.run(["sinfo", "--version"])
        m = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
        if m is None:
            raise SlurmError(f"cannot read a Slurm version from `sinfo --version`: {out!r}")
        return int(m.group(1)), int(m.group(2)), int(m.group(3))

    def nodes(self) -> list[SlurmNode]:
        return list(self.adapter.parse_nodes(self.run(["sinfo", "--json"])))

    def jobs(self) -> list[SlurmJob]:
        """Every job the controller still knows (running, pending, or ended < MinJobAge ago)."""
        return list(self.adapter.parse_jobs(self.run(["squeue", "--json"])))

    def topology(self) -> dict[str, tuple[int, int]]:
        """Each node's (leaf, scalable unit) from Slurm's topology plugin (empty if it has none)."""
        return dict(self.adapter.parse_topology(self.run(["scontrol", "show", "topology"])))

    def accounted_job(self, job_id: int) -> SlurmJob | None:
        """The job from accounting (``sacct``), for clusters that run slurmdbd."""
        jobs = self.adapter.parse_sacct(self.run(["sacct", "--json", "-j", str(job_id)]))
        return jobs[0] if jobs else None

    def accounted_usage(self, job_ids: Sequence[int]) -> list[TresUsage]:
        """The jobs' TRES usage per step from accounting (``sacct``, one call for all)."""
        if not job_ids:
            return []
        ids = ",".join(str(i) for i in job_ids)
        return list(self.adapter.parse_sacct_usage(self.run(["sacct", "--json", "-j", ids])))


def adapter_for(version: tuple[int, int, int]) -> ModuleType:
    """The adapter module for a Slurm release."""
    name = ADAPTERS.get(version[:2])
    if name is None:
        known = ", ".join(f"{a}.{b:02d}" for a, b in ADAPTERS)
        raise SlurmError(
            f"Slurm {'.'.join(map(str, version))} has no aitc adapter (supported: {known}); "
            "its JSON layout differs: add a module to aitc/control/executors/slurm_cli/"
        )
    return importlib.import_module(f"{__name__}.{name}")


_MISSING = "install Slurm's client commands (Debian: apt-get install slurm-wlm slurm-client)"
UNREACHABLE_HINT = (
    "is slurmctld running and reachable? try `scontrol ping` with the same SLURM_CONF"
)


def _hint(stderr: str) -> str:
    low = stderr.lower()
    if "invalid node name" in low:
        return (
            "a node in --nodelist is not in slurm.conf: regenerate the configuration with "
            "`aitc arch slurm-config` from the same cluster file"
        )
    if "unable to contact slurm controller" in low or "connection refused" in low:
        return UNREACHABLE_HINT
    if "configuration" in low or "slurm_conf" in low:
        return "set SLURM_CONF to the cluster's slurm.conf"
    return "see the Slurm logs (SlurmctldLogFile in slurm.conf)"


def _message(args: Sequence[str], what: str, hint: str) -> str:
    cmd = " ".join(args)
    return f"`{cmd[:300]}` failed: {what}. Hint: {hint}"
