"""Job dependencies as Slurm's ``--dependency``: start a job only after other jobs ended.

A ``Dependency`` is a list of ``Condition`` values that must all hold (Slurm's comma):

- ``afterok:ID[:ID...]``: every named job completed (exit code 0);
- ``afternotok:ID[:ID...]``: every named job ended otherwise (failed, cancelled, timed out);
- ``afterany:ID[:ID...]``: every named job ended, however;
- ``singleton``: no other job of the same member with the same name is running, and none
  submitted earlier is still pending.

The stored and canonical form names jobs by number only (``afterok:12:13,singleton``); array
tasks and arrays (``12_3``, ``12``) are turned into job numbers by the control plane when a job
is submitted. Whether a dependency holds is the engine's rule (``aitc.engine.dependencies``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from aitc.domain.ids import JobId

ResolveRef = Callable[[str], tuple[JobId, ...]]


class DependencyKind(StrEnum):
    AFTER_OK = "afterok"
    AFTER_NOT_OK = "afternotok"
    AFTER_ANY = "afterany"
    SINGLETON = "singleton"


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition: a kind and the jobs it names (none for ``singleton``)."""

    kind: DependencyKind
    jobs: tuple[JobId, ...] = ()

    def __str__(self) -> str:
        return ":".join([str(self.kind), *(str(j) for j in self.jobs)])


@dataclass(frozen=True, slots=True)
class Dependency:
    """Conditions that must all hold before the job may be scheduled."""

    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return ",".join(str(c) for c in self.conditions)

    @property
    def targets(self) -> tuple[JobId, ...]:
        """Every job named, once, in order of appearance."""
        return tuple(dict.fromkeys(j for c in self.conditions for j in c.jobs))

    @property
    def singleton(self) -> bool:
        return any(c.kind is DependencyKind.SINGLETON for c in self.conditions)

    @classmethod
    def parse(cls, text: str) -> Dependency:
        """The canonical form (job numbers only); ``ValueError`` saying what is wrong."""
        items = split_conditions(text)
        return cls(tuple(parse_condition(i, lambda ref: (JobId(job_number(ref)),)) for i in items))


KINDS = ", ".join(k.value for k in DependencyKind)


def split_conditions(text: str) -> list[str]:
    """The comma-separated conditions of ``text``; ``ValueError`` for what aitc does not take."""
    if "?" in text:
        raise ValueError("'?' (any of) is not supported: every condition must hold (use ',')")
    items = [i.strip() for i in text.split(",")]
    if not text.strip() or any(not i for i in items):
        raise ValueError(f"{text!r} is not a dependency like afterok:12[:13],singleton")
    return items


def parse_condition(item: str, resolve: ResolveRef) -> Condition:
    """One ``kind[:ref...]``; ``resolve`` turns each job reference into job numbers."""
    kind_text, *refs = item.split(":")
    try:
        kind = DependencyKind(kind_text.strip().lower())
    except ValueError:
        raise ValueError(f"unknown dependency type {kind_text!r} (known: {KINDS})") from None
    if kind is DependencyKind.SINGLETON:
        if refs:
            raise ValueError("singleton names no job")
        return Condition(kind)
    if not refs or any(not r.strip() for r in refs):
        raise ValueError(f"{kind}: name at least one job ({kind}:12[:13...])")
    jobs = tuple(dict.fromkeys(j for ref in refs for j in resolve(ref.strip())))
    return Condition(kind, jobs)


def job_number(ref: str) -> int:
    """A job number as Slurm writes it; ``ValueError`` otherwise."""
    if not ref.isdigit() or not 1 <= int(ref) <= 2**31 - 1:
        raise ValueError(f"{ref!r} is not a job number")
    return int(ref)
