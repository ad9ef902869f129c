"""The lab.yaml schema: pydantic models that check each key's type and range.

These models only describe the file; ``aitc.arch.labfile`` reads YAML into them, runs the
checks that span several keys (ids that must exist, quotas against the cluster size) and turns
the result into the plain dataclasses of ``aitc.domain.lab``. Every model forbids unknown keys,
so a misspelt key is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from aitc.domain.courselab import DEFAULT_LAB_RULES, MAX_MINUTES, LabRules

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

OrgKindName = Literal["research", "education", "partner", "vendor"]
RoleName = Literal["admin", "instructor", "member", "learner", "partner"]
PolicyName = Literal["fifo", "backfill", "fairshare", "tiresias", "quota", "sjf"]


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid id (1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit)"
        )
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


Id = Annotated[str, AfterValidator(_check_id)]
Email = Annotated[str, AfterValidator(_check_email)]
Text = Annotated[str, Field(min_length=1)]
Weight = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]
# A POSIX portable user name, as useradd accepts by default: no leading '-', at most 32 chars.
UnixUser = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")]


class _Spec(BaseModel):
    """Strict, frozen, no unknown keys: the common ground of every lab.yaml section."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NodeSpec(_Spec):
    """One node of an explicit node list: its name, model and place in the topology."""

    name: Id
    model: Text
    leaf: Count
    su: Count
    rack: Count = 0


def _nodes_form(value: Any) -> str:
    return "list" if isinstance(value, list) else "count"


NodesField = Annotated[
    Annotated[int, Field(gt=0), Tag("count")] | Annotated[list[NodeSpec], Tag("list")],
    Discriminator(_nodes_form),
]


class ClusterSpec(_Spec):
    """The cluster, in exactly one of three forms: an RA and a size, a cluster file, or nodes."""

    reference_architecture: Text | None = None
    sus: Annotated[int, Field(gt=0)] | None = None
    nodes: NodesField | None = None
    file: Text | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ClusterSpec:
        if self.reference_architecture is not None:
            if self.file is not None:
                raise ValueError("give either reference_architecture or file, not both")
            if (self.sus is None) == (self.nodes is None) or isinstance(self.nodes, list):
                raise ValueError(
                    "with reference_architecture give exactly one size: sus or nodes (a count)"
                )
        elif self.file is not None:
            if self.sus is not None or self.nodes is not None:
                raise ValueError("a cluster file takes no sus or nodes")
        elif not isinstance(self.nodes, list) or self.sus is not None:
            raise ValueError(
                "give reference_architecture with sus or nodes, a file, or a list of nodes"
            )
        return self


def _check_mix(mix: dict[int, float]) -> dict[int, float]:
    if not any(w > 0 for w in mix.values()):
        raise ValueError("needs at least one job size with a weight > 0")
    return mix


def _check_day(day: list[float]) -> list[float]:
    if not any(w > 0 for w in day):
        raise ValueError("needs at least one hour with a weight > 0")
    return day


class WorkloadSpecModel(_Spec):
    """How an organisation submits jobs, for the twin's lab workload generator."""

    jobs_per_day: Weight
    gpu_mix: Annotated[
        dict[Annotated[int, Field(gt=0)], Annotated[float, Field(ge=0)]],
        Field(min_length=1),
        AfterValidator(_check_mix),
    ]
    median_runtime_s: Weight
    runtime_sigma: Annotated[float, Field(ge=0)] = 1.0
    time_of_day: (
        Annotated[
            list[Annotated[float, Field(ge=0)]],
            Field(min_length=24, max_length=24),
            AfterValidator(_check_day),
        ]
        | None
    ) = None


class ProjectSpec(_Spec):
    """A project of an organisation; ``share`` weighs it against its sibling projects."""

    id: Id
    name: Text
    share: Weight = 1.0


class OrganisationSpec(_Spec):
    """An organisation sharing the cluster, with its weight, optional quota and projects."""

    id: Id
    name: Text
    kind: OrgKindName
    share: Weight
    quota: Count | None = None
    borrow_limit: Count | None = None
    projects: list[ProjectSpec] = []
    workload: WorkloadSpecModel | None = None


