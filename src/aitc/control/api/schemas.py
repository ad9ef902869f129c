"""Request and response bodies, named as in the FastAPI full-stack template
(``JobCreate`` in, ``JobPublic`` / ``JobsPublic`` out).

Times are ISO 8601 in UTC; durations (``time_limit``) are seconds. Bounds on every number and
string keep a request from reaching the database with a value it cannot store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from aitc.control.batchscript import MAX_SCRIPT_BYTES
from aitc.control.executors.jobenv import masked
from aitc.control.notebooks import NotebookRequest, notebook_url
from aitc.control.store.access import Caller
from aitc.control.store.models import JobEventRow, JobGpuUsageRow, JobRow, ReservationRow
from aitc.control.store.specs import MIN_TIME_LIMIT_S, JobSpec, placement_from_json
from aitc.control.store.update import JobChanges
from aitc.domain.job import JobState, Priority
from aitc.domain.org import Limits, OrgKind, Role
from aitc.domain.outputfiles import MAX_PATTERN_CHARS, check_pattern
from aitc.domain.reservation import Reservation
from aitc.domain.timesignal import TimeSignal, signal_now

MAX_ID = 2**31 - 1


def _clean(value: str) -> str:
    """Text a database and ``exec`` can carry: no NUL characters, no unpaired surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text") from None
    return value


Text = Annotated[str, AfterValidator(_clean)]


def _time_signal(value: str) -> str:
    """The canonical text of a ``TimeSignal`` (``ValueError`` naming what is wrong)."""
    return str(TimeSignal.parse(value))


# A filename pattern of sbatch's --output/--error (``aitc.domain.outputfiles``); the length
# is checked by ``check_pattern`` so that its error says so in words.
Pattern = Annotated[str, AfterValidator(check_pattern)]
_PATTERN_HELP = (
    "patterns: %j the job's number, %A the array's, %a the task's index, %x the job's name, "
    "%u the member's Unix account, %N the first node, %% a %. A relative path is taken from "
    "`workdir` (the member's home without one)."
)

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


