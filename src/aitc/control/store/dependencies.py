"""A submitted ``--dependency`` turned into its canonical form, and the rows it names.

A member writes jobs as Slurm users do: ``12`` (a job, or a whole array: the array's job
number), ``12_3`` (task 3 of array 12), ``12_*`` (array 12, whole) and ``12_[1-3,7]`` (those
tasks, each a job). ``resolve_dependency`` checks each against the jobs the caller may see and
returns the canonical form (``afterok:12&13&14,after:20+5``) that ``jobs.dependency`` keeps and
the engine reads (``aitc.domain.dependency``). ``aftercorr`` names, for each task of an array
being submitted, the task of the same number of the array it names (the whole array where it
has none, as Slurm), so each task gets its own form. Whether it holds is the engine's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, visible_jobs
from aitc.control.store.models import JobRow
from aitc.domain.dependency import Dependency, DependencyKind, job_number, parse_dependency
from aitc.domain.ids import JobId
from aitc.domain.job import JobState
from aitc.errors import ConfigError

# As many jobs as one array may have tasks: ``afterok:ARRAY`` names each of them.
MAX_DEPENDENCY_JOBS = 10_000
_TASKS = re.compile(r"(\d+)_\[([\d,\-]+)\]")


@dataclass(frozen=True, slots=True)
class NamedJob:
    """What the controller's books need of a job a dependency names: its state, member and
    name (``singleton``), and when it began (its last start, or its end if it never ran)."""

    id: int
    state: str
    member: str
    name: str
    begun: float | None


def resolve_dependency(
    *, session: Session, caller: Caller, text: str, tasks: Sequence[int] = ()
) -> tuple[str, ...]:
    """The canonical form of ``text``, one for each of the array ``tasks`` being submitted
    (one in all for a job that is not an array); ``ConfigError`` on ``dependency`` saying what
    is wrong."""
    resolver = _Resolver(session, caller)
    try:
        dep = parse_dependency(_expand_tasks(text), resolver)
    except ValueError as exc:
        raise ConfigError(str(exc), field="dependency") from None
    if len(dep.targets) > MAX_DEPENDENCY_JOBS:
        raise ConfigError(f"names more than {MAX_DEPENDENCY_JOBS} jobs", field="dependency")
    if not any(c.kind is DependencyKind.AFTER_CORR for c in dep.conditions):
        return (str(dep),) * max(1, len(tasks))
    return tuple(str(resolver.corresponding(dep, t)) for t in (tasks or (None,)))


def check_no_cycle(*, session: Session, job_id: int, dependency: str) -> None:
    """``ConfigError`` on ``dependency`` when ``job_id``, given ``dependency`` (canonical
    form), would wait for itself: directly, or through the pending jobs it names (a job
    being changed may close a circle no new submission can)."""
    seen: set[int] = set()
    todo = set(Dependency.parse(dependency).targets)
    while todo:
        if job_id in todo:
            raise ConfigError(
                f"job {job_id} would wait for itself (a circle of dependencies never holds)",
                field="dependency",
            )
        seen |= todo
        stmt = select(JobRow.dependency).where(
            JobRow.id.in_(sorted(todo)),
            JobRow.state == JobState.PENDING.value,
            JobRow.dependency.is_not(None),
        )
        named = {t for text in session.scalars(stmt) for t in Dependency.parse(text).targets}
        todo = named - seen


def _expand_tasks(text: str) -> str:
    """Slurm's task lists as separate references: ``12_[1-3]`` → ``12_1:12_2:12_3``."""

    def tasks(match: re.Match[str]) -> str:
        array, spec = match[1], match[2]
        numbers: list[int] = []
        for part in spec.split(","):
            first, dash, last = part.partition("-")
            if not first.isdigit() or (dash and not last.isdigit()):
                why = f"{match[0]!r} is not a task list like 12_[1-3,7]"
                raise ConfigError(why, field="dependency")
            lo, hi = int(first), int(last) if dash else int(first)
            if hi < lo or hi - lo >= MAX_DEPENDENCY_JOBS:
                raise ConfigError(f"{match[0]!r}: bad task range {part}", field="dependency")
            numbers.extend(range(lo, hi + 1))
        return ":".join(f"{array}_{n}" for n in dict.fromkeys(numbers))

    return _TASKS.sub(tasks, text)


class _Resolver:
    """Job references as the caller may see them, and the tasks of the arrays they name."""

    def __init__(self, session: Session, caller: Caller) -> None:
        self.session, self.caller = session, caller
        self.arrays: dict[JobId, dict[int, JobId]] = {}  # array's first job -> task -> job

    def __call__(self, kind: DependencyKind, ref: str) -> tuple[JobId, ...]:
        """The jobs ``ref`` names: ``N`` (job N, or every task of array N), ``N_T``, ``N_*``."""
        array_text, sep, task_text = ref.partition("_")
        number = job_number(array_text)
        where = [visible_jobs(self.caller)]
        if sep and task_text != "*":
            if not task_text.isdigit():
                raise ValueError(f"{ref!r} is not a job or array task (12, 12_3, 12_*)")
            where += [JobRow.array_job_id == number, JobRow.array_task_id == int(task_text)]
            found = _ids(self.session.scalars(select(JobRow.id).where(*where)))
        else:
            stmt = select(JobRow.id, JobRow.array_job_id).where(*where, JobRow.id == number)
            row = self.session.execute(stmt).first()
            found = () if row is None else (JobId(row.id),)
            if row is not None and row.array_job_id == number:  # an array: all its tasks
                found = self._tasks(JobId(number))
            elif sep and row is not None:
                raise ValueError(f"job {number} is not an array ({ref})")
        if not found:
            raise ValueError(f"no job {ref} (or not one you may see; see aitc queue)")
        return found

    def _tasks(self, array: JobId) -> tuple[JobId, ...]:
        stmt = select(JobRow.id, JobRow.array_task_id).where(
            visible_jobs(self.caller), JobRow.array_job_id == array
        )
        tasks = {int(t): JobId(i) for i, t in self.session.execute(stmt.order_by(JobRow.id))}
        self.arrays[array] = tasks
        return tuple(tasks.values())

    def corresponding(self, dep: Dependency, task: int | None) -> Dependency:
        """``dep`` for task ``task`` of the array being submitted: each ``aftercorr`` on a
        whole array names the task of the same number (the whole array where it has none, or
        for a job that is not an array, as Slurm)."""
        out = []
        for c in dep.conditions:
            tasks = self.arrays.get(c.jobs[0]) if c.kind is DependencyKind.AFTER_CORR else None
            whole = tasks is not None and c.jobs == tuple(tasks.values())
            if tasks is not None and whole and task is not None and task in tasks:
                c = replace(c, jobs=(tasks[task],))
            out.append(c)
        return Dependency(tuple(dict.fromkeys(out)), dep.any_of)


def _ids(values: Iterable[int]) -> tuple[JobId, ...]:
    return tuple(JobId(v) for v in values)


def named_jobs(session: Session, job_ids: Iterable[int]) -> list[NamedJob]:
    """The jobs named that exist, for the controller's books."""
    ids = sorted(set(job_ids))
    if not ids:
        return []
    stmt = select(
        JobRow.id, JobRow.state, JobRow.member_id, JobRow.name, JobRow.started_at, JobRow.ended_at
    )
    return [
        NamedJob(r.id, r.state, r.member_id, r.name, r.started_at or r.ended_at)
        for r in session.execute(stmt.where(JobRow.id.in_(ids)))
    ]
