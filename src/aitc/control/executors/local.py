"""The local executor: real processes on this host, one supervised process group per attempt.

``start`` writes the attempt's ``spec.json`` (command, environment pinned to the placement's
GPUs, working directory, log files, time limit) and spawns the supervisor
(``python -m aitc.control.executors.supervise``) in its own session. The supervisor claims the
attempt with an O_EXCL file, runs the job in a new session and records pid, exit code and end in
the attempt directory (see ``attempts.py``), so the controller may crash at any moment: a fresh
``LocalExecutor`` on the same state directory adopts every attempt it finds there.

``poll`` reports an attempt that ended until the next ``poll``; calling ``poll`` again is the
acknowledgement, after which the attempt directory moves to ``done/``. A controller that dies
before it recorded an end therefore hears about it again after its restart.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from aitc.control.accounts import Account, can_switch_users, job_account, server_account
from aitc.control.clock import Clock, SystemClock
from aitc.control.executors.attempts import (
    ATTEMPTS,
    DONE,
    AttemptDir,
    AttemptSpec,
    CancelRecord,
    ExitRecord,
    LimitRecord,
    SignalRecord,
    alive,
    attempt_name,
    parse_attempt_name,
)
from aitc.control.executors.base import ExecJob, ExecReport, ExecStatus, GpuInfo, NodeInfo
from aitc.control.executors.cgroup import Limits
from aitc.control.executors.gpus import (
    DEFAULT_VIRTUAL_MODEL,
    nvml_gpus,
    virtual_gpus,
    visible_devices,
)
from aitc.control.executors.jobenv import job_environment
from aitc.control.executors.registry import ExecutorSettings
from aitc.control.executors.terminal import SOCKET
from aitc.control.gpuusage.nvml import NvmlReader
from aitc.control.gpuusage.sampler import (
    DEFAULT_INTERVAL_S,
    DeviceReader,
    GpuSampler,
    device_uuids,
    interval_option,
)
from aitc.control.gpuusage.samples import UsageAggregate
from aitc.domain.job import NodeAlloc
from aitc.errors import ExecutorError

SUPERVISOR_MODULE = "aitc.control.executors.supervise"
STARTUP_GRACE_S = 30.0  # how long a claimed attempt may go without a supervisor record
DEFAULT_PIDS_LIMIT = 4096  # processes and threads per attempt
MIN_MEMORY_BYTES = 256 * 2**20

Key = tuple[int, int]


class LocalExecutor:
    """Runs each attempt as a supervised process group on this host."""

    name = "local"

    def __init__(
        self,
        state_dir: Path | str,
        *,
        gpus: Sequence[GpuInfo] | None = None,
        virtual_gpus: int | None = None,
        virtual_model: str = DEFAULT_VIRTUAL_MODEL,
        node_name: str | None = None,
        grace_s: float = 10.0,
        clock: Clock | None = None,
        single_user: bool = False,
        supervisor: Sequence[str] = (),
        confine: bool = True,
        pids_limit: int = DEFAULT_PIDS_LIMIT,
        gpu_sample_s: float = DEFAULT_INTERVAL_S,
        gpu_reader: DeviceReader | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.node_name = node_name or socket.gethostname()
        self.grace_s = grace_s
        self._clock = (clock or SystemClock()).now
        self._gpus = (
            tuple(gpus)
            if gpus is not None
            else _discover(virtual_gpus, virtual_model, self.node_name)
        )
        self.server_user = server_account()
        # Jobs run as their member's account; a server that cannot switch users runs only its
        # own user's jobs and refuses the others (``single_user``).
        # ``supervisor``: a privileged helper that starts the supervisor as root (``sudo -n
        # /usr/local/libexec/aitc-supervise``, see privilege.py), for a server that is not root.
        self.supervisor = tuple(supervisor) or (sys.executable, "-m", SUPERVISOR_MODULE)
        self.helper = bool(supervisor)
        self.single_user = single_user or not (can_switch_users() or self.helper)
        self.confine = confine
        self.pids_limit = pids_limit
        self._cgroup_prefix = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:8]
        self._launched: dict[Key, subprocess.Popen[bytes]] = {}
        self._ended_reported: list[str] = []
        # GPU usage of running attempts (NVML; virtual GPUs report nothing), see gpuusage/.
        self.gpu_sampler = GpuSampler(gpu_reader or NvmlReader(), gpu_sample_s)
        self._device_uuids: dict[Key, tuple[str, ...]] = {}
        # Private to the server's user: attempt records hold each job's environment.
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for sub in (ATTEMPTS, DONE, "logs"):
            (self.state_dir / sub).mkdir(mode=0o700, exist_ok=True)

    # -- inventory ---------------------------------------------------------------------------

    def inventory(self) -> Sequence[NodeInfo]:
        return (
            NodeInfo(
                name=self.node_name,
                gpus=self._gpus,
                cpus=os.cpu_count() or 0,
                memory_mb=_memory_mb(),
            ),
        )

    # -- start -------------------------------------------------------------------------------

    def log_paths(self, job_id: int, attempt: int) -> tuple[str, str]:
        """Where an attempt's stdout and stderr go when the job does not say."""
        base = self.state_dir / "logs" / str(job_id)
        return str(base / f"{attempt}.out"), str(base / f"{attempt}.err")

    def start(self, job: ExecJob) -> str:
        key = (job.job_id, job.attempt)
        adir = self._dir(*key)
        handle = attempt_name(*key)
        if key in self._launched or adir.claimed or self._archived(handle):
            return handle
        spec = self._spec(job, self.account(job))
        adir.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        adir.write_spec(spec)
        adir.reserve()
        with open(adir.root / "supervisor.log", "ab") as log:
            self._launched[key] = subprocess.Popen(
                [*self.supervisor, str(adir.root)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        return handle

    def terminal_socket(self, job_id: int, attempt: int) -> Path:
        """Where an interactive attempt's supervisor relays its terminal (``terminal.py``)."""
        return self._dir(job_id, attempt).root / SOCKET

    def account(self, job: ExecJob) -> Account | None:
        """The account ``job`` runs as; None for the server's own (``ExecutorError`` if refused)."""
        refuse = self.single_user_reason if self.single_user else None
        return job_account(job.job_id, job.unix_user, server=self.server_user, refuse_others=refuse)

    @property
    def single_user_reason(self) -> str:
        if can_switch_users():
            return "asked for with --single-user"
        return "it is not root; see 'Security model' in docs/operators.md"

    def _spec(self, job: ExecJob, account: Account | None) -> AttemptSpec:
        default_out, default_err = self.log_paths(job.job_id, job.attempt)
        limits = self._limits(job)
        return AttemptSpec(
            job_id=job.job_id,
            attempt=job.attempt,
            command=tuple(job.command),
            env=self.job_env(job, account),
            workdir=job.workdir,
            stdout_path=job.stdout_path or default_out,
            stderr_path=job.stderr_path or default_err,
            own_stdout=job.own_stdout and bool(job.stdout_path),
            own_stderr=job.own_stderr and bool(job.stderr_path),
            open_mode=job.open_mode,
            time_limit=job.time_limit,
            grace_s=self.grace_s,
            user=account.name if account else None,
            uid=account.uid if account else None,
            gid=account.gid if account else None,
            groups=account.groups if account else (),
            home=account.home if account else None,
            cgroup=f"{self._cgroup_prefix}-{attempt_name(job.job_id, job.attempt)}"
            if self.confine
            else "",
            memory_bytes=limits.memory_bytes,
            cpus=limits.cpus,
            pids=limits.pids,
            gpu_minors=limits.gpu_minors,
            terminal=job.terminal,
            signal=job.signal,
        )

    def _limits(self, job: ExecJob) -> Limits:
        """The attempt's share of this node: its GPUs' share of CPUs and memory (as Slurm's
        DefCpuPerGPU/DefMemPerGPU), at least one CPU; its own GPU device files only."""
        alloc = job.placement.allocs[0] if job.placement.allocs else None
        gpus = tuple(alloc.gpus) if alloc else ()
        mig = alloc.mig if alloc else None
        share = (len(gpus) or (1 if mig else 0)) / max(1, len(self._gpus))
        share = share or 1 / max(1, len(self._gpus))  # a job without GPUs gets one GPU's share
        cpus = os.cpu_count() or 1
        minors = tuple(self._minor(i) for i in gpus) + ((self._minor(mig.gpu),) if mig else ())
        return Limits(
            memory_bytes=max(MIN_MEMORY_BYTES, int(_memory_mb() * 2**20 * share)),
            cpus=float(max(1, math.ceil(cpus * share))),
            pids=self.pids_limit,
            gpu_minors=minors,
        )

    def _minor(self, index: int) -> int:
        """The minor number of GPU ``index``'s ``/dev/nvidiaN`` (NVML's, else the index)."""
        for g in self._gpus:
            if g.index == index:
                return g.minor if g.minor is not None else index
        return index

    def job_env(self, job: ExecJob, account: Account | None = None) -> dict[str, str]:
        """The job's environment from the allow-list (``jobenv.py``) and the GPU pins."""
        if not job.command:
            raise ExecutorError(f"job {job.job_id}: command is empty")
        devices = self._devices(job)
        aitc_vars = dict(
            CUDA_VISIBLE_DEVICES=devices,
            NVIDIA_VISIBLE_DEVICES=devices or "void",
            CUDA_DEVICE_ORDER="PCI_BUS_ID",
            AITC_JOB_ID=str(job.job_id),
            AITC_ATTEMPT=str(job.attempt),
            AITC_NODE=self.node_name,
        )
        return job_environment(account=account, job_env=job.env, aitc_vars=aitc_vars)

    def _devices(self, job: ExecJob) -> str:
        allocs = job.placement.allocs
        if len(allocs) > 1:
            raise ExecutorError(
                f"job {job.job_id}: placement spans {len(allocs)} nodes; the local executor runs "
                f"on one node ({self.node_name}); use the slurm executor for multi-node jobs"
            )
        alloc = allocs[0] if allocs else NodeAlloc(node=self.node_name)
        if alloc.node != self.node_name:
            raise ExecutorError(
                f"job {job.job_id}: placement names node {alloc.node!r}, this executor runs on "
                f"{self.node_name!r}"
            )
        return visible_devices(alloc, self._gpus)

    # -- poll --------------------------------------------------------------------------------

    def poll(self) -> Sequence[ExecReport]:
        self._archive_acknowledged()
        reports = []
        for entry in os.scandir(self.state_dir / ATTEMPTS):
            key = parse_attempt_name(entry.name)
            if key is None:
                continue
            report = self._report(AttemptDir(Path(entry.path)), key)
            if report is None:
                continue
            reports.append(report)
            if report.status != ExecStatus.RUNNING:
                self._ended_reported.append(entry.name)
                self._launched.pop(key, None)
                self._device_uuids.pop(key, None)
        self._sample_gpus(reports)
        return reports

    def _sample_gpus(self, reports: Sequence[ExecReport]) -> None:
        running = {
            (r.job_id, r.attempt): self._attempt_devices((r.job_id, r.attempt))
            for r in reports
            if r.status == ExecStatus.RUNNING
        }
        self.gpu_sampler.sample(self._clock(), running)

    def _attempt_devices(self, key: Key) -> tuple[str, ...]:
        if key not in self._device_uuids:
            spec = self._dir(*key).spec()
            visible = spec.env.get("CUDA_VISIBLE_DEVICES", "") if spec else ""
            self._device_uuids[key] = device_uuids(visible, self._gpus)
        return self._device_uuids[key]

    def gpu_usage(self) -> dict[Key, UsageAggregate]:
        """The attempts' GPU usage aggregates changed since the last call."""
        return self.gpu_sampler.take()

    def _archive_acknowledged(self) -> None:
        for name in self._ended_reported:
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.state_dir / ATTEMPTS / name, self.state_dir / DONE / name)
        self._ended_reported = []
        for proc in self._launched.values():
            proc.poll()  # reap supervisors that ended, so none lingers as a zombie

    def _report(self, adir: AttemptDir, key: Key) -> ExecReport | None:
        handle = adir.root.name
        if not adir.claimed:
            return self._unclaimed(adir, key)
        ended = adir.exit()
        if ended is None and not alive(adir.proc("supervisor")):
            ended = adir.exit() or self._unsupervised(adir)
        if ended is None:
            running = adir.proc("child") is not None
            return self._make(key, handle, ExecStatus.RUNNING) if running else None
        return self._make(key, handle, ExecStatus(ended.status), ended.exit_code, ended.cause)

    def _make(
        self, key: Key, handle: str, status: ExecStatus, code: int | None = None, cause: str = ""
    ) -> ExecReport:
        return ExecReport(
            job_id=key[0],
            attempt=key[1],
            handle=handle,
            status=status,
            exit_code=code,
            cause=cause,
            nodes=(self.node_name,),
        )

    def _unclaimed(self, adir: AttemptDir, key: Key) -> ExecReport | None:
        """An attempt whose supervisor has not claimed it yet: starting, or its supervisor died."""
        proc = self._launched.get(key)
        if proc is None or proc.poll() is None or not adir.claim():
            return None  # still starting (or a supervisor won the claim just now)
        cause = (
            f"the supervisor exited with code {proc.returncode} before starting the job; "
            f"see {adir.root / 'supervisor.log'}"
        )
        adir.write_exit(ExitRecord("lost", None, self._clock(), cause))
        return self._make(key, adir.root.name, ExecStatus.LOST, None, cause)

    def _unsupervised(self, adir: AttemptDir) -> ExitRecord | None:
        """The supervisor is gone without an exit record: the job runs orphaned, or vanished."""
        supervisor = adir.proc("supervisor")
        if alive(supervisor):
            return None  # its record appeared after the caller looked: it runs
        child = adir.proc("child")
        young = self._clock() - (adir.root / "claim").stat().st_mtime < STARTUP_GRACE_S
        if child is None and supervisor is None and young:
            return None  # claimed an instant ago; the supervisor is writing its record
        if alive(child):
            return self._police_orphan(adir, child.pid, child.started_at)  # type: ignore[union-attr]
        request = adir.cancel_request()
        record = (
            ExitRecord("cancelled", None, self._clock(), request.cause)
            if request
            else ExitRecord(
                "lost",
                None,
                self._clock(),
                "the supervisor and the job ended without an exit record "
                "(killed, or the host restarted); exit code unknown",
            )
        )
        adir.write_exit(record)
        return record

    def _police_orphan(self, adir: AttemptDir, pgid: int, started_at: float) -> ExitRecord | None:
        """Enforce time limit and cancel on a job whose supervisor died; None while it may run."""
        spec, request, now = adir.spec(), adir.cancel_request(), self._clock()
        over = (
            spec is not None and spec.time_limit is not None and now - started_at > spec.time_limit
        )
        if not over and request is None:
            return None
        _killpg(pgid, signal.SIGKILL)
        status = "timeout" if over else "cancelled"
        cause = "exceeded its time limit (unsupervised); killed" if over else "cancelled; killed"
        record = ExitRecord(status, None, now, cause)
        adir.write_exit(record)
        return record

    # -- cancel ------------------------------------------------------------------------------

    def cancel(self, job_id: int, attempt: int) -> None:
        adir = self._dir(job_id, attempt)
        if not adir.root.exists() or adir.exit() is not None:
            return
        adir.write_cancel(CancelRecord(cause="cancel requested", requested_at=self._clock()))
        supervisor, child = adir.proc("supervisor"), adir.proc("child")
        if alive(supervisor):
            _kill(supervisor.pid, signal.SIGTERM)  # type: ignore[union-attr]
        elif alive(child):
            _killpg(child.pid, signal.SIGTERM)  # type: ignore[union-attr]

    def signal(self, job_id: int, attempt: int, signal_words: str) -> bool:
        """Send ``signal_words`` (``[B:]SIG``) to a running attempt now, through its supervisor
        (which runs as root where the server may not): ``signal.json`` with the next number,
        then SIGUSR2 to wake it. False if the attempt does not run (not yet, or no more)."""
        adir = self._dir(job_id, attempt)
        supervisor = adir.proc("supervisor")
        if adir.exit() is not None or not alive(adir.proc("child")) or not alive(supervisor):
            return False
        last = adir.signal_request()
        adir.write_signal(SignalRecord(signal_words, 1 if last is None else last.seq + 1))
        _kill(supervisor.pid, signal.SIGUSR2)  # type: ignore[union-attr]
        return True

    def set_time_limit(self, job_id: int, attempt: int, seconds: float) -> bool:
        """Change a running attempt's time limit through its supervisor, woken as ``signal``
        wakes it: ``limit.json`` with the next number, then SIGUSR2. The supervisor counts
        the limit from the job's start and moves its ``--signal`` warning with it (one that
        has not spawned the job yet takes it when it does)."""
        adir = self._dir(job_id, attempt)
        supervisor = adir.proc("supervisor")
        if adir.exit() is not None or not alive(supervisor):
            return False
        last = adir.limit_request()
        adir.write_limit(LimitRecord(seconds, 1 if last is None else last.seq + 1))
        _kill(supervisor.pid, signal.SIGUSR2)  # type: ignore[union-attr]
        return True

    def close(self) -> None:
        """Forget the supervisor handles; the jobs keep running and a new executor adopts them."""
        for proc in self._launched.values():
            proc.poll()
        self._launched.clear()

    # -- helpers -----------------------------------------------------------------------------

    def _dir(self, job_id: int, attempt: int) -> AttemptDir:
        return AttemptDir.of(self.state_dir, job_id, attempt)

    def _archived(self, name: str) -> bool:
        return (self.state_dir / DONE / name).exists()


def _discover(virtual: int | None, model: str, host: str) -> tuple[GpuInfo, ...]:
    return virtual_gpus(virtual, model, host) if virtual is not None else nvml_gpus()


def _memory_mb() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _kill(pid: int, sig: signal.Signals) -> None:
    # PermissionError: a server that is not root cannot signal its members' jobs; the
    # supervisor (which it can signal) and cancel.json carry the request instead.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def from_settings(settings: ExecutorSettings) -> LocalExecutor:
    """The registry's factory for ``local``."""
    return LocalExecutor(
        settings.state_dir,
        virtual_gpus=settings.virtual_gpus,
        virtual_model=settings.virtual_model,
        node_name=settings.node_name,
        grace_s=settings.grace_s,
        single_user=settings.options.get("single_user", "") in ("1", "true", "yes"),
        supervisor=shlex.split(settings.options.get("supervisor", "")),
        confine=settings.options.get("cgroups", "on") != "off",
        gpu_sample_s=interval_option(settings.options.get("gpu_sample_s")),
    )
