"""What the Slurm executor writes and submits for one attempt: the batch script, sbatch's
arguments, and the small files that survive a controller restart.

Each attempt (``name`` is the Slurm job name, ``aitc-<job>-<attempt>``) has two directories,
because the server and the job must not share one:

``<state_dir>/slurm/<name>/``, the server's own records (directory 0700, files 0600)::

    intent.json  written just before sbatch: only an attempt that has one can have been
                 submitted without a record, so only then ``start`` asks Slurm by job name;
                 it also names the Unix user the attempt runs as
    batch.sh     a copy of the script given to sbatch (on its stdin)
    record.json  the Slurm job id and when it was submitted (written right after sbatch)
    cancel.json  written by ``cancel()`` before it calls scancel
    lost.json    written when aitc stopped the attempt because a node went down or drained

``<jobs_dir>/<unix_user>/<name>/``, the job's own (directory 0700, owned by the member; their
``<jobs_dir>/<unix_user>/`` is 0700 and theirs too, so no other member can enter it)::

    exit.json    written by batch.sh, as the member, when the command ends: status
                 (exited/timeout) and exit code. The member can write anything there, so the
                 executor reads it defensively (``read_exit``): no symlinks, a regular file,
                 a few bytes, known fields only; anything else is ignored.
    stdout/stderr  the job's logs when the controller gives no paths

``exit.json`` is how an end is known when Slurm keeps no accounting: ``squeue`` forgets a job
``MinJobAge`` seconds after it ends. It works because ``jobs_dir`` is shared by the controller
and the nodes (one host in the test rig; a shared file system on a real cluster, which should
also run slurmdbd so that ``sacct`` has the final word).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from aitc.control.accounts import Account, may_execute
from aitc.control.executors.base import ExecJob
from aitc.domain.timesignal import TimeSignal
from aitc.errors import ExecutorError, SlurmError

SLURM_DIR = "slurm"
DONE_DIR = "slurm-done"
GRACE_S = 5
EXIT_JSON = "exit.json"
EXIT_STATUSES = ("exited", "timeout")
_MAX_EXIT_BYTES = 4096
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


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
    """The server's files of one attempt (0700 directory, 0600 files), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, data: object) -> None:
        self.write_text(name, json.dumps(data))

    def write_text(self, name: str, text: str) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.root / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.root / name)

    def read(self, name: str) -> dict[str, object] | None:
        try:
            data = json.loads((self.root / name).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
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


# -- the member's side ----------------------------------------------------------------------


def member_dir(root: Path, account: Account, *parts: str) -> Path:
    """``root/<account>/<parts...>``, each directory owned by ``account`` and 0700.

    ``root`` belongs to the server (created 0711: members pass through, nobody lists it). Below
    it everything belongs to the member, who may have put anything there (a symlink to
    ``/etc``, someone else's directory): each level is opened without following symlinks and
    changed through its file descriptor, and an existing directory must already be the
    member's (or the server's own, empty, left by an interrupted start).
    """
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o711)  # whatever the umask: members must pass through
    blocked = unreachable(root, account)
    if blocked is not None:
        raise ExecutorError(
            f"{account.name} cannot reach {root}: {blocked} (mode "
            f"{stat.S_IMODE(blocked.stat().st_mode):o}) does not let them pass. Slurm opens the "
            "logs and the job writes its exit record as the member, so every directory above "
            "the log directory and jobs_dir must have x for them (e.g. chmod 0711)"
        )
    fd = os.open(root, _DIR_FLAGS)
    try:
        for depth, part in enumerate((account.name, *parts)):
            if not part or part in (".", "..") or "/" in part:
                raise ExecutorError(f"{part!r} is not a directory name")
            created = True
            try:
                os.mkdir(part, 0o700, dir_fd=fd)
            except FileExistsError:
                created = False
            try:
                sub = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                raise ExecutorError(
                    f"{root.joinpath(account.name, *parts[:depth])}/{part} is not a directory "
                    f"aitc may use for {account.name}'s jobs ({e.strerror})"
                ) from None
            os.close(fd)
            fd = sub
            st = os.fstat(fd)
            # The first level sits in the server's root, where only the server creates entries;
            # below, a directory of the server's is one an interrupted start left (empty).
            trusted = created or depth == 0 or st.st_nlink == 2
            if st.st_uid != account.uid and not (st.st_uid == os.geteuid() and trusted):
                raise ExecutorError(
                    f"{root.joinpath(account.name, *parts[: depth + 1])} belongs to uid "
                    f"{st.st_uid}, not to {account.name} (uid {account.uid}); remove it"
                )
            if st.st_uid != account.uid or st.st_gid != account.gid:
                os.fchown(fd, account.uid, account.gid)
            if stat.S_IMODE(st.st_mode) != 0o700:
                os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return root.joinpath(account.name, *parts)