def when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _epoch(moment: datetime | None) -> float | None:
    """Epoch seconds of a time the API was given (one without a UTC offset is UTC)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


_BEGIN_HELP = (
    "The earliest time the job may start (sbatch's --begin): ISO 8601 (a time without a UTC "
    "offset is UTC) or epoch seconds; until then it stays pending with the reason "
    "begin_time. A time in the past lets it start at once."
)


class ScriptCreate(BaseModel):
    """A batch script's text, and its path as it stands in the job's ``command``."""

    model_config = ConfigDict(extra="forbid")
    text: Text = Field(max_length=MAX_SCRIPT_BYTES, description="What the job runs.")
    path: Text = Field(min_length=1, max_length=4096, description="Its place in `command`.")


# The fields a job and a notebook are asked for with, written once.
ProjectField = Annotated[
    Text | None, Field(max_length=64, description="Project to charge; optional if you have one.")
]
# Numbers are strict: "4" is not a number, and a client that sends one has a bug to fix.
GpusField = Annotated[int | None, Field(ge=0, le=100_000, strict=True)]
MigField = Annotated[Text | None, Field(max_length=32, description="MIG profile, e.g. 1g.10gb.")]
TimeLimitField = Annotated[
    float | None,
    Field(
        ge=MIN_TIME_LIMIT_S,
        le=366 * 86400,
        strict=True,
        description=f"Seconds, at least {MIN_TIME_LIMIT_S:g}.",
    ),
]
WorkdirField = Annotated[Text | None, Field(max_length=4096)]


class JobCreate(BaseModel):
    """A job to submit. Give ``gpus`` (whole GPUs, default 1) or ``mig`` (one MIG slice)."""

    model_config = ConfigDict(extra="forbid")
    command: list[Text] = Field(
        min_length=1, max_length=4096, description="Program and arguments, run without a shell."
    )
    project: ProjectField = None
    name: Text = Field("", max_length=200)
    gpus: GpusField = None
    mig: MigField = None
    nodes: int | None = Field(None, ge=1, le=10_000, strict=True)
    gpu_model: Text | None = Field(None, max_length=64)
    time_limit: TimeLimitField = None
    priority: Priority = Priority.STANDARD
    env: dict[Text, Text] = Field(default_factory=dict, max_length=1024)
    workdir: WorkdirField = None
    hold: bool = Field(False, strict=True, description="Submit held: pending until released.")
    array: Text | None = Field(
        None,
        max_length=1000,
        description="A job array in Slurm's syntax (0-99, 1,3,5, 0-15:4, then %N to run at "
        "most N tasks at once): one job per task; the answer is the first task.",
    )
    dependency: Text | None = Field(
        None,
        max_length=10_000,
        description="Jobs to wait for, in Slurm's syntax: afterok:ID[:ID...], afternotok:..., "
        "afterany:..., singleton, comma-separated (all must hold); ID is a job, an array "
        "(all its tasks) or ARRAY_TASK.",
    )
    begin_at: datetime | None = Field(None, description=_BEGIN_HELP)
    terminal: Literal["pty", "pipes"] | None = Field(
        None,
        description="An interactive job (aitc run): its input and output are relayed through "
        "GET /jobs/{id}/terminal (a websocket), on a pseudo-terminal or on pipes.",
    )
    script: ScriptCreate | None = Field(
        None,
        description="A batch script as submitted (aitc submit job.sh): it runs in place of "
        "its path in `command`, whatever the file holds when the job starts.",
    )
    signal: Annotated[Text, AfterValidator(_time_signal)] | None = Field(
        None,
        max_length=40,
        description="A signal before the time limit, as Slurm's --signal: [B:]SIG[@SECONDS] "
        "(USR1@300: SIGUSR1 300 s before; B: to the main process only; 60 s if left out). "
        "Needs a time_limit.",
    )
    output: Pattern | None = Field(
        None,
        description="The job's own file for its standard output, as sbatch's --output, "
        "written as the member (none: the server keeps it, see GET /jobs/{id}/logs); "
        + _PATTERN_HELP,
        json_schema_extra={"maxLength": MAX_PATTERN_CHARS},
    )
    error: Pattern | None = Field(
        None,
        description="The same for its standard error, as sbatch's --error (none with an "
        "`output`: into the output's file).",
        json_schema_extra={"maxLength": MAX_PATTERN_CHARS},
    )
    open_mode: Literal["append", "truncate"] | None = Field(
        None,
        description="How an attempt opens `output` and `error`: truncate (the default for "
        "the first attempt) or append (the default for a requeued job's later attempts).",
    )
    mail_type: Text | None = Field(
        None,
        max_length=200,
        description="E-mail about the job, as sbatch's --mail-type: NONE, ALL (BEGIN,END,FAIL,"
        "REQUEUE) or a comma-separated list of BEGIN, END, FAIL, REQUEUE, TIME_LIMIT, "
        "TIME_LIMIT_90, TIME_LIMIT_80, TIME_LIMIT_50, ARRAY_TASKS (an array's tasks one by "
        "one; without it BEGIN, END and FAIL come once for the whole array).",
    )
    mail_user: Text | None = Field(
        None,
        max_length=254,
        description="Where the mail goes, as sbatch's --mail-user: your own address in the lab "
        "when left out; only an admin may name another.",
    )

    def to_spec(self) -> JobSpec:
        return JobSpec(
            command=tuple(self.command),
            project=self.project,
            name=self.name,
            gpus=self.gpus,
            mig=self.mig,
            nodes=self.nodes,
            gpu_model=self.gpu_model,
            time_limit=self.time_limit,
            priority=self.priority,
            env=dict(self.env),
            workdir=self.workdir,
            hold=self.hold,
            array=self.array,
            dependency=self.dependency,
            begin_at=_epoch(self.begin_at),
            terminal=self.terminal,
            signal=self.signal,
            script=None if self.script is None else self.script.text,
            script_path=None if self.script is None else self.script.path,
            output=self.output,
            error=self.error,
            open_mode=self.open_mode,
            mail_type=self.mail_type,
            mail_user=self.mail_user,
        )


class NotebookCreate(BaseModel):
    """A notebook to start: a Jupyter server as a job of yours. The server picks its command,
    port and token; you pick its GPUs (``gpus`` or ``mig``; default one GPU), time limit,
    project, name and working directory (default: your home)."""

    model_config = ConfigDict(extra="forbid")
    project: ProjectField = None
    name: Text = Field("", max_length=200, description="Default: notebook.")
    gpus: GpusField = None
    mig: MigField = None
    time_limit: TimeLimitField = None
    priority: Priority = Priority.STANDARD
    workdir: WorkdirField = None

    def to_request(self) -> NotebookRequest:
        return NotebookRequest(
            project=self.project, gpus=self.gpus, mig=self.mig, time_limit=self.time_limit,
            name=self.name, workdir=self.workdir, priority=self.priority,
        )  # fmt: skip


class ReasonPublic(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class AllocPublic(BaseModel):
    node: str
    gpus: list[int]
    mig: str | None = None


class JobPublic(BaseModel):
    id: int
    name: str
    organisation: str
    project: str
    member: str
    command: list[str]
    gpus: int
    mig: str | None
    nodes: int | None
    gpu_model: str | None
    time_limit: float | None
    time_limit_request: float | None = Field(
        default=None,
        description="a running job's new time limit (aitc update), asked and not yet taken by "
        "its executor; time_limit is the one enforced until then",
    )
    priority: Priority
    env: dict[str, str]
    workdir: str | None
    state: JobState
    placement: list[AllocPublic] | None
    submitted_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    attempt: int
    cause: str
    cancel_requested: bool
    pending_reasons: list[ReasonPublic]
    estimated_start: datetime | None
    held: bool = Field(False, description="Held: left out of scheduling until released.")
    array_job_id: int | None = Field(None, description="The array's id (its first task's).")
    array_task_id: int | None = None
    array_throttle: int | None = Field(None, description="At most this many tasks run at once.")
    dependency: str | None = Field(
        None, description="The jobs it waits for (canonical: job numbers only)."
    )
    begin_at: datetime | None = Field(
        None, description="The earliest time it may start (--begin); null: at once."
    )
    terminal: str | None = Field(None, description="pty or pipes: an interactive job.")
    signal: str | None = Field(None, description="Sent before the time limit ([B:]SIG@SECONDS).")
    script_path: str | None = Field(
        None, description="A batch script's path: the job runs the text submitted for it."
    )
    output: str | None = Field(None, description="The job's own output file (pattern).")
    error: str | None = Field(None, description="The job's own error file (pattern).")
    open_mode: str | None = Field(None, description="append or truncate, as asked.")
    mail_type: str | None = Field(
        None, description="The e-mail it sends (canonical, e.g. BEGIN,END); null: none."
    )
    mail_user: str | None = Field(
        None, description="Where its mail goes (shown to its member and admins only)."
    )
    notebook_port: int | None = Field(
        None, description="A notebook (POST /notebooks): the port its Jupyter server listens on."
    )
    notebook_url: str | None = Field(
        None,
        description="A running notebook's URL with its token (shown to its member and admins "
        "only); null until it is placed.",
    )

    @classmethod
    def of(cls, job: JobRow, viewer: Caller) -> JobPublic:
        """The job as ``viewer`` may see it: the values of secret variables in ``env``
        (``jobenv.secret_name``) only for the job's owner and admins, ``***`` for others."""
        spec = JobSpec.from_json(job.spec)
        own = viewer.is_admin or viewer.member_id == job.member_id
        env = spec.env if own else masked(spec.env)
        return cls(
            id=job.id,
            name=job.name,
            organisation=job.org_id,
            project=job.project_id,
            member=job.member_id,
            command=list(spec.command),
            gpus=job.gpus,
            mig=job.mig,
            nodes=job.nodes,
            gpu_model=job.gpu_model,
            time_limit=job.time_limit,
            time_limit_request=job.time_limit_request,
            priority=Priority(job.priority),
            env=dict(env),
            workdir=spec.workdir,
            state=JobState(job.state),
            placement=_placement(job.placement),
            submitted_at=when(job.submitted_at),
            started_at=when(job.started_at),
            ended_at=when(job.ended_at),
            exit_code=job.exit_code,
            attempt=job.attempt,
            cause=job.cause,
            cancel_requested=job.cancel_requested,
            pending_reasons=[ReasonPublic(**r) for r in job.pending_reasons or []],
            estimated_start=when(job.estimated_start),
            held=bool(job.held),
            array_job_id=job.array_job_id,
            array_task_id=job.array_task_id,
            array_throttle=job.array_throttle,
            dependency=job.dependency,
            begin_at=when(job.begin_at),
            terminal=spec.terminal,
            signal=spec.signal,
            script_path=spec.script_path,
            output=spec.output,
            error=spec.error,
            open_mode=spec.open_mode,
            mail_type=spec.mail_type,
            mail_user=spec.mail_user if own else None,
            notebook_port=spec.notebook_port,
            notebook_url=_notebook_url(job, spec) if own else None,
        )


