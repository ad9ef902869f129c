"""The controller: the live driver of the scheduling engine.

One loop, woken by a tick or by an event (the API calls ``wake()`` on submit and cancel). Each
pass:

1. polls the executor and records what it reports (``reconcile.apply_reports``);
2. stops what should not run (cancel requests, stray attempts), puts the jobs asked to be
   requeued back in the queue (``aitc requeue``: their attempts stop, as a preempted one's),
   and hands running jobs the signals and time limits asked for them;
3. brings its books up to date with what changed in the store (``feed.StoreBooks.catch_up``:
   the ``job_events`` past its cursor), cancels the jobs whose dependency can never hold,
   writes why the others wait for theirs, and checks the books against the store's active jobs;
   stops and requeues the jobs on nodes an admin set down (``store.drains``);
4. builds the ``View`` from its books and calls the same ``Scheduler.run()`` as the twin;
5. commits the decisions in one transaction, dispatches them, and applies the committed ones
   to its books (``Books.apply``, as the twin does);
6. records why each pending job waits and when it may start; fails impossible jobs.

The books (``aitc.engine.books``: capacity index, usage ledger, pending queue, running jobs)
live across passes. ``reconcile()``, at start-up, builds them once from the store, dispatches
again every job left in ``starting`` (a no-op for attempts that had started), adopts what the
executor still runs and fails what vanished; after a failed pass, or when the books and the
store disagree, they are built again (``resync``). The wall clock is read only through the
injected ``Clock``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.clock import Clock
from aitc.control.dispatch import Committed, commit_decisions, dispatch, exec_job, unix_users
from aitc.control.executors.base import (
    ExecReport,
    ExecStatus,
    Executor,
    NodeInfo,
    NodeState,
    UpdatesNodes,
)
from aitc.control.feed import StoreBooks
from aitc.control.gpuusage.sampler import SamplesGpus
from aitc.control.holdings import Draining
from aitc.control.pending import (
    PendingNotes,
    cancel_never_satisfied,
    cancel_undispatched,
    record_dispatch,
)
from aitc.control.planner import Planner
from aitc.control.reconcile import RequeuePolicy, apply_reports, mark_vanished, vanished
from aitc.control.snapshot import (
    ACTIVE,
    HISTORY_HALF_LIVES,
    ActiveJob,
    Snapshot,
    active_job,
    load_organisations,
    load_reservations,
)
from aitc.control.store import JobRow, MemberRow, Store, jobs_in_states, upsert_nodes
from aitc.control.store.cluster import NodeRecord
from aitc.control.store.drains import AdminState, admin_states, node_status
from aitc.control.store.gpu_usage import record_gpu_usage
from aitc.control.store.jobs import limits_applied, requeue_asked, signals_sent
from aitc.domain.cluster import Cluster
from aitc.domain.durations import slurm_duration
from aitc.domain.ids import JobId
from aitc.domain.job import JobState
from aitc.domain.lab import PolicySpec
from aitc.engine.books import Books
from aitc.engine.view import Action, Preempt, Start
from aitc.errors import SchedulingError

if TYPE_CHECKING:
    from aitc.control.metrics import ControlMetrics

_T = TypeVar("_T")
log = logging.getLogger(__name__)

Attempt = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """How the controller paces itself and treats lost attempts."""

    log_dir: Path
    tick_s: float = 0.5
    inventory_s: float = 5.0
    vanish_polls: int = 3
    requeue: RequeuePolicy = field(default_factory=RequeuePolicy)
    history_half_lives: float = HISTORY_HALF_LIVES


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass did (for tests and logs)."""

    started: tuple[int, ...] = ()
    preempted: tuple[int, ...] = ()
    ended: tuple[int, ...] = ()
    failed_to_start: tuple[int, ...] = ()
    starting: int = 0  # jobs dispatched but not yet seen running

    @property
    def busy(self) -> bool:
        """Whether to pass again soon: something changed, or a start is to be confirmed."""
        return bool(self.started or self.preempted or self.ended or self.starting)


