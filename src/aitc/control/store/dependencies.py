"""A submitted ``--dependency`` turned into its canonical form, and the rows it names.

A member writes jobs as Slurm users do: ``12`` (a job, or every task of array 12) and
``12_3`` (task 3 of array 12). ``resolve_dependency`` checks each against the jobs the caller
may see and returns the canonical form (``afterok:12:13:14``) that ``jobs.dependency`` keeps and
the engine reads (``aitc.domain.dependency``). Whether it holds is the engine's business.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.access import Caller, visible_jobs
from aitc.control.store.models import JobRow
from aitc.domain.dependency import Dependency, job_number, parse_condition, split_conditions
from aitc.domain.ids import JobId
from aitc.errors import ConfigError

# As many jobs as one array may have tasks: ``afterok:ARRAY`` names each of them.
MAX_DEPENDENCY_JOBS = 10_000


def resolve_dependency(*, session: Session, caller: Caller, text: str) -> str:
    """The canonical form of ``text``; ``ConfigError`` on ``dependency`` saying what is wrong."""
    try:
        items = split_conditions(text)
        dep = Dependency(
            tuple(parse_condition(i, lambda ref: _jobs(session, caller, ref)) for i in items)
        )
    except ValueError as exc:
        raise ConfigError(str(exc), field="dependency") from None
    if len(dep.targets) > MAX_DEPENDENCY_JOBS:
        raise ConfigError(f"names more than {MAX_DEPENDENCY_JOBS} jobs", field="dependency")
    return str(dep)


def _jobs(session: Session, caller: Caller, ref: str) -> tuple[JobId, ...]:
    """The jobs ``ref`` names: ``N`` (job N, or every task of array N) or ``N_T``."""
    array_text, sep, task_text = ref.partition("_")
    number = job_number(array_text)
    where = [visible_jobs(caller)]
    if sep:
        if not task_text.isdigit():
            raise ValueError(f"{ref!r} is not a job or array task (12, 12_3)")
        where += [JobRow.array_job_id == number, JobRow.array_task_id == int(task_text)]
        found = _ids(session.scalars(select(JobRow.id).where(*where)))
    else:
        stmt = select(JobRow.id, JobRow.array_job_id).where(*where, JobRow.id == number)
        row = session.execute(stmt).first()
        found = () if row is None else (JobId(row.id),)
        if row is not None and row.array_job_id == number:  # an array: all its tasks
            tasks = select(JobRow.id).where(*where, JobRow.array_job_id == number)
            found = _ids(session.scalars(tasks.order_by(JobRow.id)))
    if not found:
        raise ValueError(f"no job {ref} (or not one you may see; see aitc queue)")
    return found


def _ids(values: Iterable[int]) -> tuple[JobId, ...]:
    return tuple(JobId(v) for v in values)


def named_jobs(session: Session, job_ids: Iterable[int]) -> list[tuple[int, str, str, str]]:
    """(id, state, member, name) of the jobs named that exist, for the controller's books."""
    ids = sorted(set(job_ids))
    if not ids:
        return []
    stmt = select(JobRow.id, JobRow.state, JobRow.member_id, JobRow.name)
    return [tuple(r) for r in session.execute(stmt.where(JobRow.id.in_(ids)))]  # type: ignore[misc]