def _notebook_url(job: JobRow, spec: JobSpec) -> str | None:
    if spec.notebook_port is None or job.state not in (JobState.STARTING, JobState.RUNNING):
        return None
    allocs = placement_from_json(job.placement).allocs if job.placement else ()
    return notebook_url(spec, allocs[0].node if allocs else None)


def _placement(data: dict[str, Any] | None) -> list[AllocPublic] | None:
    if data is None:
        return None
    allocs = placement_from_json(data).allocs
    return [
        AllocPublic(
            node=a.node,
            gpus=list(a.gpus),
            mig=f"{a.mig.gpu}:{a.mig.profile}:{a.mig.start}" if a.mig else None,
        )
        for a in allocs
    ]


class GpuUsagePublic(BaseModel):
    """What one attempt's GPUs did (``seff``'s figures): sampled through NVML while it ran, or
    read from Slurm's accounting once it ended; utilisation and power are null where the
    devices do not report them (MIG slices, Slurm)."""

    attempt: int
    samples: int
    devices: int
    util_mean_pct: float | None
    util_p95_pct: float | None
    idle_share: float | None = Field(description="Share of samples under 1 % utilisation.")
    memory_mean_mib: float
    memory_max_mib: float
    power_mean_w: float | None
    updated_at: datetime

    @classmethod
    def of(cls, row: JobGpuUsageRow) -> GpuUsagePublic:
        """The row's fields as they are (``updated_at``: epoch seconds, read as UTC)."""
        return cls.model_validate(row, from_attributes=True)


