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


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    email: str
    org: str
    role: Role
    projects: tuple[str, ...] = ()