def unreachable(path: Path, account: Account) -> Path | None:
    """The first directory from ``/`` down to ``path`` that ``account`` may not pass through
    (no ``x`` for them), or None. Root and the server's own user pass everywhere they need."""
    if account.uid in (0, os.geteuid()):
        return None
    for directory in [*reversed(path.parents), path]:
        if not may_execute(directory.stat(), account):
            return directory
    return None


def read_exit(root: Path, account: str, name: str) -> Ended | None:
    """``root/<account>/<name>/exit.json`` as batch.sh writes it, or None.

    The file is the member's: no level below ``root`` is followed if it is a symlink, it must be
    a regular file of a few bytes, and it counts only with a known status and an exit code
    0-255. Garbage is ignored (the end then comes from Slurm).
    """
    fds: list[int] = []
    try:
        fds.append(os.open(root / account, _DIR_FLAGS))
        fds.append(os.open(name, _DIR_FLAGS, dir_fd=fds[-1]))
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fds.append(os.open(EXIT_JSON, flags, dir_fd=fds[-1]))
        st = os.fstat(fds[-1])
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_EXIT_BYTES:
            return None
        raw = os.read(fds[-1], _MAX_EXIT_BYTES + 1)
    except OSError:
        return None
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return parse_exit(raw)


def parse_exit(raw: bytes) -> Ended | None:
    """The fields of an exit.json, validated (None for anything batch.sh would not write)."""
    if len(raw) > _MAX_EXIT_BYTES:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    status, code = data.get("status"), data.get("exit_code")
    if status not in EXIT_STATUSES or type(code) is not int or not 0 <= code <= 255:
        return None
    return Ended(str(status), code)


# -- sbatch -----------------------------------------------------------------------------------


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


def output_args(job: ExecJob, stdout: str, stderr: str) -> list[str]:
    """sbatch's ``--output``/``--error`` for paths aitc has expanded already: each ``%``
    doubled, so that Slurm expands nothing more (its ``%j`` is not aitc's job number); stderr
    left to follow stdout when they are one file; ``--open-mode`` for the job's own files.
    Slurm expands nothing, and drops every backslash, in a name that holds one: such a name
    is refused rather than written elsewhere."""
    for path, own in ((stdout, job.own_stdout), (stderr, job.own_stderr)):
        if "\\" in path:
            what = "file" if own else "log directory"
            raise ExecutorError(
                f"job {job.job_id}: Slurm cannot write to {path!r}: it drops the backslash "
                f"from a {what} name; choose a name without one"
            )
    args = [f"--output={stdout.replace('%', '%%')}"]
    if stderr != stdout:
        args.append(f"--error={stderr.replace('%', '%%')}")
    if job.own_stdout or job.own_stderr:
        args.append(f"--open-mode={job.open_mode}")
    return args


def sbatch_args(
    job: ExecJob,
    *,
    name: str,
    stdout: str,
    stderr: str,
    partition: str | None,
    comment: str = "",
    workdir: str | None = None,
) -> list[str]:
    """sbatch's arguments: exactly the engine's nodes, the GPUs per node, the time limit.

    ``--export=ALL`` of the environment aitc builds for sbatch from nothing (``SLURM_CONF``, a
    standard ``PATH``): nothing of the server's environment reaches the job, and the node does
    not run the member's login scripts first (``--export=NONE`` implies ``--get-user-env``, about
    a second per job). The job's environment is set inside the batch script, which comes on
    sbatch's stdin.
    """
    nodes = job.placement.nodes
    args = [
        "sbatch",
        "--parsable",
        f"--job-name={name}",
        f"--nodes={len(nodes)}",
        f"--nodelist={','.join(nodes)}",
        "--ntasks-per-node=1",
        "--no-requeue",
        *output_args(job, stdout, stderr),
        "--export=ALL",
    ]
    gres = gres_per_node(job)
    if gres:
        args.append(f"--gres={gres}")
    if job.time_limit is not None:
        # Slurm counts whole minutes; batch.sh enforces the exact second, this is the backstop.
        args.append(f"--time={math.ceil((job.time_limit + GRACE_S) / 60) + 1}")
    workdir = job.workdir or workdir
    if workdir:
        args.append(f"--chdir={workdir}")
    if partition:
        args.append(f"--partition={partition}")
    if comment:
        args.append(f"--comment={comment}")
    return args


