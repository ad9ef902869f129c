"""The per-attempt state directory shared by the local executor and its supervisor.

Every attempt of a job that the local executor starts gets one directory,
``<state_dir>/attempts/j<job_id>-a<attempt>/``, holding small JSON files written atomically
(write to a temporary name, then ``rename``)::

    spec.json        what to run (written by the executor before it spawns the supervisor)
    claim            created with O_EXCL by the supervisor before it spawns the job: whoever
                     creates it runs the attempt, anyone else does nothing (start at most once)
    supervisor.json  pid and kernel start time of the supervisor
    child.json       pid (= process group id) and kernel start time of the job's process
    cancel.json      written by ``cancel()``: the supervisor stops the job when it sees it
    signal.json      written by ``signal()``: a signal to send the job now
    limit.json       written by ``set_time_limit()``: the job's new time limit
                     (both with a sequence number, then SIGUSR2 wakes the supervisor)
    exit.json        how the attempt ended: status, exit code, end time, cause
    supervisor.log   the supervisor's own output (errors only)
    .*.reserve       room set aside on disk for the records above (a full disk loses none)

Because everything lives on disk, exit codes survive a controller crash and a fresh executor
adopts the attempts it finds. This module imports the standard library only: the supervisor
loads it at every job start, and that start is on the submit-to-running path.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ATTEMPTS = "attempts"
DONE = "done"
RESERVED = ("supervisor.json", "child.json", "exit.json")
RESERVE_BYTES = 8192


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    """What the supervisor runs: the command, where, with which environment, for how long."""

    job_id: int
    attempt: int
    command: tuple[str, ...]
    env: dict[str, str]
    workdir: str | None
    stdout_path: str
    stderr_path: str
    # The job's own files (``--output``/``--error``): opened by the job's process once it is
    # the member, never by the supervisor; "truncate" or "append" (``open_mode``).
    own_stdout: bool = False
    own_stderr: bool = False
    open_mode: str = "truncate"
    time_limit: float | None = None
    grace_s: float = 10.0
    # Who runs it: the member's Unix account, resolved by the executor (None: the server's user).
    user: str | None = None
    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] = ()
    home: str | None = None
    # Its cgroup (``cgroup.py``): name and limits; no name means unconfined.
    cgroup: str = ""
    memory_bytes: int | None = None
    cpus: float | None = None
    pids: int | None = None
    gpu_minors: tuple[int, ...] | None = None
    # An interactive attempt (``aitc run``): "pty" or "pipes" (``terminal.py``); None: batch.
    terminal: str | None = None
    # Sent before the time limit (``TimeSignal``'s text, "B:USR1@300"); None: nothing.
    signal: str | None = None


@dataclass(frozen=True, slots=True)
class ProcRecord:
    """A process by pid and kernel start time (the pair survives pid reuse)."""

    pid: int
    start_ticks: int
    started_at: float


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """How an attempt ended; ``status`` is an ``ExecStatus`` value (exited, timeout, ...)."""

    status: str
    exit_code: int | None
    ended_at: float
    cause: str = ""


@dataclass(frozen=True, slots=True)
class CancelRecord:
    cause: str = "cancelled"
    requested_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A signal asked for the running job (``[B:]SIG``); ``seq`` grows with each request, so
    the supervisor sends each one once."""

    signal: str
    seq: int = 1


@dataclass(frozen=True, slots=True)
class LimitRecord:
    """The running job's new time limit, in seconds from its start; ``seq`` grows with each
    change, so the supervisor takes each one once."""

    time_limit: float
    seq: int = 1


def attempt_name(job_id: int, attempt: int) -> str:
    return f"j{job_id}-a{attempt}"


def parse_attempt_name(name: str) -> tuple[int, int] | None:
    """``"j12-a3"`` -> ``(12, 3)``; anything else -> ``None``."""
    job, sep, attempt = name.partition("-a")
    if not sep or not job.startswith("j") or not job[1:].isdigit() or not attempt.isdigit():
        return None
    return int(job[1:]), int(attempt)


class AttemptDir:
    """Typed access to the files of one attempt directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, state_dir: Path, job_id: int, attempt: int) -> AttemptDir:
        return cls(state_dir / ATTEMPTS / attempt_name(job_id, attempt))

    def claim(self) -> bool:
        """Create the claim file exclusively: True for the one caller that may run the attempt."""
        try:
            fd = os.open(self.root / "claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    @property
    def claimed(self) -> bool:
        return (self.root / "claim").exists()

    def write_spec(self, spec: AttemptSpec) -> None:
        self._write("spec.json", asdict(spec))

    def spec(self) -> AttemptSpec | None:
        data = self._read("spec.json")
        if data is None:
            return None
        data["command"] = tuple(data["command"])
        data["groups"] = tuple(data.get("groups") or ())
        if data.get("gpu_minors") is not None:
            data["gpu_minors"] = tuple(data["gpu_minors"])
        return AttemptSpec(**data)

    def write_proc(self, which: str, record: ProcRecord) -> None:
        self._write(f"{which}.json", asdict(record))

    def proc(self, which: str) -> ProcRecord | None:
        data = self._read(f"{which}.json")
        return None if data is None else ProcRecord(**data)

    def write_exit(self, record: ExitRecord) -> None:
        self._write("exit.json", asdict(record))

    def exit(self) -> ExitRecord | None:
        data = self._read("exit.json")
        return None if data is None else ExitRecord(**data)

    def write_cancel(self, record: CancelRecord) -> None:
        self._write("cancel.json", asdict(record))

    def cancel_request(self) -> CancelRecord | None:
        data = self._read("cancel.json")
        return None if data is None else CancelRecord(**data)

    def write_signal(self, record: SignalRecord) -> None:
        self._write("signal.json", asdict(record))

    def signal_request(self) -> SignalRecord | None:
        data = self._read("signal.json")
        return None if data is None else SignalRecord(**data)

    def write_limit(self, record: LimitRecord) -> None:
        self._write("limit.json", asdict(record))

    def limit_request(self) -> LimitRecord | None:
        data = self._read("limit.json")
        return None if data is None else LimitRecord(**data)

    def reserve(self) -> None:
        """Set aside room for the records written while the job runs (see ``_write``)."""
        for name in RESERVED:
            fd = os.open(self.root / f".{name}.reserve", os.O_CREAT | os.O_WRONLY, 0o600)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            finally:
                os.close(fd)

    def _write(self, name: str, data: object) -> None:
        """Write atomically; on a full disk, into the room ``reserve`` set aside.

        A full disk must never lose an exit record: without it a job that completed would be
        judged lost and run again, filling the disk again.
        """
        text = json.dumps(data).encode()
        tmp = self.root / f".{name}.{os.getpid()}.tmp"
        try:
            tmp.write_bytes(text)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            reserve = self.root / f".{name}.reserve"
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not reserve.exists():
                raise
            with open(reserve, "r+b") as f:  # rewriting allocated blocks needs no new ones
                f.write(text[:RESERVE_BYTES])
                f.truncate(min(len(text), RESERVE_BYTES))
            tmp = reserve
        os.replace(tmp, self.root / name)

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.root / name).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None


def proc_start_ticks(pid: int) -> int | None:
    """Kernel start time of ``pid`` (ticks since boot); None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(record: ProcRecord | None) -> bool:
    """Whether the process in ``record`` still runs (the same process, not a reused pid)."""
    return record is not None and proc_start_ticks(record.pid) == record.start_ticks
