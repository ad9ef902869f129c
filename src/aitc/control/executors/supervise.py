"""The supervisor: one small process per job attempt, started by the local executor.

``python -m aitc.control.executors.supervise ATTEMPT_DIR`` claims the attempt (O_EXCL, so an
attempt runs at most once however often it is started), creates the attempt's cgroup, spawns the
job in its own session with the environment and working directory of ``spec.json``, records its
pid, waits for it, enforces the time limit and cancel requests (SIGTERM to the process group, a
grace period, SIGKILL), sends the signals the job asked for (``--signal``: before the time
limit; ``signal.json``, woken by SIGUSR2: now), takes a new time limit (``limit.json``, woken
the same way: counted from the job's start, its warning moved with it), kills whatever the
job left in its cgroup and writes ``exit.json``. It outlives the controller, so exit codes
survive a controller crash.

Privilege separation follows Slurm's slurmstepd: the supervisor runs as the server's user (root
on a multi-user server) and keeps the bookkeeping in the server's private state directory; the
job's process joins its cgroup, then drops to the member's account (supplementary groups, gid,
uid), enters its working directory *as the member* and only then execs the command. Its log
files are opened by the supervisor in the private state directory (which the member cannot reach,
so no link planted there can redirect them) and handed over, owned by the member. The job's own
files (``--output``/``--error``, anywhere the member chooses) are never opened by the supervisor:
the job's process opens them once it is the member, so the kernel checks the member's rights, and
a link the member planted reaches nothing the member could not write anyway. One that cannot be
opened fails the attempt, naming the file and why.

Waiting costs no CPU: the supervisor sleeps in ``select`` on a pidfd of the job and a
self-pipe for signals, with the time limit as the timeout. An interactive attempt (``aitc
run``) runs on a pty or pipes that the supervisor relays to the API through ``io.sock``
(``terminal.py``), in the same ``select``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO

from aitc.control.executors.attempts import (
    AttemptDir,
    AttemptSpec,
    ExitRecord,
    ProcRecord,
    proc_start_ticks,
)
from aitc.control.executors.cgroup import Cgroup, Limits, confine
from aitc.control.executors.privilege import HelperRefused, Invoker, as_root, regain_root
from aitc.control.executors.terminal import Terminal
from aitc.domain.timesignal import TimeSignal

_stop_requested = False
_invoker: Invoker | None = None  # the server's user when started through sudo (privilege.py)


def _on_stop(signum: int, frame: object) -> None:
    global _stop_requested
    _stop_requested = True


def _on_wake(signum: int, frame: object) -> None:
    """SIGUSR2 from the executor: a signal for the job is asked for (``signal.json``) or its
    time limit changed (``limit.json``); the handler only wakes the wait loop (through the
    wakeup fd), which reads the requests."""


def _record(pid: int) -> ProcRecord:
    return ProcRecord(pid=pid, start_ticks=proc_start_ticks(pid) or 0, started_at=time.time())


def _open_log(spec: AttemptSpec, path: str) -> IO[bytes]:
    """Open one log file for appending, owned by the job's user; never through a link."""
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    if spec.uid is not None and (_invoker is not None or os.geteuid() == 0):
        with as_root(_invoker):
            os.fchown(fd, spec.uid, spec.gid if spec.gid is not None else -1)
    return os.fdopen(fd, "ab")


def _open_logs(spec: AttemptSpec) -> tuple[IO[bytes], IO[bytes]]:
    """The attempt's log files in the server's log directory. For a stream that goes to the
    job's own file, the supervisor's own log (``supervisor.log``) takes its place here: it gets
    the supervisor's notes, and the job's process opens the member's file itself (``_become``)."""
    out = _notes() if spec.own_stdout else _open_log(spec, spec.stdout_path)
    if spec.own_stderr:
        err = _notes()
    elif spec.stderr_path == spec.stdout_path:
        err = out
    else:
        err = _open_log(spec, spec.stderr_path)
    return out, err


def _notes() -> IO[bytes]:
    return os.fdopen(os.dup(sys.stderr.fileno()), "ab")


def _own_files(spec: AttemptSpec) -> list[tuple[int, str, str]]:
    """The job's own files: (the descriptor each takes, its path, what it is)."""
    own = [(1, spec.stdout_path, "output")] if spec.own_stdout else []
    if spec.own_stderr:
        own.append((2, spec.stderr_path, "error"))
    return own