class GpuUsagesPublic(BaseModel):
    data: list[GpuUsagePublic]


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class JobEventPublic(BaseModel):
    at: datetime
    from_state: JobState | None
    to_state: JobState
    attempt: int
    cause: str

    @classmethod
    def of(cls, e: JobEventRow) -> JobEventPublic:
        return cls(
            at=when(e.at),
            from_state=JobState(e.from_state) if e.from_state else None,
            to_state=JobState(e.to_state),
            attempt=e.attempt,
            cause=e.cause,
        )


class JobEventsPublic(BaseModel):
    data: list[JobEventPublic]


class QueuePublic(BaseModel):
    running: list[JobPublic]
    pending: list[JobPublic]


class GpuPublic(BaseModel):
    node: str
    index: int
    model: str
    busy: bool
    job_id: int | None = Field(None, description="Only when you may see the job.")


class NodePublic(BaseModel):
    name: str
    gpus: int
    gpu_model: str
    state: str = Field(
        description="up, down, draining (drained, jobs still running) or drained (and empty)"
    )
    reason: str
    reason_by: str | None = Field(None, description="The admin who set it; null: the executor.")
    reason_at: datetime | None = None
    gpus_busy: int


class NodeUpdate(BaseModel):
    """An admin's state for a node, as ``scontrol update NodeName=X State=...``: ``drain``
    (running jobs finish, nothing new starts), ``down`` (running jobs are stopped and
    requeued too) or ``resume`` (back in service); a reason is required for drain and down."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["drain", "down", "resume"]
    reason: Text | None = Field(None, max_length=1000)


class NodesPublic(BaseModel):
    data: list[NodePublic]


class GpusPublic(BaseModel):
    data: list[GpuPublic]


class UsageRowPublic(BaseModel):
    key: str
    jobs: int
    gpu_seconds: float
    gpu_hours: float


class UsagePublic(BaseModel):
    by: str
    data: list[UsageRowPublic]


class ShareRowPublic(BaseModel):
    """One node of the fair-share tree: an organisation (``project`` and ``member`` null), a
    project (``member`` null) or a member."""

    organisation: str
    project: str | None
    member: str | None
    share: float = Field(description="lab.yaml's share (organisations, projects); members 1")
    norm_share: float = Field(description="the share as a fraction of its siblings'")
    usage_gpu_hours: float = Field(description="decayed GPU-hours (the ledger's half-life)")
    norm_usage: float = Field(description="the usage as a fraction of its siblings'")
    level: float | None = Field(
        description="level fair share, norm_share / norm_usage: above 1 under its share, "
        "below 1 over it; null: no usage yet (it ranks first among its siblings)"
    )
    rank: int | None = Field(
        description="a member's place in the Fair Tree walk (of SharesPublic.members)"
    )
    pending_jobs: int


class SharesPublic(BaseModel):
    """The fair-share tree now, each node before its children, siblings in rank order."""

    policy: str
    orders_queue: bool = Field(description="whether the lab's policy orders the queue by it")
    half_life_s: float
    members: int = Field(description="members in the walk: with usage or pending jobs")
    data: list[ShareRowPublic]


class OrganisationPublic(BaseModel):
    id: str
    name: str
    kind: OrgKind
    share: float
    quota: int | None
    borrow_limit: int | None
    enabled: bool


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Name
    name: Text = Field(min_length=1, max_length=200)
    kind: OrgKind
    share: float = Field(1.0, gt=0, le=1e6)
    quota: int | None = Field(None, ge=0, le=1_000_000)
    borrow_limit: int | None = Field(None, ge=0, le=1_000_000)


class OrganisationsPublic(BaseModel):
    data: list[OrganisationPublic]


class ProjectPublic(BaseModel):
    id: str
    name: str
    organisation: str
    share: float
    enabled: bool


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Name
    name: Text = Field(min_length=1, max_length=200)
    organisation: Name
    share: float = Field(1.0, gt=0, le=1e6)


class ProjectsPublic(BaseModel):
    data: list[ProjectPublic]


class LimitsPublic(BaseModel):
    """A member's limits (lab.yaml ``limits``); ``null``: no limit."""

    model_config = ConfigDict(extra="forbid")
    max_pending_jobs: int | None = Field(None, ge=0, le=10_000_000, strict=True)
    max_running_gpus: int | None = Field(None, ge=0, le=10_000_000, strict=True)
    submissions_per_minute: int | None = Field(None, ge=0, le=10_000_000, strict=True)

    def to_domain(self) -> Limits:
        return Limits(self.max_pending_jobs, self.max_running_gpus, self.submissions_per_minute)

    @classmethod
    def of(cls, limits: dict[str, int] | None) -> LimitsPublic:
        return cls(**dict(Limits.from_json(limits).items()))


