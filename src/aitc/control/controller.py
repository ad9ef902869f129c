"""The controller: the live driver of the scheduling engine.

One loop, woken by a tick or by an event (the API calls ``wake()`` on submit and cancel). Each
pass:

1. polls the executor and records what it reports (``reconcile.apply_reports``);
2. brings its capacity index and usage ledger in line with the store's active jobs;
3. stops what should not run (cancel requests, stray attempts);
4. builds the ``View`` and calls the same ``Scheduler.schedule()`` as the twin;
5. commits the decisions in one transaction, then dispatches them (``dispatch``);
6. records why each pending job waits and when it may start; fails impossible jobs.

At start-up ``reconcile()`` rebuilds the books from the store, dispatches again every job left
in ``starting`` (a no-op for attempts that had started), adopts what the executor still runs
and fails what vanished. The wall clock is read only through the injected ``Clock``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aitc.control.clock import Clock
from aitc.control.dispatch import Committed, commit_decisions, dispatch, exec_job, unix_users
from aitc.control.executors.base import ExecReport, ExecStatus, Executor
from aitc.control.gpuusage.sampler import SamplesGpus
from aitc.control.holdings import Draining, Holdings
from aitc.control.pending import PendingNotes, cancel_undispatched, record_dispatch
from aitc.control.planner import Planner
from aitc.control.reconcile import RequeuePolicy, apply_reports, mark_vanished, vanished
from aitc.control.snapshot import (
    Snapshot,
    load_organisations,
    load_past_runs,
    load_reservations,
    load_snapshot,
)
from aitc.control.store import JobRow, Store, jobs_in_states, upsert_nodes
from aitc.control.store.cluster import NodeRecord
from aitc.control.store.gpu_usage import record_gpu_usage
from aitc.domain.cluster import Cluster
from aitc.domain.job import JobState
from aitc.domain.lab import PolicySpec

if TYPE_CHECKING:
    from aitc.control.metrics import ControlMetrics

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
    history_half_lives: float = 10.0


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
        self.holdings = Holdings(cluster, self.planner.half_life_s)
        self.draining = Draining()
        self.notes = PendingNotes()
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

    # -- start-up ---------------------------------------------------------------------------

    def reconcile(self) -> PassResult:
        """Rebuild the books, dispatch ``starting`` jobs again, adopt or mark the rest."""
        now = self.now()
        self.holdings = Holdings(self.cluster, self.planner.half_life_s)  # retried from scratch
        self._refresh_inventory(now)
        since = now - self.config.history_half_lives * self.planner.half_life_s
        with self.store.session() as s:
            self.holdings.replay(load_past_runs(s, since))
            rows = jobs_in_states(session=s, states=[JobState.STARTING])
            users = unix_users(session=s, member_ids={r.member_id for r in rows})
            starting = [exec_job(r, users[r.member_id]) for r in rows]
        redispatched = dispatch(self.executor, starting)
        self._record_dispatch(redispatched.handles, redispatched.failures, now)
        log.info("reconcile: dispatched %d starting jobs again", len(starting))
        return self.step(vanish_after=1)

    # -- one pass ---------------------------------------------------------------------------

    def step(self, *, vanish_after: int | None = None) -> PassResult:
        """One scheduling pass (see the module docstring)."""
        now = self.now()
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
            snapshot = self.notes.hold_disabled(s, load_snapshot(s))
            reservations = load_reservations(s, now)
        self._unrecorded = None
        self.draining.settle(
            {(r.job_id, r.attempt) for r in reports if r.status == ExecStatus.RUNNING}
        )
        self._stopping.difference_update(
            (r.job_id, r.attempt) for r in reports if r.status != ExecStatus.RUNNING
        )
        ended = list(outcome.ended) + self._fail_vanished(snapshot, reports, now, vanish_after)
        if ended:
            with self.store.session() as s:
                snapshot = self.notes.hold_disabled(s, load_snapshot(s))
        self._sync_holdings(snapshot, now)
        self._stop_attempts(outcome.stray + self._cancel_requests(snapshot, now))
        plan = self.planner.plan(self.cluster, snapshot, self.holdings, reservations, now)
        committed = self._commit(plan.actions, now)
        handles = dispatch(self.executor, self.draining.admit(committed.started))
        self.notes.record(self.store, self.planner.explain(plan), committed, now)
        for p in committed.preempted:  # after explain, which plans on the same capacity
            self.holdings.release(p.job_id, now)
        self._record_dispatch(handles.handles, handles.failures, now)
        self._record_gpu_usage(now)
        return PassResult(
            started=tuple(handles.handles),
            preempted=tuple(p.job_id for p in committed.preempted),
            ended=tuple(ended),
            failed_to_start=tuple(handles.failures),
            starting=sum(1 for a in snapshot.active if a.state == JobState.STARTING),
        )

    def _commit(self, actions: Sequence[object], now: float) -> Committed:
        if not actions:
            return Committed(started=(), preempted=())
        with self.store.session() as s:
            committed = commit_decisions(
                session=s,
                actions=actions,  # type: ignore[arg-type]
                policy=self.planner.policy.name,
                log_dir=self.config.log_dir,
                now=now,
            )
        for p in committed.preempted:
            placement = self.holdings.placement(p.job_id)
            if placement is not None:
                self.draining.add((p.job_id, p.attempt), placement)
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
            self.holdings.release(job_id, now)

    def _sync_holdings(self, snapshot: Snapshot, now: float) -> None:
        """Hold every active job's GPUs and usage; release those no longer active."""
        active = {a.id: a for a in snapshot.active}
        for job_id in self.holdings.held_jobs():
            if job_id not in active:
                self.holdings.release(job_id, now)
        for a in snapshot.active:
            self.holdings.hold(a.request, a.placement, a.started)

    def _fail_vanished(
        self,
        snapshot: Snapshot,
        reports: Sequence[ExecReport],
        now: float,
        vanish_after: int | None,
    ) -> list[int]:
        threshold = vanish_after or self.config.vanish_polls
        gone = vanished(snapshot.active, reports, self._misses, threshold)
        if not gone:
            return []
        with self.store.session() as s:
            return mark_vanished(session=s, jobs=gone, executor=self.executor.name, now=now)

    def _cancel_requests(self, snapshot: Snapshot, now: float) -> list[Attempt]:
        """Attempts to stop for cancel requests; a job still waiting to dispatch ends at once."""
        wanted = [a for a in snapshot.active if a.cancel_requested]
        never_started = [a.id for a in wanted if self.draining.drop(a.id) is not None]
        if never_started:
            with self.store.session() as s:
                cancel_undispatched(session=s, job_ids=never_started, now=now)
        return [(a.id, a.attempt) for a in wanted if a.id not in never_started]

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
        nodes = self.executor.inventory()
        self.holdings.set_nodes(nodes)
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
            self._wake.wait(0.05 if busy else self.config.tick_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            result = self._guarded(self.step)
            busy = result is not None and result.busy

    def _guarded(self, fn: Callable[[], PassResult]) -> PassResult | None:
        began = time.perf_counter()
        try:
            result = fn()
            if self.metrics is not None:
                self.metrics.pass_seconds.observe(time.perf_counter() - began)
            return result
        except Exception:  # noqa: BLE001 - the loop must survive a bad pass (and say why)
            log.exception("controller pass failed; retrying")
            if self.metrics is not None:
                self.metrics.executor_error("pass")
            self._stop.wait(1.0)
            return None


def _gpu_model(node: object, cluster: Cluster) -> str:
    name = getattr(node, "name", "")
    if name in cluster:
        return cluster.node(name).gpu_model
    gpus = getattr(node, "gpus", ())
    return gpus[0].model if gpus else "none"


__all__ = ["Controller", "ControllerConfig", "JobRow", "PassResult"]