class LimitsSpec(_Spec):
    """What one member may ask of the cluster at once; a missing key sets no limit."""

    max_pending_jobs: Count | None = None
    max_running_gpus: Count | None = None
    submissions_per_minute: Count | None = None


class LabLimitsSpec(LimitsSpec):
    """The ``limits`` section: defaults for every member, overridden per role (``roles``) and
    then per member entry (its own ``limits``)."""

    roles: dict[RoleName, LimitsSpec] = {}


class MemberSpec(_Spec):
    """A person: an inline entry of ``members`` or one row of the roster CSV."""

    id: Id
    name: Text
    email: Email
    organisation: Id
    role: RoleName
    projects: list[Id] = []
    unix_user: UnixUser | None = None
    uid: Count | None = None
    gid: Count | None = None
    limits: LimitsSpec | None = None


class CertificationSpec(_Spec):
    """An instructor certified to teach a course, until ``expires`` (a date; none: no end)."""

    member: Id
    expires: datetime.date | None = None


Minutes = Annotated[float, Field(ge=0, le=MAX_MINUTES)]


class CourseSpec(_Spec):
    """A workshop: its seat shape (a MIG slice or whole GPUs), lab, assessment, instructors,
    and the limits of its learners' labs (the defaults are ``DEFAULT_LAB_RULES``, as the API's;
    whether they work together is ``aitc.domain.courselab.check_rules``, in labchecks)."""

    id: Id
    name: Text
    org: Id
    instructor: Id | None = None
    seats: Count = 0
    mig_profile: Text | None = None
    gpus_per_seat: Annotated[int, Field(gt=0)] = 1
    hours: Annotated[float, Field(gt=0)] = 3.0
    description: str = ""
    lab_command: list[Text] = []
    assessment_command: list[Text] = []
    criteria: str = ""
    certified: list[CertificationSpec] = []
    no_show_min: Minutes = DEFAULT_LAB_RULES.no_show_min
    idle_limit_min: Minutes = DEFAULT_LAB_RULES.idle_limit_min
    idle_warning_min: Minutes = DEFAULT_LAB_RULES.idle_warning_min
    assessment_limit_min: Minutes = DEFAULT_LAB_RULES.assessment_limit_min

    def rules(self) -> LabRules:
        """The limits of the course's labs."""
        return LabRules(
            no_show_min=self.no_show_min,
            idle_limit_min=self.idle_limit_min,
            idle_warning_min=self.idle_warning_min,
            assessment_limit_min=self.assessment_limit_min,
        )

    def teachers(self) -> list[str]:
        """Who is certified to teach it in the lab: the lead instructor, then the others."""
        lead = [self.instructor] if self.instructor else []
        return lead + [c.member for c in self.certified]