def exports(job_id: int, env: Mapping[str, str]) -> list[str]:
    """``export NAME=value`` lines for the job's environment (``ExecutorError`` on a bad name)."""
    bad = sorted(k for k in env if not _NAME.match(k))
    if bad:
        raise ExecutorError(
            f"job {job_id}: environment variable names {bad} are not valid "
            "(letters, digits and _, not starting with a digit)"
        )
    # sbatch's own (aitc's minimal) environment reaches the script: drop its C locale unless
    # the job sets one, so the job's LANG applies.
    reset = [] if "LC_ALL" in env else ["unset LC_ALL"]
    return reset + [f"export {k}={shlex.quote(v)}" for k, v in env.items()]


def _warner(job: ExecJob) -> tuple[list[str], list[str]]:
    """The lines that send the signal a job asked for before its time limit (``--signal``):
    a sleeper that signals the job's step (``scancel --signal``: every task's processes, as
    sbatch's ``--signal`` does; ``B:`` too, since the job's command is the step), and the
    line that stops the sleeper once the step has ended."""
    if job.signal is None or job.time_limit is None:
        return [], []
    warning = TimeSignal.parse(job.signal)
    delay = max(0, math.ceil(job.time_limit) - warning.before_s)
    return [
        "aitc_scancel=$(command -v scancel || echo scancel)",
        f'( sleep {delay} && "$aitc_scancel" --signal={warning.name} "$SLURM_JOB_ID" ) &',
        "aitc_warner=$!",
    ], ["kill $aitc_warner 2>/dev/null"]


def batch_script(job: ExecJob, *, name: str, exit_dir: Path, env: Mapping[str, str]) -> str:
    """The script sbatch runs: one ``srun`` task per node with the job's environment, then
    the end written to ``exit_dir/exit.json`` (as the job's user).

    The job's variables are exported in a subshell just before srun (so a job's ``PATH`` or
    ``LD_PRELOAD`` never changes the script's own commands), and ``SLURM_EXPORT_ENV=ALL`` lets
    srun hand them to every task.
    """
    srun = '"$aitc_srun" --ntasks-per-node=1 --kill-on-bad-exit=1 -- ' + shlex.join(job.command)
    timeout_check = []
    if job.time_limit is not None:
        limit = max(1, math.ceil(job.time_limit))
        srun = f'"$aitc_timeout" -s TERM -k {GRACE_S} {limit} {srun}'
        timeout_check = [
            "if { [ $rc -eq 124 ] || [ $rc -eq 137 ]; } && "
            f"[ $(( $(date +%s) - started )) -ge {limit} ]; then",
            "  status=timeout",
            "fi",
        ]
    warner, stop_warner = _warner(job)
    exit_json = shlex.quote(str(exit_dir / EXIT_JSON))
    record = 'printf \'{"status": "%s", "exit_code": %d}\\n\' "$status" "$rc"'
    return "\n".join(
        [
            "#!/bin/bash",
            f"# {name}: job {job.job_id} attempt {job.attempt}, from aitc's Slurm executor.",
            "# One task per node: each sees its own SLURMD_NODENAME and CUDA_VISIBLE_DEVICES.",
            "aitc_srun=$(command -v srun || echo srun)",
            "aitc_timeout=$(command -v timeout || echo timeout)",
            "readonly aitc_srun aitc_timeout",
            "started=$(date +%s)",
            *warner,
            "(",
            *(f"  {line}" for line in exports(job.job_id, env)),
            "  export SLURM_EXPORT_ENV=ALL",
            f"  exec {srun}",
            ")",
            "rc=$?",
            *stop_warner,
            "status=exited",
            *timeout_check,
            f"umask 077; {record} > {exit_json}.tmp && mv -f {exit_json}.tmp {exit_json}",
            "exit $rc",
            "",
        ]
    )
