"""The executor seam: how the controller runs, watches and stops jobs.

One protocol, several implementations found by name through ``aitc.control.executors.registry``:
``local`` (real processes on this host), ``slurm`` (sbatch on exactly the chosen nodes) and
``fake`` (in memory, for controller tests). The engine decides; an executor only carries out.

Rules every executor keeps:
- ``start`` is idempotent per ``(job_id, attempt)``: starting the same attempt twice never runs
  two processes; the second call returns the first handle.
- ``poll`` reports every attempt the executor knows that is running, or that ended since the
  last poll (with exit code and cause). Calling ``poll`` again acknowledges the previous answer:
  the controller polls again only after it has recorded what the last poll said, so an executor
  may forget an ended attempt once it has been reported and polled past. After a restart of the
  controller, ``poll`` finds attempts that were started before (from the local state directory,
  or from Slurm by job name) so the controller can adopt them.
- ``inventory`` reports the nodes and GPUs this executor can run on, their state, and GPUs that
  something outside aitc occupies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from aitc.domain.job import Placement


class NodeState(StrEnum):
    UP = "up"
    DOWN = "down"
    DRAIN = "drain"


@dataclass(frozen=True, slots=True)
class GpuInfo:
    index: int
    uuid: str
    model: str
    memory_mb: int = 0
    mig_uuids: Mapping[str, str] = field(default_factory=dict)  # "gpu:profile:start" -> MIG UUID
    minor: int | None = None  # N of /dev/nvidiaN (NVML); None: the same as index


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node as the executor sees it now."""

    name: str
    gpus: tuple[GpuInfo, ...]
    state: NodeState = NodeState.UP
    cpus: int = 0
    memory_mb: int = 0
    foreign_gpus: int = 0  # GPUs held by work aitc did not start (e.g. a plain sbatch)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ExecJob:
    """What the executor needs to run one attempt of a job."""

    job_id: int
    attempt: int
    name: str
    command: Sequence[str]
    placement: Placement
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str | None = None
    time_limit: float | None = None  # seconds
    stdout_path: str = ""
    stderr_path: str = ""
    # Whether stdout_path / stderr_path are files the member chose (``--output``/``--error``):
    # opened as the member, never by the server's user; and how (``open_mode``: "truncate" or
    # "append"). The others are the server's log files.
    own_stdout: bool = False
    own_stderr: bool = False
    open_mode: str = "truncate"
    # The Unix account the attempt runs as (the member's ``unix_user``); None: the server's own
    # user, which only tests and single-user servers use.
    unix_user: str | None = None
    # An interactive job (``aitc run``): "pty" or "pipes" to relay to its client; None: batch.
    terminal: str | None = None
    # A signal before the time limit (``aitc.domain.timesignal``, canonical text); None: none.
    signal: str | None = None


class ExecStatus(StrEnum):
    RUNNING = "running"
    EXITED = "exited"  # ended by itself; see exit_code
    TIMEOUT = "timeout"  # killed at its time limit
    CANCELLED = "cancelled"  # killed because cancel() was called
    LOST = "lost"  # vanished (node down, process gone without an exit record)


@dataclass(frozen=True, slots=True)
class ExecReport:
    """What ``poll`` says about one attempt."""

    job_id: int
    attempt: int
    handle: str
    status: ExecStatus
    exit_code: int | None = None
    cause: str = ""
    nodes: tuple[str, ...] = ()


@runtime_checkable
class Executor(Protocol):
    name: str

    def inventory(self) -> Sequence[NodeInfo]:
        """The nodes and GPUs this executor can use, with their current state."""
        ...

    def start(self, job: ExecJob) -> str:
        """Start one attempt; return its handle (pid, Slurm job id). Idempotent per attempt."""
        ...

    def poll(self) -> Sequence[ExecReport]:
        """Every known attempt that runs, or that ended since the last poll."""
        ...

    def cancel(self, job_id: int, attempt: int) -> None:
        """Stop an attempt: SIGTERM, a grace period, then SIGKILL (or scancel)."""
        ...

    def signal(self, job_id: int, attempt: int, signal_words: str) -> bool:
        """Send a signal (``[B:]SIG``, ``aitc.domain.timesignal.signal_now``) to a running
        attempt now, as ``scancel --signal``; False if the attempt is not running."""
        ...

    def set_time_limit(self, job_id: int, attempt: int, seconds: float) -> bool:
        """Change a running attempt's time limit to ``seconds`` from its start, as ``scontrol
        update TimeLimit=``: a limit already passed ends it at once as a timeout (SIGTERM, a
        grace period, SIGKILL), and its ``--signal`` warning moves with it; False if the
        attempt is not running."""
        ...

    def close(self) -> None:
        """Release resources held by the executor object (not the jobs: they keep running)."""
        ...


@runtime_checkable
class KnowsTopology(Protocol):
    """An executor that knows where its nodes sit in the fabric (Slurm's topology plugin).

    ``aitc serve`` builds the cluster's leaves and scalable units from it, so the engine packs
    gang jobs the way the fabric is wired.
    """

    def topology(self) -> Mapping[str, tuple[int, int]]:
        """Each node's (leaf, scalable unit)."""
        ...


@runtime_checkable
class UpdatesNodes(Protocol):
    """An executor whose nodes are shared with work outside aitc (Slurm): it is told an aitc
    admin's node states, as ``scontrol update NodeName=X State=DRAIN|DOWN|RESUME`` does, so that
    nothing outside aitc starts on a node aitc took out either."""

    def update_node(self, name: str, state: str, reason: str = "") -> bool:
        """Set ``name`` to ``state`` (``drain``, ``down`` or ``resume``), with ``reason``;
        idempotent. False when it was left as it was (a node the executor does not know, or one
        taken out outside aitc); an error when the executor refused."""
        ...