def _open_own_file(spec: AttemptSpec, target: int, path: str, opened: dict[str, int]) -> None:
    """In the job's process, as the member: open the job's own file at ``path`` onto its
    descriptor ``target`` (once per path: stdout and stderr in one file share it). Never
    blocks: a FIFO with no reader fails."""
    fd = opened.get(path)
    if fd is None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOCTTY | os.O_NONBLOCK
        if spec.open_mode != "append":
            flags |= os.O_TRUNC
        fd = opened[path] = os.open(path, flags, 0o644)  # close-on-exec: only dup2's copy stays
        os.set_blocking(fd, True)
    os.dup2(fd, target)


def _become(
    spec: AttemptSpec, join: list[str], report_fd: int, tty: bool = False
) -> Callable[[], None]:
    """What the job's process does between fork and exec: join, drop privileges, enter workdir
    (with ``tty``, first take its pty as controlling terminal).

    A failure is written to ``report_fd`` and the process exits 126 without running the job.
    """
    invoker = _invoker  # as a helper, always switch: the saved root uid must go too
    switch = spec.uid is not None and (invoker is not None or os.geteuid() != spec.uid)
    places = [spec.workdir] if spec.workdir else [p for p in (spec.home, "/") if p]
    own = _own_files(spec)
    who = spec.user or str(os.getuid())

    def run() -> None:
        step = "join the attempt's cgroup"
        try:
            if tty:
                step = "take its terminal"
                Terminal.controlling(0)
                step = "join the attempt's cgroup"
            regain_root(invoker)
            for procs in join:
                with open(procs, "w") as f:
                    f.write("0")
            if switch:
                step = f"switch to user {spec.user}"
                os.setgroups(list(spec.groups))
                os.setgid(spec.gid)  # type: ignore[arg-type]
                os.setuid(spec.uid)  # type: ignore[arg-type]
            os.umask(0o022)
            for i, place in enumerate(places):
                step = f"start in working directory {place!r}"
                try:
                    os.chdir(place)
                    break
                except OSError:
                    if i == len(places) - 1:
                        raise
            opened: dict[str, int] = {}
            for target, path, what in own:
                step = f"open its {what} file {path!r} as {who}"
                _open_own_file(spec, target, path, opened)
        except OSError as exc:
            if exc.errno == errno.ENOENT and step.startswith("start in"):
                why = "it does not exist"
            elif exc.errno == errno.EACCES and step.startswith("start in"):
                why = f"user {spec.user or os.getuid()} may not enter it"
            elif exc.errno == errno.ENXIO and step.startswith("open its"):
                why = "it is a named pipe that no one reads"
            else:
                why = exc.strerror or str(exc)
            os.write(report_fd, f"cannot {step}: {why}".encode())
            os._exit(126)

    return run


def _spawn(
    spec: AttemptSpec,
    out: IO[bytes],
    err: IO[bytes],
    cg: Cgroup | None,
    terminal: Terminal | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the job; return it and, when it could not get as far as exec, why."""
    read_fd, write_fd = os.pipe()  # close-on-exec: the job never sees it
    stdio: tuple[int | IO[bytes], ...] = (
        subprocess.DEVNULL,
        subprocess.DEVNULL if spec.own_stdout else out,  # the job opens its own (``_become``)
        subprocess.DEVNULL if spec.own_stderr else err,
    )
    if terminal is not None:
        stdio = terminal.child_fds
    try:
        child = subprocess.Popen(
            list(spec.command),
            env=spec.env,
            stdin=stdio[0],
            stdout=stdio[1],
            stderr=stdio[2],
            start_new_session=True,
            close_fds=True,
            preexec_fn=_become(
                spec, cg.procs_files if cg else [], write_fd, tty=spec.terminal == "pty"
            ),
        )
    finally:
        os.close(write_fd)
    try:
        return child, os.read(read_fd, 4096).decode(errors="replace")
    finally:
        os.close(read_fd)


def _confine(spec: AttemptSpec, log: IO[bytes]) -> Cgroup | None:
    if not spec.cgroup:
        return None
    limits = Limits(spec.memory_bytes, spec.cpus, spec.pids, spec.gpu_minors)
    with as_root(_invoker):
        cg, warnings = confine(spec.cgroup, limits)
    for w in warnings:
        log.write(f"aitc: warning: {w}\n".encode())
    return cg


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError), as_root(_invoker):
        os.killpg(pgid, sig)


def _terminate(child: subprocess.Popen[bytes], grace_s: float) -> str:
    """SIGTERM to the job's process group, ``grace_s`` to end, then SIGKILL. Says what it took."""
    _killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=grace_s)
        return "SIGTERM"
    except subprocess.TimeoutExpired:
        _killpg(child.pid, signal.SIGKILL)
        child.wait()
        return f"SIGTERM, then SIGKILL after {grace_s:g} s"


