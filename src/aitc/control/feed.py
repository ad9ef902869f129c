"""The controller's books, kept in step with the store through its change feed.

The controller builds its ``Books`` (``aitc.engine.books``) once from the store (``rebuild``, at
start-up and on resync) and then feeds them only changes: the actions it commits itself
(``Books.apply``) and whatever else changed the store, read from ``job_events``. That table is
append-only with an autoincrement id, so each pass reads the rows past its cursor and reloads
just those jobs (``catch_up``); a new submission appends a ``pending`` event, an end, a requeue,
a cancel, a hold, a release or a change of the request (``aitc update``: the job's new request
takes the old one's place in arrival order, ``Books.amend``; a running job's new time limit
is taken into its run in place, ``Books.amend_running``) one each. Syncing a job from its
row is idempotent, so the controller's own events, read back, change nothing.

Ids are handed out before commit, so on PostgreSQL a row with a lower id may become visible
after one with a higher id; ids skipped over are asked for again for ``GAP_TTL_S`` seconds.
``check`` compares the books with the store's active jobs (every pass, they are few) and the
number of pending jobs, so whatever the feed misses is found and the caller resyncs. The count
leaves out the jobs with events the feed has not read yet, in the statement that finds them:
on PostgreSQL each statement sees what committed before it, so a submission that commits
during a pass is no disagreement (the next pass reads it).

Some pending jobs are left out of the queue while they are held (``held``; the rule is
``PendingNotes.hold_disabled``'s): they wait in ``held`` and go back at their place in arrival
order when released. Jobs with a dependency wait in the books (``Books.dependencies``) until it
holds, and jobs with a begin time until it comes (``Books.begin_times``; a hold keeps such a
job out first); the feed tells the books how each job ends (``Books.ended``), and, before it
queues a job with a dependency, the state of every job it names that the books do not know (one
that ended before they were built).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence, Set

from sqlalchemy import ColumnElement, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from aitc.control.snapshot import ACTIVE, load_past_runs
from aitc.control.store import JobEventRow, JobRow, job_request, jobs_in_states, placement_from_json
from aitc.control.store.dependencies import named_jobs
from aitc.domain.cluster import Cluster
from aitc.domain.dependency import Dependency
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, JobState
from aitc.engine.books import Books
from aitc.errors import SchedulingError

log = logging.getLogger(__name__)

GAP_TTL_S = 60.0
COUNT_EVERY_S = 10.0
_ACTIVE = {s.value for s in ACTIVE}


class StoreBooks:
    """The controller's books, the jobs held out of them, and the feed's cursor."""

    def __init__(self, cluster: Cluster, half_life_s: float) -> None:
        self.cluster, self.half_life_s = cluster, half_life_s
        self.books = Books(cluster, half_life_s)
        self.held: dict[JobId, JobRequest] = {}
        # pending jobs that a hold or an array throttle may keep out (their row says so)
        self.may_hold: set[JobId] = set()
        self.cursor = 0
        # whether the holds may have changed (a job that is or may be held, or is a disabled
        # member's, changed): only then is the hold rule asked again
        self.holds_dirty = True
        self.disabled: set[str] = set()
        self._counted_at = -float("inf")
        self._gaps: dict[int, float] = {}  # event id not seen yet -> until when to ask again

    # ------------------------------------------------------------------ rebuild
    def rebuild(self, session: Session, *, since: float) -> None:
        """Build the books from the store: past runs into the ledger, the pending queue in
        arrival order, the active jobs on their placements."""
        self.cursor = session.scalar(select(func.max(JobEventRow.id))) or 0
        self._gaps.clear()
        self.books = Books(self.cluster, self.half_life_s)
        self.held.clear()
        self.may_hold.clear()
        self.holds_dirty = True
        self._counted_at = -float("inf")
        self.books.replay(load_past_runs(session, since))
        # the running first: a singleton waits for a job of its name that runs
        for row in jobs_in_states(session=session, states=list(ACTIVE)):
            self._adopt(row)
        pending = jobs_in_states(session=session, states=[JobState.PENDING])
        self._tell_named(session, pending)
        for row in pending:
            self._queue(row)

    # ------------------------------------------------------------------ changes
    def catch_up(self, session: Session, now: float) -> int:
        """Apply what changed in the store since the last call; returns how many jobs."""
        stmt = select(JobEventRow.id, JobEventRow.job_id).where(self._unread())
        rows = session.execute(stmt.order_by(JobEventRow.id)).all()
        self._expire_gaps(now)
        if not rows:
            return 0
        for event_id, _ in rows:
            self._gaps.pop(event_id, None)
            if event_id > self.cursor:
                self._gaps.update(dict.fromkeys(range(self.cursor + 1, event_id), now + GAP_TTL_S))
                self.cursor = event_id
        return self.reload(session, {job_id for _, job_id in rows}, now)

    def reload(self, session: Session, job_ids: Iterable[int], now: float) -> int:
        """Bring the given jobs in line with their rows."""
        ids = sorted(set(job_ids))
        rows = list(session.scalars(select(JobRow).where(JobRow.id.in_(ids)).order_by(JobRow.id)))
        ending = {
            r.id for r in rows if r.state not in _ACTIVE and r.state != JobState.PENDING.value
        }
        pending = [r for r in rows if r.state == JobState.PENDING.value]
        self._tell_named(session, pending, ending)
        for row in rows:
            self._sync(row, now)
        return len(ids)

    def _unread(self) -> ColumnElement[bool]:
        """The events the books have not read: past the cursor, or skipped over by it."""
        if self._gaps:
            return or_(JobEventRow.id > self.cursor, JobEventRow.id.in_(list(self._gaps)))
        return JobEventRow.id > self.cursor

    def _expire_gaps(self, now: float) -> None:
        for event_id in [e for e, until in self._gaps.items() if until <= now]:
            del self._gaps[event_id]

    def _sync(self, row: JobRow, now: float) -> None:
        books, jid = self.books, JobId(row.id)
        throttled = getattr(row, "array_throttle", None) is not None  # its tasks make room
        if throttled or jid in self.held or jid in self.may_hold or row.member_id in self.disabled:
            self.holds_dirty = True
        if row.state == JobState.PENDING.value:
            if jid in books.running:  # requeued (lost, or preempted) after it ran
                books.requeue(jid, now)
                self._note_hold(row)
            elif books.queued(jid) is None and jid not in self.held:
                self._queue(row)
            else:
                self._amend(row)
                self._note_hold(row)
        elif row.state in _ACTIVE:
            run = books.running.get(jid)
            placement = placement_from_json(row.placement or {})
            if run is not None and run.placement == placement:
                self.books.amend_running(job_request(row))  # a new time limit, not a new start
                return
            if run is not None:
                books.finish(jid, now)
            self._forget_pending(jid)
            self._adopt(row)
        else:  # ended
            if jid in books.running:
                books.finish(jid, now)
            self._forget_pending(jid)
            books.ended(job_request(row), JobState(row.state), row.ended_at or now)

    def _amend(self, row: JobRow) -> None:
        """A pending job the books hold: if its request changed (``aitc update``), take the
        new one in at the job's place in arrival order (a held job stays held)."""
        jid, request = JobId(row.id), job_request(row)
        held = self.held.get(jid)
        books = self.books
        old = held or books.queued(jid)
        if old is None or old == request:
            return
        books.amend(request, held=held)
        if held is not None:
            self.held[jid] = request

    def _queue(self, row: JobRow) -> None:
        self._note_hold(row)
        self.books.submit(job_request(row))

    def _tell_named(
        self, session: Session, rows: Sequence[JobRow], ending: Set[int] = frozenset()
    ) -> None:
        """Tell the books the state of each job that ``rows``' dependencies name and that
        they do not know (ended before they were built; a job not in the store stays
        unknown, and the dependency can never hold), or that ends in this same batch
        (``ending``: its end is synced before the jobs naming it are queued, when nobody
        waits for it yet)."""
        deps = self.books.dependencies
        named = {t for r in rows if r.dependency for t in Dependency.parse(r.dependency).targets}
        unknown = [t for t in named if not deps.knows(t) or t in ending]
        for job in named_jobs(session, unknown):
            deps.tell(
                JobId(job.id),
                JobState(job.state),
                member=job.member,
                name=job.name,
                begun=job.begun,
            )

    def _note_hold(self, row: JobRow) -> None:
        jid = JobId(row.id)
        if getattr(row, "held", False) or getattr(row, "array_throttle", None) is not None:
            self.may_hold.add(jid)
            self.holds_dirty = True
        else:
            self.may_hold.discard(jid)

    def _forget_pending(self, jid: JobId) -> None:
        self.books.cancel(jid)
        self.held.pop(jid, None)
        self.may_hold.discard(jid)

    def _adopt(self, row: JobRow) -> None:
        request = job_request(row)
        attained = self.books.ledger.ran_before().get(request.id, 0.0)
        try:
            self.books.adopt(
                request,
                placement_from_json(row.placement or {}),
                row.started_at or 0.0,
                attained=attained,
            )
        except SchedulingError as exc:
            log.error("job %s: cannot hold its placement: %s", row.id, exc)

    # ------------------------------------------------------------------ holds
    def hold_candidates(self, disabled: set[str]) -> list[JobRequest]:
        """The pending jobs a hold may keep out: those of ``disabled`` members, those whose
        row is held or throttled, and those held now."""
        pending = self.books.pending
        out = {j.id: j for j in self.held.values()}
        for (_, _, member), jobs in pending.by_member().items():
            if member in disabled:
                out.update(jobs)
        for jid in self.may_hold:
            job = pending.get(jid) or self.books.begin_times.waiting.get(jid)
            if job is not None:
                out[jid] = job
        return sorted(out.values(), key=lambda j: (j.submit, j.id))

    def set_held(self, held: set[JobId]) -> None:
        """Keep exactly ``held`` out of the queue; released jobs go back at their place."""
        for jid in held - set(self.held):
            job = self.books.cancel(jid)
            if job is not None:
                self.held[jid] = job
        for jid in set(self.held) - held:
            self.books.restore(self.held.pop(jid))

    # ------------------------------------------------------------------ checks
    def check(self, session: Session, active: Sequence[int], now: float) -> list[int]:
        """Jobs on which the books and the store disagree: active in one and not the other, or
        (if the counts differ) -1 for the queue. Cheap: the active jobs are few (every pass)
        and the pending ones are counted, not read (every ``COUNT_EVERY_S``). Jobs with events
        the books have not read yet are left out on both sides (see the module docstring)."""
        running = set(self.books.running)
        out = sorted(set(active) ^ running)
        if now - self._counted_at < COUNT_EVERY_S:
            return out
        self._counted_at = now
        unread, pending = self._count_pending(session)
        books = self.books
        queued = len(books.pending) + len(self.held) + len(books.dependencies.waiting)
        queued += len(books.begin_times.waiting)
        queued -= sum(
            1 for jid in map(JobId, unread) if books.queued(jid) is not None or jid in self.held
        )
        if pending != queued:
            out.append(-1)  # the queue disagrees: resync
        return out

    def _count_pending(self, session: Session) -> tuple[set[int], int]:
        """The jobs with events the books have not read, and how many other jobs are pending,
        in one statement (so both come from one snapshot of the store, on PostgreSQL too)."""
        unread = select(JobEventRow.job_id).where(self._unread())
        count = (
            select(literal(None), func.count())
            .select_from(JobRow)
            .where(JobRow.state == JobState.PENDING.value, JobRow.id.not_in(unread))
        )
        rows = session.execute(union_all(unread.add_columns(literal(None)), count)).all()
        jobs = {job_id for job_id, counted in rows if job_id is not None}
        return jobs, sum(counted for job_id, counted in rows if job_id is None)
