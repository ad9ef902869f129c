"""E-mail about jobs in the store: who may be mailed, and the outbox the mailer empties.

- At submission (``resolve_mail``) the job's address is settled: the member's own from the
  lab when none is given; another one only for an admin, so that nobody can make the server
  mail an address that never asked for it. The spec keeps the canonical types and the address.
- ``queue_job_mail`` runs inside ``transition``, in the transaction that changes the job, so a
  mail is queued exactly when the change commits (an outbox). The mailer's pass queues the
  warnings before the time limit (``queue_time_limit_mail``), sends what is ``due`` and records
  the outcome (``mail_sent``, ``mail_retry``, ``mail_failed``, ``mail_dropped``).
- ``(job_id, attempt, kind)`` is unique and inserted with ``ON CONFLICT DO NOTHING``: asked
  twice, a mail is queued once, and the controller's transaction never fails over it. An
  array without ``ARRAY_TASKS`` mails ``BEGIN`` when its first task starts and ``END``/``FAIL``
  when its last task ends, under its first task's id and attempt 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aitc.control.mailtext import MailText, array_mail, job_mail
from aitc.control.store.access import Caller
from aitc.control.store.models import JobEventRow, JobRow, MailOutboxRow, MemberRow
from aitc.control.store.specs import JobSpec
from aitc.domain.job import JobState
from aitc.domain.mailtype import MailTypes
from aitc.errors import ConfigError

QUEUED, SENT, FAILED, DROPPED = "queued", "sent", "failed", "dropped"
_FAILS = (JobState.FAILED, JobState.TIMEOUT)
_STARTS = (JobState.STARTING, JobState.RUNNING)
_LIVE = ("pending", "starting", "running")


@dataclass(frozen=True, slots=True)
class OutboxMail:
    """A queued mail as the mailer sends it (read out of the transaction)."""

    id: int
    job_id: int
    kind: str
    to_address: str
    subject: str
    body: str
    tries: int
    created_at: float


def resolve_mail(*, session: Session, caller: Caller, spec: JobSpec) -> JobSpec:
    """``spec`` with its canonical mail types and its address settled (see the module
    docstring); ``ConfigError`` on ``mail_user`` for an address the caller may not use."""
    types = MailTypes.parse(spec.mail_type) if spec.mail_type is not None else MailTypes()
    if not types and spec.mail_user is None:
        return replace(spec, mail_type=None) if spec.mail_type is not None else spec
    own = session.scalar(select(MemberRow.email).where(MemberRow.id == caller.member_id)) or ""
    address = spec.mail_user or own
    if not address:
        raise ConfigError(
            "you have no e-mail address in the lab: ask an admin to add one (lab.yaml "
            "members: email)",
            field="mail_user",
        )
    if address.lower() != own.lower() and not caller.is_admin:
        raise ConfigError(
            f"jobs mail their member's own address ({own or 'none in the lab'}); "
            "only an admin may name another",
            field="mail_user",
        )
    return replace(spec, mail_type=str(types) if types else None, mail_user=address)


def queue_job_mail(session: Session, job: JobRow, frm: JobState, to: JobState, now: float) -> None:
    """Queue the mails that ``job``'s change from ``frm`` to ``to`` asks for (its spec's
    ``mail_type``); nothing for a job that asks for none. Inside the caller's transaction."""
    spec = job.spec or {}
    if not spec.get("mail_type") or not spec.get("mail_user"):
        return
    types = MailTypes.parse(spec["mail_type"])
    summary = job.array_job_id is not None and "ARRAY_TASKS" not in types
    for kind in _kinds(types, frm, to):
        if summary and kind in ("BEGIN", "END", "FAIL"):
            continue
        _insert(
            session, job.id, job.attempt, kind, spec["mail_user"], job_mail(job, kind, now), now
        )
    if summary:
        _queue_array_mail(session, job, types, frm, to, now)


def _kinds(types: MailTypes, frm: JobState, to: JobState) -> list[str]:
    kinds = []
    if frm is JobState.PENDING and to in _STARTS:
        kinds.append("BEGIN")
    if to is JobState.PENDING and frm in _STARTS:
        kinds.append("REQUEUE")
    if to.terminal:
        # as Slurm: a failure mails FAIL if asked, END otherwise; an end that is no failure END
        kinds.append("FAIL" if to in _FAILS and "FAIL" in types else "END")
    if to is JobState.TIMEOUT:
        kinds.append("TIME_LIMIT")
    return [k for k in kinds if k in types]


def _queue_array_mail(
    session: Session, job: JobRow, types: MailTypes, frm: JobState, to: JobState, now: float
) -> None:
    array_id = job.array_job_id
    first = session.get(JobRow, array_id) if array_id is not None else None
    if first is None:
        return
    address = (job.spec or {})["mail_user"]
    if frm is JobState.PENDING and to in _STARTS and "BEGIN" in types:
        _insert(session, first.id, 0, "BEGIN", address, array_mail(first, "BEGIN", {}, now), now)
    if not to.terminal or not ({"END", "FAIL"} & types.kinds):
        return
    rows = session.execute(
        select(JobRow.state, func.count())
        .where(JobRow.array_job_id == array_id)
        .group_by(JobRow.state)
    ).all()
    states = {str(state): int(n) for state, n in rows}
    if any(states.get(s) for s in _LIVE):
        return  # the array's last task mails
    failed = any(states.get(s.value) for s in _FAILS)
    kind = "FAIL" if failed and "FAIL" in types else "END"
    if kind in types:
        _insert(session, first.id, 0, kind, address, array_mail(first, kind, states, now), now)