def _wait(
    child: subprocess.Popen[bytes],
    spec: AttemptSpec,
    adir: AttemptDir,
    terminal: Terminal | None = None,
) -> tuple[str, float | None]:
    """Sleep until the job exits, the time limit passes or a stop is asked; return the status
    and the time limit in force then. Meanwhile relay an interactive job's ``terminal``."""
    started = time.monotonic()
    limit = spec.time_limit
    warning = None if spec.signal is None else TimeSignal.parse(spec.signal)
    warned = False  # the warning goes once, however often the limit moves
    sent = taken = 0  # the requests sent and the limits taken (written once the child runs)
    sel = selectors.DefaultSelector()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    sel.register(read_fd, selectors.EVENT_READ)
    pidfd = os.pidfd_open(child.pid) if hasattr(os, "pidfd_open") else None
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ)
    if terminal is not None:
        terminal.spawned(sel)
    while True:
        changed = adir.limit_request()
        if changed is not None and changed.seq > taken:
            limit, taken = changed.time_limit, changed.seq
        deadline = None if limit is None else started + limit
        warn_at = None
        if deadline is not None and warning is not None and not warned:
            warn_at = deadline - warning.before_s
        if child.poll() is not None:
            return "exited", limit
        if _stop_requested or adir.cancel_request() is not None:
            return "cancelled", limit
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout", limit
        if warn_at is not None and warning is not None and time.monotonic() >= warn_at:
            _warn(child, warning)
            warned, warn_at = True, None
        asked = adir.signal_request()
        if asked is not None and asked.seq > sent:
            _warn(child, TimeSignal.parse(asked.signal))  # (as scancel --signal: now)
            sent = asked.seq
        timeout = 0.5 if pidfd is None else None
        for due in (deadline, warn_at):
            if due is not None:
                timeout = max(0.0, min(timeout or 1e9, due - time.monotonic()))
        for key, events in sel.select(timeout):
            if key.fd == read_fd:
                os.read(read_fd, 512)
            elif isinstance(key.data, Terminal):
                key.data.handle(key, events)


def _warn(child: subprocess.Popen[bytes], warning: TimeSignal) -> None:
    """The signal the job asked for before its time limit: to its main process (``B:``) or
    to its whole process group (the job is a session leader: its pid is the group's id)."""
    if warning.main_only:
        with contextlib.suppress(ProcessLookupError, PermissionError), as_root(_invoker):
            os.kill(child.pid, warning.number)
    else:
        _killpg(child.pid, signal.Signals(warning.number))


def _exit_code(child: subprocess.Popen[bytes]) -> int:
    code = child.returncode
    return 128 - code if code < 0 else code


def _cause(
    status: str,
    child: subprocess.Popen[bytes],
    spec: AttemptSpec,
    adir: AttemptDir,
    how: str,
    cg: Cgroup | None,
) -> str:
    if cg is not None and child.returncode != 0 and cg.oom_killed():
        mb = (spec.memory_bytes or 0) // 2**20
        code = _exit_code(child)
        return (
            f"out of memory: the kernel killed a process of the job at its limit of {mb} MB "
            f"(exit code {code})"
        )
    if status == "timeout":
        return f"exceeded its time limit of {spec.time_limit:g} s; stopped with {how}"
    if status == "cancelled":
        request = adir.cancel_request()
        return f"{request.cause if request else 'stop requested'}; stopped with {how}"
    if child.returncode < 0:
        return f"killed by signal {signal.Signals(-child.returncode).name}"
    return "" if child.returncode == 0 else f"exited with code {child.returncode}"


