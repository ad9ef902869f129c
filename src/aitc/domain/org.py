"""Organisations, their projects and members: who shares the cluster and with what weight."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrgKind(StrEnum):
    RESEARCH = "research"
    EDUCATION = "education"
    PARTNER = "partner"
    VENDOR = "vendor"


class Role(StrEnum):
    """What a member may do. Admins see everything; partners see only their organisation."""

    ADMIN = "admin"
    INSTRUCTOR = "instructor"
    MEMBER = "member"
    LEARNER = "learner"
    PARTNER = "partner"


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    org: str
    share: float = 1.0


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """How an organisation submits jobs, as the twin's ``lab`` generator draws them.

    ``gpu_mix`` holds ``(gpus, weight)`` pairs (a job asks for ``gpus`` GPUs with probability
    proportional to ``weight``); runtimes are log-normal with median ``median_runtime_s`` and
    shape ``runtime_sigma``; ``time_of_day`` holds 24 relative arrival weights (hours 0-23 of
    the day), ``None`` for a flat day.
    """

    jobs_per_day: float
    gpu_mix: tuple[tuple[int, float], ...]
    median_runtime_s: float
    runtime_sigma: float = 1.0
    time_of_day: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Organisation:
    """An organisation with its fair-share weight and optional guaranteed quota.

    ``quota`` is the number of GPUs guaranteed to it; ``borrow_limit`` how many more it may
    borrow from idle quota of others (``None``: unlimited).
    """

    id: str
    name: str
    kind: OrgKind
    share: float
    projects: tuple[Project, ...] = ()
    quota: int | None = None
    borrow_limit: int | None = None
    workload: WorkloadSpec | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What one member may ask of the cluster at once (lab.yaml ``limits``; ``None``: no limit).

    ``max_pending_jobs``: jobs waiting at one time; ``max_running_gpus``: GPUs held by running
    jobs at one time (a single job asking for more is refused at submission);
    ``submissions_per_minute``: jobs submitted in any 60 seconds.
    """

    max_pending_jobs: int | None = None
    max_running_gpus: int | None = None
    submissions_per_minute: int | None = None

    def to_json(self) -> dict[str, int] | None:
        """The limits that are set, or None when none is (the ``members.limits`` column)."""
        out = {k: v for k, v in self.items() if v is not None}
        return out or None

    def items(self) -> list[tuple[str, int | None]]:
        return [
            ("max_pending_jobs", self.max_pending_jobs),
            ("max_running_gpus", self.max_running_gpus),
            ("submissions_per_minute", self.submissions_per_minute),
        ]

    @classmethod
    def from_json(cls, data: dict[str, int] | None) -> Limits:
        known = {k for k, _ in cls().items()}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def over(self, other: Limits) -> Limits:
        """These limits, with each one ``other`` sets taking precedence."""
        return Limits(
            *(
                o if o is not None else s
                for (_, s), (_, o) in zip(self.items(), other.items(), strict=True)
            )
        )


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    email: str
    org: str
    role: Role
    projects: tuple[str, ...] = ()
    # The Unix account the member's jobs run as (default: the member id); uid/gid, when given,
    # must match what the account resolves to (getent), so a roster mistake is caught early.
    unix_user: str | None = None
    uid: int | None = None
    gid: int | None = None
    # Effective limits (lab.yaml ``limits``: defaults, then the member's role, then the entry).
    limits: Limits = Limits()

    @property
    def account(self) -> str:
        """The Unix user name this member's jobs run as."""
        return self.unix_user or self.id
