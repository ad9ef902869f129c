"""What the controller writes about jobs besides their state: why pending jobs wait, when they
may start, the handle of each dispatched attempt, and the failure of jobs that cannot run.

Reasons and estimates are written only when they changed, so a long queue costs the store a
few rows per pass, not one per pending job.

Some pending jobs are left out of the engine's queue (``hold_disabled``), each with a reason
written once: the jobs of disabled members (``member_disabled``, until the member is enabled
again; their running jobs run on, unless an admin stops them with ``aitc member disable
--stop-running``), held jobs (``held``, until ``aitc release``), and the tasks of a throttled
job array beyond its limit (``array_throttle``: ``--array 0-99%10`` lets at most 10 tasks be
starting or running at once; the lowest task ids go first).

Jobs waiting for their dependency or their begin time are out of the queue too (in the books,
``Books.dependencies`` and ``Books.begin_times``); ``record_waiting`` writes their reason
(``dependency``, naming the jobs they wait for; ``begin_time``, with the begin time as the
estimated start, never earlier) when it changes, and ``cancel_never_satisfied`` cancels those
whose dependency can never hold, with the cause ``DependencyNeverSatisfied: <why>``, as Slurm
does with ``kill_invalid_depend``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aitc.control.dispatch import Committed
from aitc.control.planner import Plan
from aitc.control.snapshot import ACTIVE, Snapshot
from aitc.control.store import JobRow, MemberRow, Store, set_pending_reasons, transition
from aitc.control.store.directory import MEMBER_DISABLED, held_reason
from aitc.control.store.jobs import HELD, hold_reason
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, JobState
from aitc.engine.dependencies import NEVER_SATISFIED
from aitc.engine.pending import PendingQueue
from aitc.engine.scheduler import is_impossible
from aitc.engine.view import Reason

Note = tuple[str, float | None]
ARRAY_THROTTLE = "array_throttle"


class PendingNotes:
    """Writes the engine's reasons and estimates for pending jobs, skipping unchanged ones."""

    def __init__(self) -> None:
        self._written: dict[int, Note] = {}
        self._held: dict[int, str] = {}  # job id -> the code of the reason written for it
        self._waiting: dict[int, str] = {}  # job id -> its dependency reason, as written

    def hold_disabled(self, session: Session, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` without the pending jobs that must not be scheduled now (the jobs of
        disabled members, held jobs, array tasks over their throttle); each one's reason is
        written once (again when it changes), in ``session``."""
        disabled = set(session.scalars(select(MemberRow.id).where(MemberRow.enabled.is_(False))))
        held = {int(j.id): MEMBER_DISABLED for j in snapshot.pending if j.member in disabled}
        for job_id, code in _held_or_throttled(session).items():
            held.setdefault(job_id, code)
        for gone in set(self._held) - set(held):  # released: its reasons are written anew
            self._written.pop(gone, None)
        if not held:
            self._held.clear()
            return snapshot
        new = sorted(j for j, code in held.items() if self._held.get(j) != code)
        if new:
            for row in session.scalars(select(JobRow).where(JobRow.id.in_(new))):
                row.pending_reasons, row.estimated_start = [_reason(row, held[row.id])], None
        self._held = held
        kept = PendingQueue(j for j in snapshot.pending if int(j.id) not in held)
        return Snapshot(pending=kept, active=snapshot.active)

    def record(self, store: Store, plan: Plan, committed: Committed, now: float) -> list[int]:
        """Write changed notes; fail jobs the engine calls impossible. Returns the failed ids."""
        if plan.reasons is None:
            return []
        started = {j.job_id for j in committed.started}
        changed = self._changed(plan, started)
        impossible = [
            int(j) for j, rs in plan.reasons.items() if j not in started and is_impossible(rs)
        ]
        if not changed and not impossible:
            return []
        with store.session() as s:
            rows = _pending_rows(s, list(changed) + impossible)
            for job_id, (reasons, _) in changed.items():
                if job_id in rows:
                    set_pending_reasons(
                        session=s,
                        job=rows[job_id],
                        reasons=reasons,
                        estimated_start=plan.estimates.get(JobId(job_id)),
                    )
            for job_id in impossible:
                if job_id in rows:
                    _fail_impossible(s, rows[job_id], plan.reasons[JobId(job_id)], now)
        # Remembered only once committed: a failed write is retried at the next explanation.
        self._written.update({job_id: note for job_id, (_, note) in changed.items()})
        for job_id in impossible:
            self._written.pop(job_id, None)
        return impossible

    def record_waiting(
        self,
        session: Session,
        reasons: Mapping[JobId, Reason],
        starts: Mapping[JobId, float] | None = None,
    ) -> None:
        """Write the reason of each job waiting out of the queue (for its dependency or its
        begin time), and its earliest start (``starts``; none: unknown), when it changed."""
        starts = starts or {}
        notes = {int(j): _fingerprint((r,)) for j, r in reasons.items()}
        changed = [j for j, note in notes.items() if self._waiting.get(j) != note]
        if changed:
            for job_id, row in _pending_rows(session, changed).items():
                jid = JobId(job_id)
                set_pending_reasons(
                    session=session,
                    job=row,
                    reasons=[reasons[jid]],
                    estimated_start=starts.get(jid),
                )
        self._waiting = notes

    def _changed(self, plan: Plan, started: set[int]) -> dict[int, tuple[Sequence[Reason], Note]]:
        assert plan.reasons is not None
        out: dict[int, tuple[Sequence[Reason], Note]] = {}
        alive = set()
        for job_id, reasons in plan.reasons.items():
            jid = int(job_id)
            alive.add(jid)
            if jid in started or is_impossible(reasons):
                continue
            estimate = plan.estimates.get(job_id)
            note = (_fingerprint(reasons), None if estimate is None else round(estimate, 0))
            if self._written.get(jid) != note:
                out[jid] = (reasons, note)
        for gone in set(self._written) - alive:
            del self._written[gone]
        return out


def _held_or_throttled(session: Session) -> dict[int, str]:
    """Pending jobs that are held (``held``) or over their array's throttle
    (``array_throttle``): one query over the pending and active jobs that have either."""
    stmt = (
        select(JobRow.id, JobRow.state, JobRow.held, JobRow.array_job_id, JobRow.array_throttle)
        .where(
            JobRow.state.in_([s.value for s in (JobState.PENDING, *ACTIVE)]),
            or_(JobRow.held.is_(True), JobRow.array_throttle.is_not(None)),
        )
        .order_by(JobRow.id)
    )
    out: dict[int, str] = {}
    room: dict[int, int] = {}  # array id -> how many more tasks may start
    rows = session.execute(stmt).all()
    for r in rows:
        if r.array_throttle is not None:
            room.setdefault(r.array_job_id, r.array_throttle)
            if r.state != JobState.PENDING.value:
                room[r.array_job_id] -= 1
    for r in rows:
        if r.state != JobState.PENDING.value:
            continue
        if r.held:
            out[r.id] = HELD
        elif r.array_throttle is not None:
            if room[r.array_job_id] > 0:
                room[r.array_job_id] -= 1
            else:
                out[r.id] = ARRAY_THROTTLE
    return out


def _reason(row: JobRow, code: str) -> dict[str, object]:
    if code == MEMBER_DISABLED:
        return held_reason(row.member_id)
    if code == HELD:
        written = (row.pending_reasons or [{}])[0]
        return written if written.get("code") == HELD else hold_reason("its owner or an admin")
    return {
        "code": ARRAY_THROTTLE,
        "message": f"array job {row.array_job_id} runs at most {row.array_throttle} of its "
        "tasks at once (--array ...%N); this one starts when one of them ends",
        "details": {"array_job_id": row.array_job_id, "throttle": row.array_throttle},
    }


def _fingerprint(reasons: Sequence[Reason]) -> str:
    return json.dumps([[str(r.code), r.message] for r in reasons])


def _pending_rows(session: Session, ids: Sequence[int]) -> dict[int, JobRow]:
    stmt = select(JobRow).where(JobRow.id.in_(ids), JobRow.state == JobState.PENDING.value)
    return {r.id: r for r in session.scalars(stmt.with_for_update())}


def _fail_impossible(session: Session, row: JobRow, reasons: Sequence[Reason], now: float) -> None:
    message = next(r.message for r in reasons if str(r.code) == "impossible")
    transition(session=session, job=row, to=JobState.FAILED, cause=message, now=now)


def cancel_never_satisfied(
    *, session: Session, jobs: Sequence[tuple[JobRequest, str]], now: float
) -> None:
    """Cancel pending jobs whose dependency can never hold (``why``: the engine's words)."""
    ids = [int(job.id) for job, _ in jobs]
    rows = _pending_rows(session, ids)
    for job, why in jobs:
        row = rows.get(int(job.id))
        if row is not None:
            cause = f"{NEVER_SATISFIED}: {why}"
            transition(session=session, job=row, to=JobState.CANCELLED, cause=cause, now=now)


def record_dispatch(
    *, session: Session, handles: Mapping[int, str], failures: Mapping[int, str], now: float
) -> None:
    """Store each started attempt's handle; fail the jobs whose start the executor refused."""
    ids = list(handles) + list(failures)
    rows = {
        r.id: r for r in session.scalars(select(JobRow).where(JobRow.id.in_(ids)).with_for_update())
    }
    for job_id, handle in handles.items():
        row = rows.get(job_id)
        if row is not None and row.state in (JobState.STARTING, JobState.RUNNING):
            row.handle = row.handle or handle
    for job_id, cause in failures.items():
        row = rows.get(job_id)
        if row is not None and row.state == JobState.STARTING:
            transition(session=session, job=row, to=JobState.FAILED, cause=cause, now=now)


def cancel_undispatched(*, session: Session, job_ids: Sequence[int], now: float) -> None:
    """Cancel ``starting`` jobs that were never handed to the executor."""
    rows = session.scalars(select(JobRow).where(JobRow.id.in_(job_ids)).with_for_update())
    for row in rows:
        if row.state == JobState.STARTING:
            cause = f"{row.cause or 'cancel requested'}; it had not started yet"
            transition(session=session, job=row, to=JobState.CANCELLED, cause=cause, now=now)