def run(adir: AttemptDir) -> int:
    """Run the attempt in ``adir`` if this process wins its claim; return the supervisor's code."""
    global _invoker
    _invoker = Invoker.of_this_process()
    if _invoker is not None:  # started through sudo by a server that is not root
        try:
            _invoker.check_attempt_dir(adir.root)
        except (HelperRefused, OSError) as exc:
            print(f"aitc supervisor: refused: {exc}", file=sys.stderr)
            return 1
        _invoker.drop()
    if not adir.claim():
        return 0
    try:
        return _run_claimed(adir)
    except Exception as exc:  # the attempt must never end without a record
        if adir.exit() is None:
            cause = f"the supervisor failed: {type(exc).__name__}: {exc}"
            adir.write_exit(ExitRecord("lost", None, time.time(), cause))
        raise


def _run_claimed(adir: AttemptDir) -> int:
    spec = adir.spec()
    if spec is None:
        adir.write_exit(ExitRecord("lost", None, time.time(), "spec.json missing or unreadable"))
        return 1
    adir.write_proc("supervisor", _record(os.getpid()))
    if adir.exit() is not None:
        return 0  # judged already (lost before this record appeared): it must not run now
    if _invoker is not None:
        try:
            spec = _invoker.trusted(spec)
        except HelperRefused as exc:
            cause = f"the privileged helper refused to run it: {exc}"
            adir.write_exit(ExitRecord("exited", 126, time.time(), cause))
            return 0
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_stop)
    signal.signal(signal.SIGUSR2, _on_wake)
    early = adir.cancel_request()
    if early is not None:
        adir.write_exit(ExitRecord("cancelled", None, time.time(), early.cause))
        return 0
    out, err = _open_logs(spec)
    cg = _confine(spec, err)
    try:
        return _supervise(spec, adir, out, err, cg)
    finally:
        if cg is not None:
            with as_root(_invoker):
                cg.kill_all()  # setsid and double-forked daemons of the job go with it
                cg.remove()


def _supervise(
    spec: AttemptSpec, adir: AttemptDir, out: IO[bytes], err: IO[bytes], cg: Cgroup | None
) -> int:
    terminal = None
    try:
        if spec.terminal:
            owner = (spec.uid, spec.gid if spec.gid is not None else -1) if spec.uid else None
            with as_root(_invoker):
                terminal = Terminal(spec.terminal, adir.root, out, err, owner=owner)
            absent = terminal.wait_for_client(
                lambda: _stop_requested or adir.cancel_request() is not None
            )
            if absent:
                terminal.finish(0.0)
                _close_logs(out, err)
                adir.write_exit(ExitRecord("cancelled", None, time.time(), absent))
                return 0
        child, refused = _spawn(spec, out, err, cg, terminal)
        if refused:
            err.write(f"aitc: {refused}\n".encode())
    except OSError as exc:
        cause = _spawn_failure(spec, exc)
        err.write(f"aitc: {cause}\n".encode())
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        adir.write_exit(ExitRecord("exited", code, time.time(), cause))
        _close_logs(out, err)
        return 0
    finally:
        if terminal is None:
            _close_logs(out, err)
    if refused:
        child.wait()
        adir.write_exit(ExitRecord("exited", 126, time.time(), refused))
        return 0
    adir.write_proc("child", _record(child.pid))
    status, limit = _wait(child, spec, adir, terminal)
    how = _terminate(child, spec.grace_s) if status != "exited" else ""
    if terminal is not None:
        terminal.finish()  # what the job still wrote reaches the client and the logs
        _close_logs(out, err)
    _killpg(child.pid, signal.SIGKILL)  # leftovers of the job's process group go with it
    cause = _cause(status, child, replace(spec, time_limit=limit), adir, how, cg)
    adir.write_exit(ExitRecord(status, _exit_code(child), time.time(), cause))
    return 0


def _close_logs(out: IO[bytes], err: IO[bytes]) -> None:
    if not out.closed:
        out.close()
    if err is not out and not err.closed:
        err.close()


def _spawn_failure(spec: AttemptSpec, exc: OSError) -> str:
    """Why the job's program could not start, naming the working directory when it is at fault."""
    if spec.workdir and not os.path.isdir(spec.workdir):
        return f"cannot start in working directory {spec.workdir!r}: it does not exist"
    return f"cannot start {spec.command[0]!r}: {exc.strerror}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m aitc.control.executors.supervise ATTEMPT_DIR", file=sys.stderr)
        return 2
    return run(AttemptDir(Path(argv[1])))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