def queue_time_limit_mail(*, session: Session, now: float) -> int:
    """Queue the warnings (``TIME_LIMIT_50`` …) that running jobs have reached; how many."""
    jobs = session.scalars(
        select(JobRow).where(
            JobRow.state == JobState.RUNNING.value,
            JobRow.time_limit.is_not(None),
            JobRow.started_at.is_not(None),
        )
    ).all()
    asking = [j for j in jobs if "TIME_LIMIT_" in str((j.spec or {}).get("mail_type") or "")]
    if not asking:
        return 0
    queued = {
        tuple(row)
        for row in session.execute(
            select(MailOutboxRow.job_id, MailOutboxRow.attempt, MailOutboxRow.kind).where(
                MailOutboxRow.job_id.in_([j.id for j in asking])
            )
        ).all()
    }
    count = 0
    for job in asking:
        types = MailTypes.parse(job.spec["mail_type"])
        for kind, share in types.shares.items():
            due = (job.started_at or 0.0) + share * (job.time_limit or 0.0)
            if now >= due and (job.id, job.attempt, kind) not in queued:
                text = job_mail(job, kind, now)
                _insert(session, job.id, job.attempt, kind, job.spec["mail_user"], text, now)
                count += 1
    return count


def _insert(
    session: Session, job_id: int, attempt: int, kind: str, to: str, text: MailText, now: float
) -> None:
    values: dict[str, Any] = dict(
        job_id=job_id,
        attempt=attempt,
        kind=kind,
        to_address=to,
        subject=text.subject,
        body=text.body,
        created_at=now,
        state=QUEUED,
        tries=0,
        next_try_at=now,
        error="",
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    session.flush()  # the job's row first: the outbox row refers to it
    session.connection().execute(_INSERT_ONCE[postgres], values)


def _insert_once(insert_: Any) -> Any:
    return insert_(MailOutboxRow.__table__).on_conflict_do_nothing(
        index_elements=["job_id", "attempt", "kind"]
    )


_INSERT_ONCE = {False: _insert_once(sqlite_insert), True: _insert_once(pg_insert)}


def due_mail(*, session: Session, now: float, limit: int = 100) -> list[OutboxMail]:
    """The queued mails whose time to be tried has come, oldest first."""
    rows = session.scalars(
        select(MailOutboxRow)
        .where(MailOutboxRow.state == QUEUED, MailOutboxRow.next_try_at <= now)
        .order_by(MailOutboxRow.id)
        .limit(limit)
    ).all()
    return [
        OutboxMail(r.id, r.job_id, r.kind, r.to_address, r.subject, r.body, r.tries, r.created_at)
        for r in rows
    ]


def mail_sent(*, session: Session, ids: Sequence[int], now: float) -> None:
    session.execute(
        update(MailOutboxRow)
        .where(MailOutboxRow.id.in_(list(ids)))
        .values(state=SENT, done_at=now, tries=MailOutboxRow.tries + 1, error="")
    )


def mail_retry(*, session: Session, mail_id: int, error: str, at: float) -> None:
    """One more failed try; the next at ``at``."""
    session.execute(
        update(MailOutboxRow)
        .where(MailOutboxRow.id == mail_id)
        .values(tries=MailOutboxRow.tries + 1, next_try_at=at, error=error[:2000])
    )


def mail_failed(*, session: Session, mail: OutboxMail, error: str, now: float) -> None:
    """Give up on ``mail`` (refused, or failing for too long), and say so in its job's history."""
    _finish(session, mail.id, FAILED, error, now)
    _note(session, mail.job_id, f"mail to {mail.to_address} not sent: {error}"[:2000], now)


def mail_dropped(*, session: Session, mails: Sequence[OutboxMail], reason: str, now: float) -> None:
    """Drop ``mails`` (the server sends none); each job's history says so once."""
    told = set(
        session.scalars(
            select(MailOutboxRow.job_id).where(
                MailOutboxRow.state == DROPPED,
                MailOutboxRow.job_id.in_([m.job_id for m in mails]),
            )
        )
    )
    for mail in mails:
        _finish(session, mail.id, DROPPED, reason, now)
        if mail.job_id not in told:
            told.add(mail.job_id)
            _note(session, mail.job_id, f"mail not sent: {reason}", now)


def _finish(session: Session, mail_id: int, state: str, error: str, now: float) -> None:
    session.execute(
        update(MailOutboxRow)
        .where(MailOutboxRow.id == mail_id)
        .values(state=state, done_at=now, error=error[:2000])
    )


def _note(session: Session, job_id: int, cause: str, now: float) -> None:
    """A line in the job's history that changes nothing in its state."""
    job = session.get(JobRow, job_id)
    if job is None:
        return
    session.add(
        JobEventRow(
            job_id=job.id,
            at=now,
            from_state=job.state,
            to_state=job.state,
            attempt=job.attempt,
            cause=cause,
        )
    )


def mail_counts(*, session: Session) -> Counter[str]:
    """How many mails are in each state (for the server's log and tests)."""
    rows = session.execute(
        select(MailOutboxRow.state, func.count()).group_by(MailOutboxRow.state)
    ).all()
    return Counter({str(s): int(n) for s, n in rows})
