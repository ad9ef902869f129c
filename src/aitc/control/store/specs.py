"""What a submission asks for (``JobSpec``), its checks, and conversions between rows and the
engine's types (``JobRequest``, ``Placement``), so that the API and the controller share them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aitc.control.batchscript import MAX_SCRIPT_BYTES
from aitc.domain.dependency import Dependency
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, MigSlot, NodeAlloc, Placement, Priority, RunningJob
from aitc.domain.mailtype import MailTypes
from aitc.domain.outputfiles import OPEN_MODES, check_pattern
from aitc.domain.timesignal import TimeSignal
from aitc.errors import ConfigError

MAX_COMMAND_BYTES = 64 * 1024
MAX_ENV_BYTES = 64 * 1024
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The shortest time limit: executors check limits about once a second, so a shorter one would
# be enforced late anyway (and a 1 ms limit is a typo for something else).
MIN_TIME_LIMIT_S = 1.0
# Job arrays: at most this many tasks in one submission, with indices up to MAX_ARRAY_INDEX.
MAX_ARRAY_TASKS = 10_000
MAX_ARRAY_INDEX = 1_000_000
MAX_BEGIN_AT = 253_402_300_800.0  # 10000-01-01T00:00:00Z
_ARRAY_ITEM = re.compile(r"(\d+)(?:-(\d+)(?::(\d+))?)?")
# An address aitc may put in a To: header: one mailbox, no display name, no header breaks.
MAIL_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
MAX_MAIL_ADDRESS = 254


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job as submitted. ``gpus=None`` means one GPU, or none when ``mig`` names a profile."""

    command: tuple[str, ...]
    project: str | None = None
    name: str = ""
    gpus: int | None = None
    mig: str | None = None
    nodes: int | None = None
    gpu_model: str | None = None
    time_limit: float | None = None
    priority: Priority = Priority.STANDARD
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str | None = None
    hold: bool = False
    array: str | None = None  # Slurm's syntax: "0-99%10", "1,3,5", "0-15:4"
    dependency: str | None = None  # Slurm's syntax: "afterok:12:13_2,singleton"
    begin_at: float | None = None  # the earliest start, epoch seconds (sbatch's --begin)
    terminal: str | None = None  # interactive (aitc run): "pty" or "pipes"; None: a batch job
    signal: str | None = None  # before the time limit (``TimeSignal``): "USR1@300", "B:USR1@60"
    # A batch script's text as submitted, run in place of ``script_path`` in ``command``
    # (``aitc.control.batchscript``); None: the command runs as it is.
    script: str | None = None
    script_path: str | None = None
    # The job's own output files (sbatch's --output/--error/--open-mode,
    # ``aitc.domain.outputfiles``): filename patterns the server expands at each attempt;
    # None: the server keeps the output. ``error`` None with an ``output``: stderr goes there too.
    output: str | None = None
    error: str | None = None
    open_mode: str | None = None  # "append" or "truncate"; None: truncate, append on a requeue
    # E-mail about the job (sbatch's --mail-type/--mail-user, ``aitc.domain.mailtype``): the
    # canonical types, and the address (the member's own unless an admin named another; the
    # API fills it in at submission).
    mail_type: str | None = None
    mail_user: str | None = None
    # A notebook (``aitc notebook``, ``aitc.control.notebooks``): the port its Jupyter server
    # listens on, which the server allocated, and the host of its URL ("": its node). Its
    # token is in ``env`` (``JUPYTER_TOKEN``, a secret).
    notebook_port: int | None = None
    notebook_host: str | None = None

    @property
    def gpu_count(self) -> int:
        if self.mig is not None:
            return 0
        return 1 if self.gpus is None else self.gpus

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON for the ``jobs.spec`` column (field by field: ``asdict`` would
        deep-copy, and this is on the submit path)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["command"] = list(self.command)
        out["env"] = dict(self.env)
        out["priority"] = str(self.priority)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSpec:
        values = dict(data)
        values["command"] = tuple(values.get("command", ()))
        values["priority"] = Priority(values.get("priority", Priority.STANDARD))
        values["env"] = dict(values.get("env") or {})
        return cls(**values)