class MemberPublic(BaseModel):
    id: str
    name: str
    email: str
    organisation: str | None
    role: Role
    enabled: bool
    projects: list[str]
    limits: LimitsPublic = Field(default_factory=LimitsPublic)


class JobsCancel(BaseModel):
    """Which jobs to cancel in one request, as ``scancel -u MEMBER -t STATE -A PROJECT -n
    NAME``: the member's pending and running jobs, narrowed by the other fields."""

    model_config = ConfigDict(extra="forbid")
    member: Text = Field(
        min_length=1, max_length=64, description="Whose jobs (required: never everyone's)."
    )
    states: list[Literal["pending", "running"]] = Field(
        default_factory=list, max_length=2, description="Only these (default: both)."
    )
    project: Text | None = Field(None, max_length=64, description="Only this project's.")
    name: Text | None = Field(None, max_length=200, description="Only jobs of this name.")


class JobSignal(BaseModel):
    """A signal to send a running job now, as ``scancel --signal``."""

    model_config = ConfigDict(extra="forbid")
    signal: Annotated[Text, AfterValidator(signal_now)] = Field(
        max_length=16,
        description="[B:]SIG: USR1, SIGUSR2, 10, ...; B: to its main process only.",
    )


class JobUpdate(BaseModel):
    """What to change of a pending job (``scontrol update``); fields left out stay as they
    are. Each passes the checks of a submission."""

    model_config = ConfigDict(extra="forbid")
    time_limit: float | None = Field(
        None, ge=MIN_TIME_LIMIT_S, le=366 * 86400, strict=True, description="Seconds."
    )
    name: Text | None = Field(None, min_length=1, max_length=200)
    gpus: int | None = Field(None, ge=0, le=100_000, strict=True)
    nodes: int | None = Field(None, ge=1, le=10_000, strict=True)
    gpu_model: Text | None = Field(
        None, max_length=64, description='A GPU model; "" lets the job run on any.'
    )
    dependency: Text | None = Field(
        None,
        max_length=10_000,
        description='Jobs to wait for, as at submission; "" removes the dependency.',
    )
    project: Text | None = Field(None, max_length=64)
    begin_at: datetime | None = Field(
        None,
        description="A new begin time (scontrol's StartTime), as at submission; a time in "
        "the past (now) lets the job start at once.",
    )
    array_throttle: int | None = Field(
        None,
        ge=0,
        le=100_000,
        strict=True,
        description="At most this many tasks of the job's array run at once (0: no limit).",
    )

    def to_changes(self) -> JobChanges:
        return JobChanges(**{**self.model_dump(), "begin_at": _epoch(self.begin_at)})


class MemberDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stop_running: bool = Field(
        False, strict=True, description="Also stop their running jobs (default: they run on)."
    )


class MemberDisabled(BaseModel):
    id: str
    enabled: bool
    pending_held: int = Field(description="Pending jobs held while the member is disabled.")
    running_stopped: int = Field(description="Running jobs asked to stop.")


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Name
    name: Text = Field(min_length=1, max_length=200)
    email: Text = Field("", max_length=320)
    organisation: Name
    role: Role = Role.MEMBER
    projects: list[Name] = Field(default_factory=list, max_length=1000)
    limits: LimitsPublic = Field(default_factory=LimitsPublic)


class MembersPublic(BaseModel):
    data: list[MemberPublic]


class MePublic(BaseModel):
    id: str
    role: Role
    organisation: str | None
    projects: list[str]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: Name
    name: Text = Field("", max_length=100)
    expires_in: float | None = Field(
        None,
        gt=0,
        le=10 * 366 * 86400,
        strict=True,
        description="Seconds until the token expires (default: the server's, 90 days).",
    )


class TokenPublic(BaseModel):
    id: int
    member: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None = Field(
        None, description="Written at most once a minute per token."
    )


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; only its hash is stored.")


class TokensPublic(BaseModel):
    data: list[TokenPublic]


class Health(BaseModel):
    status: str
    database: str


class ReservationCreate(BaseModel):
    """A reservation: ``gpus`` whole GPUs (on ``nodes`` when given, else on whole nodes the
    engine chooses), or ``mig_seats`` slices of ``mig_profile``, for ``org`` from ``start``
    to ``end``. Without ``id`` the server draws one (``res-…``)."""

    model_config = ConfigDict(extra="forbid")
    id: Name | None = None
    org: Name
    name: Text = Field("", max_length=200)
    start: datetime
    end: datetime
    gpus: int = Field(0, ge=0, le=100_000, strict=True)
    nodes: list[Name] = Field(default_factory=list, max_length=1000)
    mig_profile: Text | None = Field(None, max_length=32)
    mig_seats: int = Field(0, ge=0, le=100_000, strict=True)

    def to_domain(self) -> Reservation:
        """The reservation asked for (an empty id: the store draws one; a time without a UTC
        offset is UTC)."""
        start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (self.start, self.end))
        return Reservation(
            id=self.id or "", org=self.org, start=start.timestamp(),
            end=end.timestamp(), gpus=self.gpus, nodes=tuple(self.nodes),
            mig_profile=self.mig_profile, mig_seats=self.mig_seats, name=self.name,
        )  # fmt: skip


class ReservationPublic(BaseModel):
    id: str
    org: str
    name: str
    start: datetime
    end: datetime
    gpus: int
    nodes: list[str]
    mig_profile: str | None
    mig_seats: int
    course_session: int | None = Field(
        None, description="The course session whose seats it holds (deleted with it only)."
    )

    @classmethod
    def of(cls, r: ReservationRow, course_session: int | None) -> ReservationPublic:
        return cls(
            id=r.id, org=r.org_id, name=r.name, start=_at(r.start_at), end=_at(r.end_at),
            gpus=r.gpus, nodes=list(r.nodes or ()), mig_profile=r.mig_profile,
            mig_seats=r.mig_seats, course_session=course_session,
        )  # fmt: skip


class ReservationsPublic(BaseModel):
    data: list[ReservationPublic]
    count: int
