"""The lab: what lab.yaml describes, as plain data (parsing lives in ``aitc.arch.labfile``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aitc.domain.cluster import Cluster
from aitc.domain.courselab import DEFAULT_LAB_RULES, LabRules
from aitc.domain.org import Limits, Member, Organisation, Role
from aitc.domain.targets import Costs, PlanSpec, Targets


@dataclass(frozen=True, slots=True)
class Certification:
    """A member certified to teach a course, until ``expires`` (a date, ``YYYY-MM-DD``; None:
    no end). Dates stay ISO strings here: the domain holds no clock."""

    member: str
    expires: str | None = None


@dataclass(frozen=True, slots=True)
class Course:
    """A workshop taught in sessions, each learner on one seat: a MIG slice of
    ``mig_profile``, or ``gpus_per_seat`` whole GPUs. ``seats`` is a session's default size;
    ``instructor`` is the lead instructor (certified without an end date), ``certified`` the
    other certified instructors; ``rules`` the limits of its learners' labs."""

    id: str
    name: str
    org: str
    instructor: str | None = None
    seats: int = 0
    mig_profile: str | None = None
    hours: float = 3.0
    description: str = ""
    gpus_per_seat: int = 1
    lab_command: tuple[str, ...] = ()
    assessment_command: tuple[str, ...] = ()
    criteria: str = ""
    certified: tuple[Certification, ...] = ()
    rules: LabRules = DEFAULT_LAB_RULES


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """A session of the lab's course calendar (lab.yaml ``calendar``): ``course`` taught from
    ``start`` (the lab's local time, ISO 8601 without an offset: the domain holds no clock)
    for ``hours``, on ``seats`` seats of the course's shape, taught by ``instructors``, with
    ``waitlist`` waitlist places (None: as many as seats) at ``location`` or ``remote``. A
    course and a start name one planned session."""

    course: str
    start: str
    seats: int
    hours: float
    instructors: tuple[str, ...] = ()
    waitlist: int | None = None
    location: str = ""
    remote: bool = False


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """The scheduling policy by registry name, with its parameters."""

    name: str = "fairshare"
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class OidcSignIn:
    """lab.yaml ``sign_in.oidc``: members sign in to the web pages through the institution's
    OpenID Connect provider (``issuer``) as the client ``client_id``, whose secret is read
    from a file or an environment variable, never from lab.yaml. The ID token's ``claim``
    names the member: it must equal a member's id (``matches: member``), Unix account
    (``unix_user``) or e-mail address (``email``, case-insensitive). ``redirect_uri`` is
    this server's callback as the provider knows it (None: the address the browser used)."""

    issuer: str
    client_id: str
    client_secret_file: str | None = None
    client_secret_env: str | None = None
    claim: str = "preferred_username"
    matches: str = "member"
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    redirect_uri: str | None = None
    label: str = "your institution"


@dataclass(frozen=True)
class Lab:
    name: str
    cluster: Cluster
    organisations: tuple[Organisation, ...]
    members: tuple[Member, ...] = ()
    courses: tuple[Course, ...] = ()
    calendar: tuple[PlannedSession, ...] = ()  # lab.yaml ``calendar``, by start
    policy: PolicySpec = field(default_factory=PolicySpec)
    # lab.yaml ``limits``: the defaults and the overrides per role; each member's effective
    # limits (``Member.limits``) already apply them, with the member's own entry on top.
    limits: Limits = Limits()
    role_limits: Mapping[Role, Limits] = field(default_factory=lambda: MappingProxyType({}))
    # lab.yaml ``targets``, ``costs`` and ``plan``: what ``aitc plan`` sizes the cluster for
    targets: Targets = Targets()
    costs: Costs | None = None
    plan: PlanSpec = PlanSpec()
    # lab.yaml ``sign_in.oidc``: the web pages' OpenID Connect sign-in (None: tokens only)
    oidc: OidcSignIn | None = None

    def org(self, org_id: str) -> Organisation:
        for o in self.organisations:
            if o.id == org_id:
                return o
        raise KeyError(org_id)