def check_text(value: str, field_name: str) -> None:
    """Reject text a database or ``exec`` cannot carry: NUL bytes and unpaired surrogates."""
    if "\x00" in value:
        raise ConfigError("must not contain NUL characters", field=field_name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("must be valid UTF-8 text", field=field_name) from None


def check_begin(begin_at: float) -> None:
    """A begin time the store can keep: a finite time from 1970 to 9999 (one in the past
    is fine: the job may start at once)."""
    if not 0 <= begin_at < MAX_BEGIN_AT:
        raise ConfigError("must be a time from 1970 to 9999", field="begin_at")


def check_spec_shape(spec: JobSpec) -> None:
    """Checks that need no database: sizes, text, and GPU/MIG/node arithmetic."""
    if not spec.command:
        raise ConfigError("must name a program to run", field="command")
    for i, arg in enumerate(spec.command):
        check_text(arg, f"command[{i}]")
    if sum(len(a.encode()) + 1 for a in spec.command) > MAX_COMMAND_BYTES:
        raise ConfigError(f"is longer than {MAX_COMMAND_BYTES} bytes", field="command")
    check_text(spec.name, "name")
    if spec.workdir is not None:
        check_text(spec.workdir, "workdir")
        if not spec.workdir.startswith("/"):
            raise ConfigError("must be an absolute path", field="workdir")
    _check_env(spec.env)
    _check_gpus(spec)
    if spec.array is not None:
        array_tasks(spec.array)
    if spec.dependency is not None:
        check_text(spec.dependency, "dependency")
    if spec.begin_at is not None:
        check_begin(spec.begin_at)
    if spec.signal is not None:
        try:
            TimeSignal.parse(spec.signal)
        except ValueError as exc:
            raise ConfigError(str(exc), field="signal") from None
        if spec.time_limit is None:
            raise ConfigError("needs a time limit (--time) to count back from", field="signal")
    _check_script(spec)
    _check_output_files(spec)
    _check_mail(spec)


def _check_mail(spec: JobSpec) -> None:
    """Mail types aitc knows, and one plain address."""
    if spec.mail_type is not None:
        try:
            MailTypes.parse(spec.mail_type)
        except ValueError as exc:
            raise ConfigError(str(exc), field="mail_type") from None
    if spec.mail_user is not None:
        check_mail_address(spec.mail_user)


def check_mail_address(address: str) -> None:
    """One plain address (``name@example.org``): ``ConfigError`` on ``mail_user`` else."""
    if len(address) > MAX_MAIL_ADDRESS or not MAIL_ADDRESS.fullmatch(address):
        raise ConfigError(
            f"{address[:80]!r} is not an e-mail address like name@example.org", field="mail_user"
        )


def _check_output_files(spec: JobSpec) -> None:
    """The job's own output files: patterns aitc can expand, for a batch job."""
    for field_name in ("output", "error"):
        pattern = getattr(spec, field_name)
        if pattern is None:
            continue
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise ConfigError(str(exc), field=field_name) from None
        if spec.terminal is not None:
            raise ConfigError(
                "an interactive job's output goes to its terminal, not to a file",
                field=field_name,
            )
    if spec.open_mode is not None and spec.open_mode not in OPEN_MODES:
        raise ConfigError(f"must be one of {', '.join(OPEN_MODES)}", field="open_mode")


def _check_script(spec: JobSpec) -> None:
    """A batch script's text comes with the place it takes in the command, and fits in the
    one environment variable that carries it to the job (``batchscript``)."""
    if spec.script is None and spec.script_path is None:
        return
    if spec.script is None or spec.script_path is None:
        raise ConfigError("needs both its text and its path", field="script")
    check_text(spec.script, "script")
    if len(spec.script.encode()) > MAX_SCRIPT_BYTES:
        raise ConfigError(
            f"is longer than {MAX_SCRIPT_BYTES:,} bytes: keep it on shared storage and submit "
            "`aitc submit -- bash /path/to/job.sh`",
            field="script",
        )
    if spec.script_path not in spec.command[1:]:
        raise ConfigError(
            "its path must be in the command, after the interpreter", field="script_path"
        )


def array_tasks(text: str) -> tuple[tuple[int, ...], int | None]:
    """The task indices and the throttle of an array expression in Slurm's syntax:
    comma-separated indices (``1,3,5``), ranges (``0-99``) and stepped ranges (``0-15:4``),
    then optionally ``%N``, at most N tasks running at once. ``ConfigError`` on ``array``."""
    body, sep, throttle_text = text.strip().partition("%")
    throttle = None
    if sep:
        if not throttle_text.isdigit() or int(throttle_text) < 1:
            raise ConfigError(
                f"the throttle after % must be a whole number of at least 1 (got {text!r})",
                field="array",
            )
        throttle = int(throttle_text)
    indices: set[int] = set()
    for item in body.split(","):
        tasks = _array_item(item.strip(), text)
        if len(indices) + len(tasks) > MAX_ARRAY_TASKS:
            raise ConfigError(f"at most {MAX_ARRAY_TASKS} tasks per array", field="array")
        indices.update(tasks)
    return tuple(sorted(indices)), throttle


def _array_item(item: str, text: str) -> range:
    m = _ARRAY_ITEM.fullmatch(item)
    if m is None:
        raise ConfigError(
            f"{text!r} is not an array like 0-99, 1,3,5, 0-15:4 or 0-99%10", field="array"
        )
    first = int(m[1])
    last = int(m[2]) if m[2] is not None else first
    step = int(m[3]) if m[3] is not None else 1
    if last < first or step < 1:
        raise ConfigError(f"{item!r}: a range goes up, by a step of at least 1", field="array")
    if last > MAX_ARRAY_INDEX:
        raise ConfigError(f"task indices go up to {MAX_ARRAY_INDEX} (got {last})", field="array")
    return range(first, last + 1, step)


def _check_env(env: Mapping[str, str]) -> None:
    size = 0
    for key, value in env.items():
        if not ENV_NAME.fullmatch(key):
            raise ConfigError(f"{key!r} is not a valid variable name", field="env")
        check_text(value, f"env.{key}")
        size += len(key) + len(value.encode()) + 2
    if size > MAX_ENV_BYTES:
        raise ConfigError(f"is larger than {MAX_ENV_BYTES} bytes", field="env")


def _check_gpus(spec: JobSpec) -> None:
    if spec.mig is not None and spec.gpus not in (None, 0):
        raise ConfigError("give either gpus or a MIG profile, not both", field="gpus")
    if spec.mig is not None and spec.nodes not in (None, 1):
        raise ConfigError("a MIG job runs on one node", field="nodes")
    if spec.gpus is not None and spec.gpus < 0:
        raise ConfigError("must not be negative", field="gpus")
    if spec.mig is None and spec.gpu_count < 1:
        raise ConfigError("must be at least 1 (or ask for a MIG profile)", field="gpus")
    if spec.nodes is not None and spec.nodes < 1:
        raise ConfigError("must be at least 1", field="nodes")
    if spec.nodes and spec.gpu_count % spec.nodes:
        raise ConfigError(
            f"{spec.gpu_count} GPUs do not split evenly over {spec.nodes} nodes", field="gpus"
        )
    if spec.time_limit is not None and not spec.time_limit >= MIN_TIME_LIMIT_S:
        raise ConfigError(f"must be at least {MIN_TIME_LIMIT_S:g} s", field="time_limit")


def placement_to_json(placement: Placement) -> dict[str, Any]:
    """A placement as JSON for the ``jobs.placement`` column."""
    return {"allocs": [asdict(a) for a in placement.allocs]}


def placement_from_json(data: Mapping[str, Any]) -> Placement:
    allocs = []
    for a in data.get("allocs", ()):
        mig = MigSlot(**a["mig"]) if a.get("mig") else None
        allocs.append(NodeAlloc(node=a["node"], gpus=tuple(a.get("gpus", ())), mig=mig))
    return Placement(tuple(allocs))


def job_request(job: Any) -> JobRequest:
    """The engine's view of a job row (``aitc.control.store.models.JobRow``)."""
    return JobRequest(
        id=JobId(job.id),
        org=job.org_id,
        project=job.project_id,
        member=job.member_id,
        gpus=job.gpus,
        submit=job.submitted_at,
        nodes=job.nodes,
        mig=job.mig,
        gpu_model=job.gpu_model,
        time_limit=job.time_limit,
        priority=Priority(job.priority),
        name=job.name,
        dependency=_dependency(getattr(job, "dependency", None)),
        begin=getattr(job, "begin_at", None),
    )


def _dependency(text: str | None) -> Dependency | None:
    return Dependency.parse(text) if text else None


def running_job(job: Any) -> RunningJob:
    """A running job row as the engine's ``RunningJob`` (it must have a placement)."""
    if job.placement is None or job.started_at is None:
        raise ValueError(f"job {job.id} has no placement or start time")
    return RunningJob(job_request(job), placement_from_json(job.placement), job.started_at)
