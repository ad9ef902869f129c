"""The Slurm executor: aitc's engine is the brain, Slurm is the hands.

The engine has already chosen the nodes; ``start`` submits one batch job per attempt with
``sbatch --nodelist=<exactly those> --nodes=N --gres=gpu:<per node>``, named
``aitc-<job>-<attempt>``. ``poll`` reads ``squeue --json`` (and ``sinfo --json`` for node states),
``inventory`` reads ``sinfo --json``, ``cancel`` runs ``scancel``. Every Slurm command goes
through ``slurm_cli.SlurmCli`` (timeouts, ``SlurmError`` with a hint, a JSON parser per release).

Rules kept here, on top of the executor protocol:
- Idempotent per attempt: before sbatch, the attempt's record and then Slurm's queue are searched
  for a job of that name, so a crash between sbatch and the record never submits twice, and a
  restarted controller adopts what runs.
- Slurm never requeues on its own (``--no-requeue``): a node that goes DOWN (or FAIL) makes its
  running attempts LOST, with the node and Slurm's reason as the cause, and the controller
  requeues them through the engine. Such a loss is reported only once ``inventory()`` has shown
  the node down (or after ``LOST_HOLD_S``), so the requeued job is never placed back on it.
  A DRAIN (draining, drained) is Slurm's "no new jobs; running ones finish": the node takes no
  new attempt (``inventory()`` says ``drain``), and those running there run to their end; only
  an attempt still pending in Slurm on such a node is given back to the engine.
- ``update_node`` passes an aitc admin's drain, down and resume to Slurm (``scontrol update
  NodeName=X State=...``), so plain ``sbatch`` jobs keep off the node too.
- GPUs held by jobs aitc did not start (a plain ``sbatch``) are reported as ``foreign_gpus``.
- Slurm picks the GPU indices within a node (``--gres`` is a count); ``allocation`` reads back
  the indices it chose instead of assuming the engine's.
- Jobs run as their member (``ExecJob.unix_user``), as Slurm runs a job as its submitter:
  ``sbatch`` itself runs as the member (``runuser -u USER -- sbatch``; a server that is not
  root can only run its own user's jobs) with ``--export=ALL`` of an environment aitc builds
  from nothing, and the job's environment (``jobenv.job_environment``) is set inside the batch
  script. No Slurm command aitc runs ever
  sees a job's environment; ``scancel`` and ``squeue`` run as the server.
- The server's records live in ``state_dir`` (0700); what the job writes (exit.json, default
  logs) lives in ``jobs_dir/<unix_user>/<name>/``, the member's own (see ``slurm_cli.batch``).
- With accounting, each ended attempt's GPU usage is read once from ``sacct --json`` (its
  steps' TRES usage, ``aitc.control.gpuusage.tres``) and handed to the controller through
  ``gpu_usage()``, as the local executor hands its NVML samples.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from aitc.arch.slurmconf import gpu_model_of
from aitc.control.accounts import Account, can_switch_users, job_account, server_account
from aitc.control.executors.base import (
    ExecJob,
    ExecReport,
    ExecStatus,
    GpuInfo,
    NodeInfo,
    NodeState,
)
from aitc.control.executors.jobenv import job_environment
from aitc.control.executors.registry import ExecutorSettings
from aitc.control.executors.slurm_cli import ACTIVE_STATES, SlurmCli, SlurmJob, SlurmNode
from aitc.control.executors.slurm_cli.batch import (
    DONE_DIR,
    EXIT_JSON,
    GRACE_S,
    SLURM_DIR,
    AttemptFiles,
    Ended,
    Record,
    batch_script,
    member_dir,
    read_exit,
    sbatch_args,
)
from aitc.control.gpuusage.samples import UsageAggregate
from aitc.control.gpuusage.tres import aggregate
from aitc.errors import ExecutorError, SlurmError

log = logging.getLogger(__name__)
_LOST_STATES = {"NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "REVOKED"}
_TIMEOUT_STATES = {"TIMEOUT", "DEADLINE"}
LOST_HOLD_S = 15.0
INTENT = "intent.json"  # written just before sbatch: a record may be missing only after it
USAGE_GIVE_UP_S = 600.0  # an ended attempt's usage not in accounting by then is not asked again
REASON_MARK = "aitc:"  # starts the Slurm reason of a node state an aitc admin set


class SlurmExecutor:
    """Runs each attempt as one Slurm batch job on exactly the engine's nodes."""

    name = "slurm"

    def __init__(
        self,
        state_dir: Path | str,
        *,
        env: Mapping[str, str] | None = None,
        partition: str | None = None,
        name_prefix: str = "aitc",
        accounting: bool = False,
        timeout_s: float = 15.0,
        jobs_dir: Path | str | None = None,
        single_user: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        # What jobs write (exit.json, default logs): one 0700 directory per member below it.
        self.jobs_dir = (
            Path(jobs_dir).resolve()
            if jobs_dir is not None
            else self.state_dir.with_name(f"{self.state_dir.name}-jobs")
        )
        self.server_user = server_account()
        # A server that cannot switch users (not root), or is told not to, runs only its own
        # user's jobs and refuses the others.
        self.single_user = single_user or not can_switch_users()
        self.cli = SlurmCli(env, timeout_s=timeout_s)
        self.partition = partition
        self.prefix = name_prefix
        self.accounting = accounting
        self._ended_reported: list[str] = []
        self._known_bad: set[str] = set()  # nodes the last inventory() showed not up
        self._suspect: set[str] = set()  # nodes that missed a ping, not yet declared down
        self._held_since: dict[str, float] = {}
        # ended attempts whose usage accounting has not given yet: Slurm job id, when ended
        self._unaccounted: dict[tuple[int, int], tuple[int, float]] = {}
        self._usage_asked = -math.inf
        self.usage_every_s = 10.0  # sacct is asked at most this often
        # Private to the server's user: the records name every attempt and its member.
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.state_dir.stat().st_uid == os.geteuid():
            self.state_dir.chmod(0o700)
        for sub in (SLURM_DIR, DONE_DIR, "logs"):
            (self.state_dir / sub).mkdir(mode=0o700, exist_ok=True)
        self.comment = f"aitc-instance={_instance_id(self.state_dir)}"

    @property
    def log_root(self) -> Path:
        """Where the controller puts job logs: below ``jobs_dir``, which members can reach
        (Slurm opens a job's log as its member), never in the private state directory."""
        return self.jobs_dir / "logs"

    # -- names and files -----------------------------------------------------------------------

    def job_name(self, job_id: int, attempt: int) -> str:
        return f"{self.prefix}-{job_id}-{attempt}"

    def parse_name(self, name: str) -> tuple[int, int] | None:
        """``aitc-12-0`` -> ``(12, 0)``; a name this executor did not give -> None."""
        head, _, attempt = name.rpartition("-")
        prefix, _, job = head.rpartition("-")
        if prefix != self.prefix or not job.isdigit() or not attempt.isdigit():
            return None
        return int(job), int(attempt)

    def owns(self, job: SlurmJob) -> bool:
        """Whether this executor (this state directory) submitted ``job``. Another aitc with the
        same names, or one whose database was reset, owns its own jobs; to us they are foreign."""
        return job.comment == self.comment and self.parse_name(job.name) is not None

    def _files(self, name: str) -> AttemptFiles:
        return AttemptFiles(self.state_dir / SLURM_DIR / name)

    def log_paths(self, job_id: int, attempt: int, unix_user: str | None = None) -> tuple[str, str]:
        """Where an attempt's stdout and stderr go when the job does not say: the server's
        ``state_dir/logs`` for its own jobs, the member's attempt directory for theirs."""
        if unix_user is None or unix_user == self.server_user.name:
            base = self.state_dir / "logs" / str(job_id)
            return str(base / f"{attempt}.out"), str(base / f"{attempt}.err")
        base = self.jobs_dir / unix_user / self.job_name(job_id, attempt)
        return str(base / "stdout"), str(base / "stderr")

    def account(self, job: ExecJob) -> Account | None:
        """The account ``job`` runs as; None for the server's own (``ExecutorError`` if it
        cannot: an unknown account, or a server that is not root)."""
        single = self.single_user or not can_switch_users()
        refuse = self.single_user_reason if single else None
        return job_account(job.job_id, job.unix_user, server=self.server_user, refuse_others=refuse)

    @property
    def single_user_reason(self) -> str:
        if can_switch_users():
            return "asked for with --single-user"
        return "it is not root, and sbatch as another user needs root"

    # -- start ---------------------------------------------------------------------------------

    def start(self, job: ExecJob) -> str:
        name = self.job_name(job.job_id, job.attempt)
        files = self._files(name)
        known = files.record() or AttemptFiles(self.state_dir / DONE_DIR / name).record()
        if known is not None:
            return str(known.slurm_id)
        if (files.root / INTENT).exists():
            # sbatch may have run before a crash kept us from writing the record: ask Slurm.
            queued = self._find(name)
            if queued is not None:
                files.write_record(Record(queued.job_id, time.time()))
                return str(queued.job_id)
        slurm_id = self._submit(job, name, files)
        files.write_record(Record(slurm_id, time.time()))
        return str(slurm_id)

    def _find(self, name: str) -> SlurmJob | None:
        """The newest job of this name that Slurm still knows."""
        return max(
            (j for j in self.cli.jobs() if j.name == name and self.owns(j)),
            key=lambda j: j.job_id,
            default=None,
        )

    def _submit(self, job: ExecJob, name: str, files: AttemptFiles) -> int:
        if not job.command:
            raise SlurmError(f"job {job.job_id}: command is empty")
        account = self.account(job)
        runs_as = account or self.server_user
        env = job_environment(
            account=account,
            job_env=job.env,
            aitc_vars={"AITC_JOB_ID": str(job.job_id), "AITC_ATTEMPT": str(job.attempt)},
        )
        exit_dir = member_dir(self.jobs_dir, runs_as, name)
        out, err = self.log_paths(job.job_id, job.attempt, runs_as.name)
        stdout, stderr = job.stdout_path or out, job.stderr_path or err
        # The job's own files (--output/--error) are opened by slurmstepd as the member, in
        # directories that are the member's to make; aitc makes only its own log directories.
        own = {p for p, mine in ((stdout, job.own_stdout), (stderr, job.own_stderr)) if mine}
        for path in {stdout, stderr} - own:
            self._log_dir(Path(path).parent, account)
        script = batch_script(job, name=name, exit_dir=exit_dir, env=env)
        args = sbatch_args(
            job,
            name=name,
            stdout=stdout,
            stderr=stderr,
            partition=self.partition,
            comment=self.comment,
            workdir=account.home if account is not None else None,
        )
        files.write(
            INTENT,
            {
                "job_id": job.job_id,
                "attempt": job.attempt,
                "user": runs_as.name,
                "own_files": sorted(own),
                "time_limit": job.time_limit,
            },
        )
        files.write_text("batch.sh", script)
        try:
            out_text = self.cli.run(
                args, user=account.name if account is not None else None, stdin=script
            )
        except SlurmError:
            shutil.rmtree(files.root, ignore_errors=True)
            raise
        return int(out_text.strip().split(";")[0])

    def _log_dir(self, directory: Path, account: Account | None) -> None:
        """Make the directory of a log the job can write: for a member, theirs and 0700
        (``<log_dir>/<unix_user>/<job>/`` as the controller lays it out)."""
        if account is None:
            directory.mkdir(parents=True, exist_ok=True)
        elif directory.parent.name == account.name:
            member_dir(directory.parent.parent, account, directory.name)
        elif directory.name == account.name:
            member_dir(directory.parent, account)
        elif not directory.is_dir():
            raise ExecutorError(
                f"log directory {directory} does not exist and is not below a directory named "
                f"after {account.name}; aitc creates only <log_dir>/<unix_user>/<job>/"
            )

    # -- inventory -----------------------------------------------------------------------------

    def inventory(self) -> Sequence[NodeInfo]:
        nodes = self.cli.nodes()
        ours: dict[str, int] = {}
        for job in self.cli.jobs():
            if job.state in ACTIVE_STATES and self.owns(job):
                for node, gpus in job.gpus.items():
                    ours[node] = ours.get(node, 0) + len(gpus)
        infos = [self._node_info(n, ours.get(n.name, 0)) for n in nodes]
        self._known_bad = {i.name for i in infos if i.state != NodeState.UP}
        return infos

    @staticmethod
    def _node_info(n: SlurmNode, ours: int) -> NodeInfo:
        model = gpu_model_of(n.gpu_type) or n.gpu_type
        gpus = tuple(GpuInfo(i, f"slurm-{n.name}-gpu{i}", model) for i in range(n.gpus))
        return NodeInfo(
            name=n.name,
            gpus=gpus,
            state=node_state(n),
            cpus=n.cpus,
            memory_mb=n.memory_mb,
            foreign_gpus=max(0, n.gpus_used - ours),
            reason=n.reason,
        )

    # -- poll ----------------------------------------------------------------------------------

    def poll(self) -> Sequence[ExecReport]:
        self._archive_acknowledged()
        jobs: dict[str, SlurmJob] = {}
        for job in sorted(self.cli.jobs(), key=lambda j: j.job_id):
            if self.owns(job):
                jobs[job.name] = job
        slurm_nodes = self.cli.nodes()
        # a running attempt is lost only with a failed node; one still pending in Slurm is
        # given back on any node that takes no new jobs (Slurm would never start it there)
        bad = {n.name: _why(n) for n in slurm_nodes if loses_jobs(n)}
        closed = {n.name: _why(n) for n in slurm_nodes if node_state(n) != NodeState.UP}
        self._suspect = {n.name for n in slurm_nodes if "NOT_RESPONDING" in n.flags} - set(bad)
        names = {e.name for e in os.scandir(self.state_dir / SLURM_DIR)} | set(jobs)
        reports = []
        for name in sorted(names):
            key = self.parse_name(name)
            if key is None or (self.state_dir / DONE_DIR / name).exists():
                continue  # not ours, or ended and acknowledged (Slurm lists it MinJobAge more)
            report = self._report(name, key, jobs.get(name), bad, closed)
            if report is None:
                continue
            reports.append(report)
            if report.status != ExecStatus.RUNNING:
                self._ended_reported.append(name)
                if self.accounting and report.handle.isdigit():
                    self._unaccounted[key] = (int(report.handle), time.monotonic())
        return reports

    def _archive_acknowledged(self) -> None:
        """Attempts whose end the previous poll reported are done: move them out of the way."""
        for name in self._ended_reported:
            with contextlib.suppress(OSError):
                os.replace(self.state_dir / SLURM_DIR / name, self.state_dir / DONE_DIR / name)
        self._ended_reported = []

    def _report(
        self,
        name: str,
        key: tuple[int, int],
        job: SlurmJob | None,
        bad: Mapping[str, str],
        closed: Mapping[str, str],
    ) -> ExecReport | None:
        files = self._files(name)
        record = files.record()
        handle = str(job.job_id if job else record.slurm_id if record else "")
        nodes = job.nodes if job else ()
        if record is None and job is None:
            return None  # start() is between its intent and sbatch, or sbatch was refused
        if record is None and job is not None:
            files.write_record(Record(job.job_id, time.time()))  # adopted from Slurm's queue
        if job is not None and job.state in ACTIVE_STATES:
            lost_with = closed if job.state == "PENDING" else bad
            down = [n for n in job.nodes or job.required if n in lost_with]
            if not down:
                return ExecReport(
                    *key, handle, ExecStatus.RUNNING, nodes=nodes, cause=_pending(job)
                )
            self._lose(files, job, down, lost_with)
        ended = _blame_nodes(self._ended(files, job, bad), job, bad)
        held = self._hold(name, ended, job)
        if held:
            return ExecReport(*key, handle, ExecStatus.RUNNING, nodes=nodes, cause=held)
        return ExecReport(
            *key,
            handle,
            ExecStatus(ended.status),
            exit_code=ended.exit_code,
            cause=ended.cause,
            nodes=nodes,
        )

    def _lose(
        self, files: AttemptFiles, job: SlurmJob, down: list[str], bad: Mapping[str, str]
    ) -> None:
        """A node of a running attempt failed (or one of a pending attempt takes no new jobs):
        stop it; the engine requeues it."""
        cause = "; ".join(f"node {n} {bad[n]}" for n in down)
        files.write("lost.json", {"status": "lost", "cause": cause, "nodes": down})
        self._scancel(job.job_id)

    def _hold(self, name: str, ended: Ended, job: SlurmJob | None) -> str:
        """Why an end is kept back for now ("" to report it), for at most ``LOST_HOLD_S``.

        A loss waits until ``inventory()`` has shown its node down, so the controller requeues
        the job onto the nodes that remain. A failure on a node that stopped answering waits
        until Slurm decides whether the node is down (then it is a loss).
        """
        why = ""
        if ended.status == "lost" and not set(ended.nodes) <= self._known_bad:
            why = f"{ended.cause}; reported once the inventory shows it"
        elif ended.status == "exited" and ended.exit_code != 0 and job is not None:
            quiet = [n for n in job.nodes if n in self._suspect]
            why = f"failed while node {', '.join(quiet)} does not answer" if quiet else ""
        if not why:
            return ""
        first = self._held_since.setdefault(name, time.monotonic())
        return why if time.monotonic() - first < LOST_HOLD_S else ""

    def _ended(self, files: AttemptFiles, job: SlurmJob | None, bad: Mapping[str, str]) -> Ended:
        """How an attempt ended, most trustworthy source first."""
        lost = files.ended("lost.json")
        if lost is not None:
            return lost
        if job is not None and job.state in _LOST_STATES:
            down = [n for n in job.nodes if n in bad]
            where = "; ".join(f"node {n} {bad[n]}" for n in down) or f"Slurm reason {job.reason}"
            return Ended("lost", None, f"{job.state.lower()}: {where}", tuple(down))
        exited = self._exit(files)
        cancel = files.ended("cancel.json")
        # ``cancel`` writes its record only while no exit record exists: an exit that came
        # after it is the cancel's (the batch script may outlive scancel's SIGTERM long enough
        # to write one), unless the job completed by itself meanwhile
        if cancel is not None and (exited is None or exited.exit_code != 0):
            code = None if exited is None else exited.exit_code
            return Ended("cancelled", code, cancel.cause or "cancelled")
        if exited is not None and exited.exit_code != 0 and job and job.state in _TIMEOUT_STATES:
            # Slurm's own limit (lowered by ``set_time_limit``) stopped the step first
            return Ended("timeout", exited.exit_code, "time limit reached (Slurm)")
        if exited is not None:
            cause = "time limit reached" if exited.status == "timeout" else ""
            return Ended(exited.status, exited.exit_code, cause)
        if job is None and self.accounting:
            job = self._accounted(files)
        if job is not None:
            return _never_ran(files, job, _from_slurm_state(job))
        return Ended(
            "lost",
            None,
            "vanished from Slurm without an exit record "
            "(the job ended more than MinJobAge ago and accounting is off)",
        )

    def _exit(self, files: AttemptFiles) -> Ended | None:
        """What batch.sh wrote in the member's attempt directory (validated), if anything."""
        intent = files.read(INTENT) or {}
        user = intent.get("user")
        if user is None:  # submitted by an older aitc: batch.sh wrote it here, as the server
            return files.ended(EXIT_JSON)
        if not isinstance(user, str) or not user or "/" in user or user in (".", ".."):
            return None
        return read_exit(self.jobs_dir, user, files.root.name)

    def _accounted(self, files: AttemptFiles) -> SlurmJob | None:
        record = files.record()
        return None if record is None else self.cli.accounted_job(record.slurm_id)

    # -- GPU usage -----------------------------------------------------------------------------

    def gpu_usage(self) -> dict[tuple[int, int], UsageAggregate]:
        """The GPU usage of attempts that ended, from accounting, once each as slurmdbd has it
        (asked at most every ``usage_every_s``); attempts without GPU figures give nothing."""
        now = time.monotonic()
        if not self._unaccounted or now - self._usage_asked < self.usage_every_s:
            return {}
        self._usage_asked = now
        by_slurm_id = {sid: key for key, (sid, _) in self._unaccounted.items()}
        try:
            found = self.cli.accounted_usage(sorted(by_slurm_id))
        except SlurmError as e:  # usage is a report's detail: ask again next time
            log.warning("GPU usage from accounting not read: %s", e)
            return {}
        out = {}
        for usage in found:
            key = by_slurm_id.get(usage.job_id)
            if key is None or usage.state in ACTIVE_STATES:
                continue  # accounting has not heard of the end yet
            del self._unaccounted[key]
            figures = aggregate(usage)
            if figures is not None:
                out[key] = figures
        for key, (_, ended) in list(self._unaccounted.items()):
            if now - ended > USAGE_GIVE_UP_S:
                del self._unaccounted[key]
        return out

    @property
    def usage_pending(self) -> int:
        """Ended attempts whose usage accounting has not given yet."""
        return len(self._unaccounted)

    # -- cancel --------------------------------------------------------------------------------

    def cancel(self, job_id: int, attempt: int) -> None:
        name = self.job_name(job_id, attempt)
        files = self._files(name)
        record = files.record()
        slurm_id = record.slurm_id if record else getattr(self._find(name), "job_id", None)
        if slurm_id is None:
            return
        if files.root.exists() and self._exit(files) is None:
            files.write("cancel.json", {"status": "cancelled", "cause": "cancelled"})
        self._scancel(slurm_id)

    def signal(self, job_id: int, attempt: int, signal_words: str) -> bool:
        """``scancel --signal`` to the attempt's step: every task's processes (``B:`` too:
        the job's command is the step, not aitc's batch script)."""
        record = self._files(self.job_name(job_id, attempt)).record()
        if record is None:
            return False
        name = signal_words.removeprefix("B:")
        try:
            self.cli.run(["scancel", f"--signal={name}", str(record.slurm_id)])
        except SlurmError as e:
            if "already completing or completed" in str(e) or "Invalid job id" in str(e):
                return False
            raise
        return True

    def set_time_limit(self, job_id: int, attempt: int, seconds: float) -> bool:
        """``scontrol update JobId=N TimeLimit=MIN`` as the server (Slurm's operator: it may
        lower and raise), in whole minutes rounded up, counted by Slurm from the job's start;
        Slurm ends a job past it as TIMEOUT at its next check of limits.

        The batch script keeps the limit it started with: its exact-second stop and its
        ``--signal`` sleeper stay where they were. So a limit above the starting one cannot
        be applied (``ExecutorError`` says so), and a lowered one ends the job at Slurm's
        minute, without the warning moving."""
        files = self._files(self.job_name(job_id, attempt))
        record = files.record()
        if record is None:
            return False
        started_with = (files.read(INTENT) or {}).get("time_limit")
        if isinstance(started_with, (int, float)) and seconds > started_with:
            raise ExecutorError(
                f"the Slurm executor cannot raise a running job's limit above the "
                f"{started_with:g} s it started with (its batch script stops it then)"
            )
        minutes = max(1, math.ceil(seconds / 60))
        if isinstance(started_with, (int, float)) and seconds == started_with:
            minutes = math.ceil((seconds + GRACE_S) / 60) + 1  # the backstop sbatch was given
        try:
            self.cli.run(["scontrol", "update", f"JobId={record.slurm_id}", f"TimeLimit={minutes}"])
        except SlurmError as e:
            gone = ("already finished", "already completing", "Invalid job id")
            if any(words in str(e) for words in gone):
                return False
            raise
        return True

    def update_node(self, name: str, state: str, reason: str = "") -> bool:
        """Pass an aitc admin's node state to Slurm, as the server (Slurm's operator):
        ``drain`` and ``down`` as ``scontrol update NodeName=X State=DRAIN|DOWN Reason=...``
        (the reason marked ``aitc:``), ``resume`` as ``State=RESUME``. Idempotent. A resume
        leaves alone a node that Slurm took out for a reason that is not aitc's (an
        operator's own drain, a failure Slurm found), and a drain or down leaves alone a node
        already out that far for such a reason (so that a later resume cannot clear it):
        False then, as for a node Slurm does not know; ``SlurmError`` when Slurm refuses."""
        current = next((n for n in self.cli.nodes() if n.name == name), None)
        if current is None:
            return False
        if state == "resume":
            if not current.reason.startswith(REASON_MARK):
                return False
            self.cli.run(["scontrol", "update", f"NodeName={name}", "State=RESUME"])
            return True
        if state not in ("drain", "down"):
            raise ExecutorError(f"unknown node state {state!r} (drain, down or resume)")
        now = node_state(current)
        if not current.reason.startswith(REASON_MARK) and (
            now == NodeState.DOWN or (now == NodeState.DRAIN and state == "drain")
        ):
            return False  # already out, for Slurm's or an operator's reason: theirs stays
        why = f"{REASON_MARK} {reason}" if reason else f"{REASON_MARK} {state} by an aitc admin"
        # a down is a drain first: Slurm may return a DOWN node to service by itself (its
        # ReturnToService) but never clears a DRAIN, so the node stays out until resumed
        for word in ("DRAIN", "DOWN") if state == "down" else ("DRAIN",):
            self.cli.run(
                ["scontrol", "update", f"NodeName={name}", f"State={word}", f"Reason={why}"]
            )
        return True

    def _scancel(self, slurm_id: int) -> None:
        try:
            self.cli.run(["scancel", str(slurm_id)])
        except SlurmError as e:
            if "already completing or completed" not in str(e) and "Invalid job id" not in str(e):
                raise

    # -- what Slurm chose ----------------------------------------------------------------------

    def allocation(self, job_id: int, attempt: int) -> Mapping[str, tuple[int, ...]]:
        """The GPU indices Slurm gave the attempt on each node (empty until it runs)."""
        job = self._find(self.job_name(job_id, attempt))
        return dict(job.gpus) if job else {}

    def topology(self) -> Mapping[str, tuple[int, int]]:
        """Each node's (leaf, scalable unit) as Slurm's topology plugin sees it."""
        return self.cli.topology()

    def close(self) -> None:
        """Nothing to release: the jobs belong to Slurm and keep running."""


def _instance_id(state_dir: Path) -> str:
    """A random id made once per state directory; it marks our jobs (``sbatch --comment``)."""
    path = state_dir / "instance"
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.write(fd, uuid.uuid4().hex[:16].encode())
        os.close(fd)
    return path.read_text().strip()


def node_state(n: SlurmNode) -> NodeState:
    """DOWN once Slurm says down (or the node never registered) or failing; DRAIN when drained
    or draining; UP otherwise.

    ``sinfo --json`` gives a base state (idle, mixed, allocated, down, ...) and flags (DRAIN,
    FAIL, NOT_RESPONDING, ...); ``sinfo``'s text shows the same as ``drained``/``draining``
    (``drng``), ``fail``/``failing``, ``down*``. Slurm's DRAIN is "no new jobs; running ones
    run to completion" (scontrol(1)): DRAIN here, which the engine takes as closed to new
    starts while the attempts running there go on. Slurm's FAIL is "expected to fail soon";
    scontrol(1) calls it "similar to DRAIN except that some applications will seek to
    relinquish those nodes before the job completes": aitc is such an application (it can
    requeue the job on a sound node now rather than lose it with the node later), so FAIL
    counts as DOWN: its attempts are stopped and requeued.

    A node that misses a ping shows ``NOT_RESPONDING`` first; it counts as down only when Slurm
    decides so (after ``SlurmdTimeout``), so a slow node is not mistaken for a dead one.
    """
    if n.state in ("down", "unknown", "future", "fail", "failing") or "FAIL" in n.flags:
        return NodeState.DOWN
    if n.state in ("drained", "draining", "drain") or "DRAIN" in n.flags:
        return NodeState.DRAIN
    return NodeState.UP


def loses_jobs(n: SlurmNode) -> bool:
    """Whether the attempts running on ``n`` are lost with it (down or failing), not merely
    kept from new starts (drained)."""
    return node_state(n) == NodeState.DOWN


def _why(n: SlurmNode) -> str:
    failing = n.state in ("fail", "failing") or "FAIL" in n.flags
    word = "failing (Slurm FAIL)" if failing else node_state(n).value
    return f"is {word}" + (f" ({n.reason})" if n.reason else "")


def _blame_nodes(ended: Ended, job: SlurmJob | None, bad: Mapping[str, str]) -> Ended:
    """A job that failed while one of its nodes is down or drained was lost with the node."""
    if ended.status != "exited" or ended.exit_code == 0 or job is None:
        return ended
    down = [n for n in job.nodes if n in bad]
    if not down:
        return ended
    causes = "; ".join(f"node {n} {bad[n]}" for n in down)
    return Ended("lost", None, f"{causes} (the job failed with it: {ended.exit_code})", tuple(down))


def _pending(job: SlurmJob) -> str:
    return f"pending in Slurm: {job.reason}" if job.state == "PENDING" else ""


def _never_ran(files: AttemptFiles, job: SlurmJob, ended: Ended) -> Ended:
    """A failure without an exit record, of a job with files of its own: Slurm opens those
    as the member before the batch script runs, so the likeliest cause is one it could not
    open; say so, naming them."""
    intent = files.read(INTENT) or {}
    own = intent.get("own_files")
    if job.state != "FAILED" or not own or not isinstance(own, list):
        return ended
    names = ", ".join(repr(str(p)) for p in own)
    why = (
        f"the batch script never ran: Slurm could likely not open the job's own file {names} "
        f"as {intent.get('user')} (a directory missing, or not the member's to write)"
    )
    return Ended(ended.status, ended.exit_code, f"{why}; {ended.cause}" if ended.cause else why)


def _from_slurm_state(job: SlurmJob) -> Ended:
    if job.state in _TIMEOUT_STATES:
        return Ended("timeout", job.exit_code, "time limit reached (Slurm)")
    if job.state == "CANCELLED":
        return Ended("cancelled", None, "cancelled in Slurm (scancel outside aitc)")
    if job.state == "OUT_OF_MEMORY":
        return Ended("exited", job.exit_code, "out of memory")
    cause = f"killed by signal {job.signal}" if job.signal else ""
    return Ended("exited", job.exit_code, cause)


def from_settings(settings: ExecutorSettings) -> SlurmExecutor:
    """The registry's factory for ``slurm``. Options: slurm_conf, partition, name_prefix,
    accounting (``1`` when slurmdbd runs, so ``sacct`` has the final word), jobs_dir (where jobs
    write their exit records: a directory shared with the nodes, default ``<state_dir>-jobs``)."""
    opts = settings.options
    conf = opts.get("slurm_conf") or os.environ.get("SLURM_CONF")
    return SlurmExecutor(
        settings.state_dir,
        jobs_dir=opts.get("jobs_dir") or None,
        env={"SLURM_CONF": conf} if conf else None,
        partition=opts.get("partition") or None,
        name_prefix=opts.get("name_prefix") or "aitc",
        accounting=opts.get("accounting", "") in ("1", "true", "yes"),
        single_user=opts.get("single_user", "") in ("1", "true", "yes"),
    )
