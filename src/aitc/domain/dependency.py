"""Job dependencies as Slurm's ``--dependency``: start a job only after other jobs started or
ended.

A ``Dependency`` is a list of ``Condition`` values joined as Slurm joins them: with ``,`` every
condition must hold, with ``?`` any one is enough (``any_of``); one list uses one separator.
Each condition is about one job reference, as each of Slurm's is:

- ``after:ID[+MIN]``: the job started (or was cancelled before it started), and, with
  ``+MIN``, that many minutes have passed since;
- ``afterany:ID``: the job ended, however;
- ``afterok:ID``: the job completed (exit code 0);
- ``afternotok:ID``: the job ended otherwise (failed, cancelled, timed out);
- ``aftercorr:ID``: as ``afterok``, for the task of an array that corresponds to this task;
- ``singleton``: no other job of the same member and name runs, and none submitted earlier
  is still pending.

``kind:12:13`` is two conditions of one kind (so ``afterok:12:13?afterany:14`` is three
alternatives, as in Slurm). A reference to a whole array is one condition about all its tasks,
judged together as Slurm judges an array (``afterok``: every task completed; ``afternotok``:
every task ended and one did not complete; ``after``: every task started).

The stored and canonical form names jobs by number only: an array's tasks are joined by ``&``
(``afternotok:12&13&14?afterok:20``, ``after:7+5,singleton``); array tasks and arrays as a user
writes them (``12_3``, ``12``, ``12_*``, ``12_[1-3]``) become job numbers when the job is
submitted (``aitc.control.store.dependencies``). Whether a dependency holds is the engine's rule
(``aitc.engine.dependency_rule``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from aitc.domain.ids import JobId


class DependencyKind(StrEnum):
    AFTER = "after"
    AFTER_ANY = "afterany"
    AFTER_OK = "afterok"
    AFTER_NOT_OK = "afternotok"
    AFTER_CORR = "aftercorr"
    SINGLETON = "singleton"


KINDS = ", ".join(k.value for k in DependencyKind)
# Slurm's types that aitc does not take, with why (they need what aitc has not).
UNSUPPORTED = {
    "afterburstbuffer": "aitc has no burst buffers",
    "expand": "aitc does not grow a running job's allocation",
}
# The most minutes ``after:ID+MIN`` may wait (a year).
MAX_MINUTES = 525_600

# Resolves one job reference of a condition of ``kind`` into the jobs it names (one job, or
# an array's tasks, judged together); ``ValueError`` saying what is wrong.
ResolveRef = Callable[[DependencyKind, str], tuple[JobId, ...]]


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition: a kind, the jobs of one reference (none for ``singleton``; an array's
    tasks, judged together), and for ``after`` the minutes to wait after they started."""

    kind: DependencyKind
    jobs: tuple[JobId, ...] = ()
    minutes: int = 0

    @property
    def ref(self) -> str:
        """The reference as the canonical form writes it: ``12``, ``12&13&14``, ``12+5``."""
        text = "&".join(str(j) for j in self.jobs)
        return f"{text}+{self.minutes}" if self.minutes else text

    def __str__(self) -> str:
        return (
            str(self.kind) if self.kind is DependencyKind.SINGLETON else f"{self.kind}:{self.ref}"
        )


@dataclass(frozen=True, slots=True)
class Dependency:
    """Conditions that must all hold (``any_of`` false: Slurm's ``,``) or of which one must
    hold (``any_of`` true: Slurm's ``?``) before the job may be scheduled."""

    conditions: tuple[Condition, ...]
    any_of: bool = False

    def __str__(self) -> str:
        """The canonical form; with ``,``, consecutive conditions of one kind share their kind
        (``afterok:1:2``); with ``?``, each is written whole (``afterok:1?afterok:2``), so
        that one alone still reads as one of several."""
        if self.any_of:
            return "?".join(str(c) for c in self.conditions)
        out: list[str] = []
        last: DependencyKind | None = None
        for c in self.conditions:
            if c.kind is last and c.kind is not DependencyKind.SINGLETON:
                out[-1] += f":{c.ref}"
            else:
                out.append(str(c))
            last = c.kind
        return ",".join(out)

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
        return parse_dependency(text, canonical_ref)


def parse_dependency(text: str, resolve: ResolveRef) -> Dependency:
    """``text`` in Slurm's syntax, each job reference turned into jobs by ``resolve``;
    ``ValueError`` saying what is wrong. A list of bare job numbers (``12,13``) is Slurm's
    old form: ``afterany`` on each."""
    items, any_of = split_conditions(text)
    conditions: list[Condition] = []
    for item in items:
        if item.isdigit() or (":" not in item and item[:1].isdigit()):
            item = f"afterany:{item}"
        conditions.extend(parse_condition(item, resolve))
    return Dependency(tuple(dict.fromkeys(conditions)), any_of)


def split_conditions(text: str) -> tuple[list[str], bool]:
    """The conditions of ``text`` and whether any one is enough (``?``) rather than all
    (``,``); ``ValueError`` for an empty item or both separators in one list."""
    if "," in text and "?" in text:
        raise ValueError("use ',' (every condition must hold) or '?' (any one must hold), not both")
    any_of = "?" in text
    items = [i.strip() for i in text.split("?" if any_of else ",")]
    if not text.strip() or any(not i for i in items):
        raise ValueError(f"{text!r} is not a dependency like afterok:12[:13],singleton")
    return items, any_of


def parse_condition(item: str, resolve: ResolveRef) -> list[Condition]:
    """One ``kind[:ref...]``, a condition for each reference."""
    kind_text, *refs = item.split(":")
    kind = _kind(kind_text.strip().lower())
    if kind is DependencyKind.SINGLETON:
        if refs:
            raise ValueError("singleton names no job")
        return [Condition(kind)]
    if not refs or any(not r.strip() for r in refs):
        raise ValueError(f"{kind}: name at least one job ({kind}:12[:13...])")
    out = []
    for ref in refs:
        number, plus, minutes = ref.strip().partition("+")
        jobs = resolve(kind, number.strip())
        out.append(Condition(kind, jobs, _minutes(kind, minutes.strip()) if plus else 0))
    return out


def _kind(text: str) -> DependencyKind:
    try:
        return DependencyKind(text)
    except ValueError:
        pass
    if text in UNSUPPORTED:
        raise ValueError(f"{text!r} is not supported: {UNSUPPORTED[text]} (known: {KINDS})")
    raise ValueError(f"unknown dependency type {text!r} (known: {KINDS})")


def _minutes(kind: DependencyKind, text: str) -> int:
    """The ``+MIN`` of ``after:ID+MIN``: whole minutes, more than 0, for ``after`` only."""
    if kind is not DependencyKind.AFTER:
        raise ValueError(f"+minutes is for after only (after:12+5), not {kind}")
    if not text.isdigit() or not 1 <= int(text) <= MAX_MINUTES:
        raise ValueError(f"+{text}: minutes must be a whole number from 1 to {MAX_MINUTES}")
    return int(text)


def canonical_ref(kind: DependencyKind, ref: str) -> tuple[JobId, ...]:
    """The jobs of a canonical reference: ``12`` or an array's ``12&13&14``."""
    return tuple(dict.fromkeys(JobId(job_number(r)) for r in ref.split("&")))


def job_number(ref: str) -> int:
    """A job number as Slurm writes it; ``ValueError`` otherwise."""
    if not ref.isdigit() or not 1 <= int(ref) <= 2**31 - 1:
        raise ValueError(f"{ref!r} is not a job number")
    return int(ref)