def _parse_time(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a time (ISO 8601: 2027-03-01T09:00)") from None


def _check_local(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is not None:
        raise ValueError("write the lab's local time without a UTC offset (2027-03-01T09:00)")
    return value


LocalTime = Annotated[datetime.datetime, BeforeValidator(_parse_time), AfterValidator(_check_local)]


class CalendarSpec(_Spec):
    """Sessions of one course in the lab's calendar: one per start (the lab's local time),
    each ``hours`` long (default: the course's) with ``seats`` seats (default: the course's),
    taught by ``instructors`` (default: the course's lead instructor), with ``waitlist``
    places (default: as many as seats), at ``location`` or ``remote``."""

    course: Id
    starts: Annotated[list[LocalTime], Field(min_length=1)]
    seats: Annotated[int, Field(gt=0)] | None = None
    hours: Annotated[float, Field(gt=0, le=24)] | None = None
    instructors: Annotated[list[Id], Field(max_length=20)] = []
    waitlist: Annotated[int, Field(ge=0)] | None = None
    location: Annotated[str, Field(max_length=200)] = ""
    remote: bool = False


class PolicySpecModel(_Spec):
    """The scheduling policy by name; ``params`` are passed to it and checked by the engine."""

    name: PolicyName = "fairshare"
    params: dict[str, Any] = {}


Fraction = Annotated[float, Field(ge=0, le=1)]
Money = Annotated[float, Field(ge=0)]


class PartnerContractSpec(_Spec):
    """Jobs inside a partner's quota start within ``within_min`` minutes, ``share`` of them."""

    within_min: Annotated[float, Field(gt=0)] = 15.0
    share: Fraction = 0.95


class TargetsSpec(_Spec):
    """Service targets that ``aitc plan`` sizes the cluster for."""

    max_wait_min: dict[OrgKindName, Annotated[float, Field(ge=0)]] = {}
    wait_percentile: Annotated[float, Field(gt=0, le=100)] = 90.0
    workshop_seats: bool = False
    partner_contract: PartnerContractSpec | None = None
    min_utilisation: Fraction | None = None


class CostsSpec(_Spec):
    """Capex per node, switch and rack, years of write-off, energy price, rate card."""

    currency: Text = "EUR"
    node: Money = 0.0
    switch: Money = 0.0
    rack: Money = 0.0
    years: Weight = 5.0
    energy_per_kwh: Money = 0.0
    pue: Annotated[float, Field(ge=1)] = 1.0
    rate_card: dict[OrgKindName, Money] = {}


def _check_step(value: str | int) -> str | int:
    if isinstance(value, str) and value != "su":
        raise ValueError("must be 'su' or a number of nodes > 0")
    return value


class PlanSpecModel(_Spec):
    """Defaults of ``aitc plan``: policies, seeds, simulated days, size range and step."""

    policies: list[PolicyName] = []
    seeds: Annotated[int, Field(gt=0)] = 3
    days: Weight = 3.0
    min_nodes: Annotated[int, Field(gt=0)] | None = None
    max_nodes: Annotated[int, Field(gt=0)] | None = None
    step: Annotated[str | Annotated[int, Field(gt=0)], AfterValidator(_check_step)] = "su"


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _check_url(value: str) -> str:
    """An https URL without query or fragment; plain http only on this machine (tests)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{value!r} is not an https URL without query or fragment")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(f"{value!r} must use https (plain http only on 127.0.0.1 or localhost)")
    return value


def _check_scopes(scopes: list[str]) -> list[str]:
    if "openid" not in scopes:
        raise ValueError("must include 'openid'")
    return scopes


Url = Annotated[str, AfterValidator(_check_url)]


class OidcSpec(_Spec):
    """``sign_in.oidc``: the institution's OpenID Connect provider and this server's client
    there; the secret comes from a file or an environment variable (exactly one)."""

    issuer: Url
    client_id: Text
    client_secret_file: Text | None = None
    client_secret_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    claim: Text = "preferred_username"
    matches: Literal["member", "unix_user", "email"] = "member"
    scopes: Annotated[list[Text], AfterValidator(_check_scopes)] = ["openid", "profile", "email"]
    redirect_uri: Url | None = None
    label: Text = "your institution"

    @model_validator(mode="after")
    def _one_secret(self) -> OidcSpec:
        if (self.client_secret_file is None) == (self.client_secret_env is None):
            raise ValueError("give exactly one of client_secret_file or client_secret_env")
        return self


class SignInSpec(_Spec):
    """``sign_in``: how people sign in to the web pages besides API tokens."""

    oidc: OidcSpec | None = None


class LabSpec(_Spec):
    """The whole lab.yaml."""

    name: Text
    cluster: ClusterSpec
    organisations: Annotated[list[OrganisationSpec], Field(min_length=1)]
    members: list[MemberSpec] = []
    roster: Text | None = None
    courses: list[CourseSpec] = []
    calendar: list[CalendarSpec] = []
    policy: PolicySpecModel = PolicySpecModel()
    limits: LabLimitsSpec = LabLimitsSpec()
    targets: TargetsSpec = TargetsSpec()
    costs: CostsSpec | None = None
    plan: PlanSpecModel = PlanSpecModel()
    sign_in: SignInSpec = SignInSpec()