class Controller:
    """Schedules the store's jobs onto one executor with the engine."""

    def __init__(
        self,
        *,
        store: Store,
        executor: Executor,
        cluster: Cluster,
        policy: PolicySpec,
        clock: Clock,
        config: ControllerConfig,
    ) -> None:
        self.store, self.executor, self.cluster = store, executor, cluster
        self.clock, self.config = clock, config
        self.planner = Planner(policy)
        self.feed = StoreBooks(cluster, self.planner.half_life_s)
        self._nodes: Sequence[NodeInfo] = ()
        self._admin: dict[str, AdminState] = {}  # the nodes an admin took out (drain, down)
        # what an executor that shares its nodes (Slurm) was told of them: node -> (state,
        # reason); None until the first time (then every node it has out may be ours to resume)
        self._told: dict[str, tuple[str, str]] | None = None
        self._tell_after = 0.0  # after a refusal, told again only from then
        self._resync = False
        self.draining = Draining()
        self.notes = PendingNotes()
        self._waiting_seen = -1  # the books' ``changes`` when dependency reasons were written
        self._last_now = 0.0
        self._next_inventory = 0.0
        self._misses: Counter[int] = Counter()
        self._stopping: set[Attempt] = set()
        self._unrecorded: Sequence[ExecReport] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.metrics: ControlMetrics | None = None  # set by aitc serve (/metrics)

    # -- time ---------------------------------------------------------------------------------

    def now(self) -> float:
        """The clock's time, never earlier than the last one seen (the ledger needs order)."""
        self._last_now = max(self._last_now, self.clock.now())
        return self._last_now

    @property
    def books(self) -> Books:
        """The driver state the engine plans on (kept across passes)."""
        return self.feed.books

    # -- start-up ---------------------------------------------------------------------------

    def reconcile(self) -> PassResult:
        """Rebuild the books, dispatch ``starting`` jobs again, adopt or mark the rest."""
        now = self.now()
        with self.store.session() as s:
            self._rebuild(s, now)
            rows = jobs_in_states(session=s, states=[JobState.STARTING])
            users = unix_users(session=s, member_ids={r.member_id for r in rows})
            starting = [exec_job(r, users[r.member_id]) for r in rows]
        redispatched = dispatch(self.executor, starting)
        self._record_dispatch(redispatched.handles, redispatched.failures, now)
        log.info("reconcile: dispatched %d starting jobs again", len(starting))
        return self.step(vanish_after=1)

    def resync(self) -> None:
        """Build the books again from the store (after a failed pass, or on request)."""
        with self.store.session() as s:
            self._rebuild(s, self.now())

    def _rebuild(self, session: Session, now: float) -> None:
        since = now - self.config.history_half_lives * self.planner.half_life_s
        self.feed.rebuild(session, since=since)
        if not self._nodes:
            self._nodes = self.executor.inventory()
        self._admin = admin_states(session=session)
        self._follow_nodes(self._nodes)
        self._resync = False
        log.info(
            "books built from the store: %d pending, %d running",
            len(self.books.pending) + len(self.feed.held),
            len(self.books.running),
        )

    # -- one pass ---------------------------------------------------------------------------

    def step(self, *, vanish_after: int | None = None) -> PassResult:
        """One scheduling pass (see the module docstring)."""
        now = self.now()
        if self._resync:
            self.resync()
        if now >= self._next_inventory:
            self._refresh_inventory(now)
        # A poll acknowledges the previous one: reports not yet recorded are applied again
        # before the executor is polled anew, so a failed transaction loses no exit.
        if self._unrecorded is None:
            self._unrecorded = self.executor.poll()
        reports = self._unrecorded
        if any(r.status == ExecStatus.LOST for r in reports):
            # A lost attempt often means a node went down after the last inventory: read it
            # again so the requeued job is not placed straight back on that node.
            self._refresh_inventory(now)
        with self.store.session() as s:
            outcome = apply_reports(session=s, reports=reports, now=now, policy=self.config.requeue)
            active = _load_active(s)
            reservations = load_reservations(s, now)
            admin = admin_states(session=s)
        self._unrecorded = None
        if admin != self._admin:
            self._admin = admin
            self._tell_after = 0.0
            self._follow_nodes(self._nodes)
        self.draining.settle(
            {(r.job_id, r.attempt) for r in reports if r.status == ExecStatus.RUNNING}
        )
        self._stopping.difference_update(
            (r.job_id, r.attempt) for r in reports if r.status != ExecStatus.RUNNING
        )
        ended = list(outcome.ended) + self._fail_vanished(active, reports, now, vanish_after)
        requeued, to_stop = self._requeue_requests(active, now)
        if requeued:  # their attempt is ending: no signal or new limit goes to it
            active = [a for a in active if a.id not in requeued]
        self._stop_attempts(outcome.stray + self._cancel_requests(active, now) + to_stop)
        self._send_signals(active, now)
        self._send_limits(active, now)
        with self.store.session() as s:
            snapshot = self._catch_up(s, now)
        downed = self._requeue_from_down_nodes(now)
        self._tell_executor(now)
        plan = self.planner.plan(self.books, reservations, now)
        committed = self._commit(plan.actions, now)
        handles = dispatch(self.executor, self.draining.admit(committed.started))
        self.notes.record(self.store, self.planner.explain(plan), committed, now)
        self._apply(plan.actions, committed, now)  # after explain, which plans on the books
        self.planner.note(self.books, now)
        self._record_dispatch(handles.handles, handles.failures, now)
        self._record_gpu_usage(now)
        return PassResult(
            started=tuple(handles.handles),
            preempted=tuple(p.job_id for p in (*downed.preempted, *committed.preempted)),
            ended=tuple(ended),
            failed_to_start=tuple(handles.failures),
            starting=sum(1 for a in snapshot.active if a.state == JobState.STARTING),
        )

    def _catch_up(self, session: Session, now: float) -> Snapshot:
        """Feed the books what changed in the store, check them, and apply the holds."""
        s = session
        self.feed.catch_up(s, now)
        self._follow_dependencies(s, now)
        active = _load_active(s)
        wrong = self.feed.check(s, [a.id for a in active], now)
        if -1 in wrong:
            log.warning("the books' pending queue disagrees with the store: resync")
            self._rebuild(s, now)
        elif wrong:
            log.warning("the books disagree with the store on jobs %s: reloaded", wrong)
            self.feed.reload(s, wrong, now)
        self._apply_holds(s)
        return Snapshot(pending=self.books.pending, active=active)

    def _follow_dependencies(self, session: Session, now: float) -> None:
        """Queue the jobs whose ``after:ID+MIN`` or begin time came due; cancel jobs whose
        dependency can never hold; write why the others wait (when the books changed: only
        then may a reason have changed)."""
        books = self.books
        deferred = len(books.begin_times.waiting)
        books.wake(now)
        if len(books.begin_times.waiting) < deferred:
            self.feed.holds_dirty = True  # a job that came in may be a disabled member's
        never = books.take_never()
        if never:
            cancel_never_satisfied(session=session, jobs=never, now=now)
        if books.changes != self._waiting_seen:
            self._waiting_seen = books.changes
            begins = {j: job.begin for j, job in books.begin_times.waiting.items() if job.begin}
            self.notes.record_waiting(session, books.waiting_reasons(), begins)

    def _apply_holds(self, session: Session) -> None:
        """Keep held jobs out of the queue (the rule and its reasons: ``hold_disabled``)."""
        s = session
        disabled = set(s.scalars(select(MemberRow.id).where(MemberRow.enabled.is_(False))))
        if disabled != self.feed.disabled:
            self.feed.disabled, self.feed.holds_dirty = disabled, True
        # asked every pass while a job is or may be held (a hold may end without an event);
        # otherwise only when something a hold depends on changed
        feed = self.feed
        if not (feed.holds_dirty or feed.held or feed.may_hold):
            return
        candidates = self.feed.hold_candidates(disabled)
        kept = self.notes.hold_disabled(s, Snapshot(pending=candidates, active=()))
        left = {j.id for j in kept.pending}
        self.feed.set_held({j.id for j in candidates if j.id not in left})
        self.feed.holds_dirty = False

    def _apply(self, actions: Sequence[Action], committed: Committed, now: float) -> None:
        """Apply to the books the actions the store took (in their order)."""
        started = {j.job_id for j in committed.started}
        preempted = {p.job_id for p in committed.preempted}
        self.books.apply(
            [
                a
                for a in actions
                if (isinstance(a, Start) and a.job_id in started)
                or (isinstance(a, Preempt) and a.job_id in preempted)
            ],
            now,
        )

    def _requeue_from_down_nodes(self, now: float) -> Committed:
        """Stop and requeue the jobs on nodes an admin set down, as a preemption does (the
        executor reports the attempts on the nodes it finds down itself as lost)."""
        down = {name: a.reason for name, a in self._admin.items() if a.state == "down"}
        if not down:
            return Committed(started=(), preempted=())
        actions: list[Action] = []
        for job_id, run in self.books.running.items():
            node = next((n for n in run.placement.nodes if n in down), None)
            if node is not None:
                actions.append(Preempt(job_id, cause=f"node {node} set down: {down[node]}"))
        committed = self._commit(actions, now)
        self._apply(actions, committed, now)
        return committed

    def _tell_executor(self, now: float) -> None:
        """Pass the admins' node states on to an executor that shares its nodes with work
        outside aitc (``UpdatesNodes``: Slurm's ``scontrol update NodeName=X State=...``), so
        that a plain ``sbatch`` keeps off a node aitc took out too. Only changes are passed;
        at the first pass, every node the executor has out and no admin set is resumed as far
        as it was aitc's (the executor knows). A refusal is logged, never fatal, and tried
        again an inventory period later."""
        executor = self.executor
        if not isinstance(executor, UpdatesNodes) or now < self._tell_after:
            return
        if self._told is None:
            out = (n.name for n in self._nodes if n.state != NodeState.UP)
            self._told = {name: ("unknown", "") for name in out if name not in self._admin}
        wanted = {name: (a.state, a.reason) for name, a in self._admin.items()}
        changes = [(n, *w) for n, w in wanted.items() if self._told.get(n) != w]
        changes += [(n, "resume", "") for n in self._told if n not in wanted]
        for node, state, reason in sorted(changes):
            try:
                took = executor.update_node(node, state, reason)
            except Exception:  # noqa: BLE001 - the admin's state holds in aitc all the same
                log.exception("cannot set node %s %s in the executor", node, state)
                if self.metrics is not None:
                    self.metrics.executor_error("update_node")
                self._tell_after = now + self.config.inventory_s
                continue
            if state == "resume":
                self._told.pop(node, None)
            else:
                self._told[node] = (state, reason)
            if took:
                log.info(
                    "node %s: %s passed on to the %s executor", node, state, self.executor.name
                )
                self._next_inventory = now  # read back what it did at the next pass

    def _commit(self, actions: Sequence[Action], now: float) -> Committed:
        if not actions:
            return Committed(started=(), preempted=())
        with self.store.session() as s:
            committed = commit_decisions(
                session=s,
                actions=actions,
                policy=self.planner.policy.name,
                log_dir=self.config.log_dir,
                now=now,
            )
        for p in committed.preempted:
            run = self.books.running.get(JobId(p.job_id))
            if run is not None:
                self.draining.add((p.job_id, p.attempt), run.placement)
        self._stop_attempts([(p.job_id, p.attempt) for p in committed.preempted])
        return committed

    def _record_gpu_usage(self, now: float) -> None:
        """Store the GPU usage aggregates the executor sampled since the last pass."""
        if isinstance(self.executor, SamplesGpus):
            usage = self.executor.gpu_usage()
            if usage:
                with self.store.session() as s:
                    record_gpu_usage(session=s, usage=usage, now=now)

    def _record_dispatch(
        self, handles: dict[int, str], failures: dict[int, str], now: float
    ) -> None:
        if failures and self.metrics is not None:
            self.metrics.executor_error("start", len(failures))
        if handles or failures:
            with self.store.session() as s:
                record_dispatch(session=s, handles=handles, failures=failures, now=now)
        for job_id in failures:
            if JobId(job_id) in self.books.running:
                self.books.finish(JobId(job_id), now)

    def _fail_vanished(
        self,
        active: Sequence[ActiveJob],
        reports: Sequence[ExecReport],
        now: float,
        vanish_after: int | None,
    ) -> list[int]:
        threshold = vanish_after or self.config.vanish_polls
        gone = vanished(active, reports, self._misses, threshold)
        if not gone:
            return []
        with self.store.session() as s:
            return mark_vanished(session=s, jobs=gone, executor=self.executor.name, now=now)

    def _cancel_requests(self, active: Sequence[ActiveJob], now: float) -> list[Attempt]:
        """Attempts to stop for cancel requests; a job still waiting to dispatch ends at once."""
        wanted = [a for a in active if a.cancel_requested]
        never_started = [a.id for a in wanted if self.draining.drop(a.id) is not None]
        if never_started:
            with self.store.session() as s:
                cancel_undispatched(session=s, job_ids=never_started, now=now)
        return [(a.id, a.attempt) for a in wanted if a.id not in never_started]

    def _requeue_requests(
        self, active: Sequence[ActiveJob], now: float
    ) -> tuple[set[int], list[Attempt]]:
        """Put back in the queue the jobs asked to be (``aitc requeue``): the ids requeued and
        the attempts to stop. As for a preempted job, the books free its GPUs at once (the
        feed reads the requeue) and ``Draining`` keeps a job started on them from being
        dispatched until the attempt has ended; a job still waiting to be dispatched has
        nothing to stop."""
        wanted = [a for a in active if a.requeue_request and not a.cancel_requested]
        if not wanted:
            return set(), []
        with self.store.session() as s:
            attempts = [(a.id, a.attempt) for a in wanted]
            requeued = set(requeue_asked(session=s, attempts=attempts, now=now))
        to_stop = []
        for a in wanted:
            if a.id in requeued and self.draining.drop(a.id) is None:
                self.draining.add((a.id, a.attempt), a.placement)
                to_stop.append((a.id, a.attempt))
        return requeued, to_stop

    def _send_signals(self, active: Sequence[ActiveJob], now: float) -> None:
        """Send the signals asked for running jobs (``aitc cancel --signal``), once each, and
        note in each job's history whether it went."""
        done = self._hand_over(
            active,
            "signal",
            lambda a: a.signal_request,
            lambda a, asked: self.executor.signal(a.id, a.attempt, asked),
            lambda asked: f"SIG{asked.removeprefix('B:')}",
            ("sent", "not sent"),
        )
        if done:
            with self.store.session() as s:
                sent = [(job_id, asked, note) for job_id, asked, note, _ in done]
                signals_sent(session=s, sent=sent, now=now)

    def _send_limits(self, active: Sequence[ActiveJob], now: float) -> None:
        """Hand running jobs' new time limits (``aitc update --time``) to their executor, once
        each, and note in each job's history whether it took them."""
        done = self._hand_over(
            active,
            "set_time_limit",
            lambda a: a.time_limit_request,
            lambda a, limit: self.executor.set_time_limit(a.id, a.attempt, limit),
            lambda limit: f"time limit {slurm_duration(limit)}",
            ("applied", "not applied"),
        )
        if done:
            with self.store.session() as s:
                limits_applied(session=s, applied=done, now=now)

    def _hand_over(
        self,
        active: Sequence[ActiveJob],
        call: str,
        asked_of: Callable[[ActiveJob], _T | None],
        act: Callable[[ActiveJob, _T], bool],
        what: Callable[[_T], str],
        verbs: tuple[str, str],
    ) -> list[tuple[int, _T, str, bool]]:
        """Hand each running job's pending request (``asked_of``) to its executor (``act``),
        once: (job id, request, the note for its history, whether the executor took it). A
        starting job's request waits until it runs; one failure does not stop the others."""
        done: list[tuple[int, _T, str, bool]] = []
        for a in active:
            asked = asked_of(a)
            if asked is None or a.state is not JobState.RUNNING:
                continue
            try:
                took = act(a, asked)
            except Exception as exc:  # noqa: BLE001 - one failed request must not stop the loop
                log.exception("cannot %s job %s attempt %s", call, a.id, a.attempt)
                if self.metrics is not None:
                    self.metrics.executor_error(call)
                done.append((a.id, asked, f"{what(asked)} {verbs[1]}: {exc}", False))
                continue
            note = f"{what(asked)} {verbs[0]}" if took else f"{what(asked)} {verbs[1]}: not running"
            done.append((a.id, asked, note, took))
        return done

    def _stop_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Ask the executor to stop each attempt, once per attempt."""
        for attempt in attempts:
            if attempt in self._stopping:
                continue
            self._stopping.add(attempt)
            try:
                self.executor.cancel(*attempt)
            except Exception:  # noqa: BLE001 - one failed cancel must not stop the loop
                log.exception("cannot stop job %s attempt %s", *attempt)
                if self.metrics is not None:
                    self.metrics.executor_error("cancel")
                self._stopping.discard(attempt)

    def _refresh_inventory(self, now: float) -> None:
        nodes = self._nodes = self.executor.inventory()
        self._follow_nodes(nodes)
        records = [
            NodeRecord(
                name=n.name,
                gpus=len(n.gpus),
                gpu_model=_gpu_model(n, self.cluster),
                state=str(n.state),
                reason=n.reason,
                leaf=self.cluster.node(n.name).leaf if n.name in self.cluster else 0,
                su=self.cluster.node(n.name).su if n.name in self.cluster else 0,
            )
            for n in nodes
        ]
        with self.store.session() as s:
            upsert_nodes(session=s, nodes=records, now=now)
            self.planner.set_organisations(load_organisations(s))
        self._next_inventory = now + self.config.inventory_s

    def _follow_nodes(self, nodes: Sequence[NodeInfo]) -> None:
        """Follow the nodes' states (the executor's, or an admin's when worse: down, drained)
        and GPUs held outside aitc."""
        for node in nodes:
            if node.name not in self.cluster:
                continue
            status = node_status(str(node.state), node.reason, self._admin.get(node.name))
            self.books.set_down(node.name, not status.usable)
            try:
                self.books.set_foreign(node.name, node.foreign_gpus)
            except SchedulingError as exc:
                log.warning("node %s: cannot follow foreign GPU use: %s", node.name, exc)

    # -- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask for a pass as soon as possible (called by the API on submit and cancel)."""
        self._wake.set()

    def start(self) -> threading.Thread:
        """Run the loop in a daemon thread (reconcile first)."""
        self._thread = threading.Thread(target=self.run, name="aitc-controller", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop after the current pass; jobs keep running."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Reconcile, then pass after pass until ``stop()``; errors are logged, never fatal."""
        while not self._stop.is_set() and self._guarded(self.reconcile) is None:
            self._stop.wait(2.0)
        busy = True
        while not self._stop.is_set():
            self._wake.wait(0.05 if busy else self.idle_wait())
            self._wake.clear()
            if self._stop.is_set():
                break
            result = self._guarded(self.step)
            busy = result is not None and result.busy

    def idle_wait(self) -> float:
        """How long an idle loop sleeps: a tick, or less when a job's begin time (or an
        ``after:ID+MIN``) comes sooner, so that the job is considered when it comes."""
        due = self.books.next_due()
        if due is None:
            return self.config.tick_s
        return min(self.config.tick_s, max(0.0, due - self.clock.now()))

    def _guarded(self, fn: Callable[[], PassResult]) -> PassResult | None:
        began = time.perf_counter()
        try:
            result = fn()
            if self.metrics is not None:
                self.metrics.pass_seconds.observe(time.perf_counter() - began)
            return result
        except Exception:  # noqa: BLE001 - the loop must survive a bad pass (and say why)
            log.exception("controller pass failed; retrying on books built again")
            self._resync = True
            if self.metrics is not None:
                self.metrics.executor_error("pass")
            self._stop.wait(1.0)
            return None


def _load_active(session: Session) -> list[ActiveJob]:
    rows = jobs_in_states(session=session, states=list(ACTIVE))
    return [active_job(r) for r in rows]


def _gpu_model(node: object, cluster: Cluster) -> str:
    name = getattr(node, "name", "")
    if name in cluster:
        return cluster.node(name).gpu_model
    gpus = getattr(node, "gpus", ())
    return gpus[0].model if gpus else "none"


__all__ = ["Controller", "ControllerConfig", "JobRow", "PassResult"]
