"""``tiresias``: discretised two-dimensional least-attained-service (Gu et al., NSDI'19).

A job's attained service is GPUs × seconds it has run, across preemptions (from the usage
ledger). ``thresholds`` cut it into queues: queue 0 holds jobs below the first threshold, and
so on. Jobs are tried queue by queue, in arrival order inside a queue, so short and small jobs
overtake long, large ones without anyone knowing durations in advance. A job that has waited
``starvation_s`` since it last ran (or was submitted) is promoted to queue 0.

A waiting job may preempt running jobs of a *lower* queue when that lets it start:
``preempt_running`` is ``preemptible`` (only jobs marked preemptible, the default), ``any``
(as in the paper; guaranteed jobs are never preempted) or ``none``.

``semantics: paper`` walks as the paper's simulator does instead (``tiresias_paper.py``):
running and waiting jobs together, every queue on every pass, each queue in the order jobs
joined it (a demoted job goes behind the jobs waiting in its new queue), and a running job
that no longer fits is preempted, whatever its queue.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import ClassVar

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority, RunningJob
from aitc.domain.org import Organisation
from aitc.engine import reasons
from aitc.engine.cycle import Cycle
from aitc.engine.policies.tiresias_lists import EntryOrder
from aitc.engine.policies.tiresias_paper import PaperWalk
from aitc.engine.policy import Policy
from aitc.engine.queues import Buckets
from aitc.engine.registry import register
from aitc.engine.view import Reason, ReasonCode, View

_MODES = {"preemptible": None, "any": None, "none": None}
_SEMANTICS = {"aitc": None, "paper": None}


@register
class Tiresias(Policy):
    """Least attained service first, in discrete queues, greedy queue by default."""

    name = "tiresias"
    PARAMS: ClassVar[Mapping[str, object]] = {
        "queue": "greedy",
        "thresholds": (3600.0, 36000.0),
        "starvation_s": 86400.0,
        "preempt_running": "preemptible",
        "semantics": "aitc",
    }

    def __init__(
        self, params: Mapping[str, object] = {}, organisations: Sequence[Organisation] = ()
    ) -> None:
        super().__init__(params, organisations)
        self.thresholds = self.params.numbers("thresholds")
        self.starvation_s = self.params.number("starvation_s", minimum=0.0)
        self.mode = self.params.choice("preempt_running", _MODES)
        # a running job's level grows with its attained service: victims change with the clock
        self.stable_victims = self.mode == "none"
        self._levels: dict[JobId, int] = {}
        self._fresh = 0
        self.paper = self.params.choice("semantics", _SEMANTICS) == "paper"
        self._entries = EntryOrder()
        if self.paper:  # the paper's walk replaces the queue discipline
            self.queue = PaperWalk(self._paper_order)

    def level(self, view: View, job: JobRequest, attained: float = 0.0) -> int:
        done = max(attained, view.usage.attained(job.id, view.now))
        return bisect.bisect_right(self.thresholds, done)

    def pending_level(self, view: View, job: JobRequest) -> int:
        last = view.usage.last_stopped(job.id)
        waited = view.now - (last if last is not None else job.submit)
        if self.starvation_s > 0 and waited >= self.starvation_s:
            return 0
        return self.level(view, job)

    def order(self, view: View, jobs: Sequence[JobRequest]) -> Iterable[JobRequest]:
        """Queue by queue, arrival order inside each, produced lazily.

        Queue-0 jobs come out as the walk reaches them and later queues are held back until
        the jobs run out, so a pass that stops early (nothing more fits) never looks at the
        rest of a long queue. ``_levels`` fills in as jobs come out, before anyone asks.
        """
        self._levels, self._fresh = {}, bisect.bisect_right(self.thresholds, 0.0)
        queue = view.pending
        if jobs is queue and self._fresh == 0 and not view.usage.ran_before():
            # every queued job is fresh, in queue 0 (none has run: a starving one goes there
            # too): arrival order, read by size so that a walk passes over the sizes the free
            # capacity cannot take a bucket at a time (``Buckets``)
            return Buckets(queue, [(g, n, bucket) for (g, n), bucket in queue.by_size().items()])
        return self._lazy_order(view, jobs)

    def _lazy_order(self, view: View, jobs: Sequence[JobRequest]) -> Iterator[JobRequest]:
        history, fresh, levels = view.usage.ran_before(), self._fresh, self._levels
        starving = view.now - self.starvation_s if self.starvation_s > 0 else -math.inf
        later: list[list[JobRequest]] = [[] for _ in range(len(self.thresholds) + 1)]
        for j in jobs:
            if j.id in history:
                level = levels[j.id] = self.pending_level(view, j)
            elif j.submit <= starving:
                level = levels[j.id] = 0
            else:
                level = fresh
            if level == 0:
                yield j
            else:
                later[level].append(j)
        for queue in later:
            yield from queue

    def _paper_order(self, cycle: Cycle) -> EntryOrder:
        """The paper's lists brought up to the pass's view (``tiresias_lists.py``)."""
        view = cycle.view
        self._entries.update(
            view,
            self._movable_priorities(),
            self._waiting_level(view),
            self._running_level(view),
            waiting_stays=self.starvation_s == 0,  # (else a waiting job may starve any time)
        )
        return self._entries

    def _waiting_level(self, view: View) -> Callable[[JobRequest], int]:
        """A waiting job's queue (as ``order`` finds it: fresh jobs without a lookup)."""
        history, fresh, thresholds = view.usage.ran_before(), self._fresh, self.thresholds
        starving = view.now - self.starvation_s if self.starvation_s > 0 else -math.inf

        def level(job: JobRequest) -> int:
            done = history.get(job.id)  # (a waiting job's attained service stands still)
            if done is None:
                return 0 if job.submit <= starving else fresh
            if starving > -math.inf:
                last = view.usage.last_stopped(job.id)
                if (last if last is not None else job.submit) <= starving:
                    return 0
            return bisect.bisect_right(thresholds, done)

        return level

    def _running_level(self, view: View) -> Callable[[RunningJob], tuple[int, float]]:
        """A running job's queue, and until when it stays there."""
        thresholds, now, attained = self.thresholds, view.now, view.usage.attained

        def level(run: RunningJob) -> tuple[int, float]:
            done = max(run.attained_gpu_seconds, attained(run.request.id, now))
            queue = bisect.bisect_right(thresholds, done)
            rate = run.request.gpu_demand
            if queue >= len(thresholds) or rate <= 0:
                return queue, math.inf
            return queue, now + (thresholds[queue] - done) / rate

        return level

    def _movable_priorities(self) -> frozenset[Priority]:
        """The priorities of the running jobs the paper's walk may preempt."""
        if not self.allow_preempt or self.mode == "none":
            return frozenset()
        if self.mode == "any":
            return frozenset({Priority.PREEMPTIBLE, Priority.STANDARD})
        return frozenset({Priority.PREEMPTIBLE})

    def rank_reason(self, cycle: Cycle, job: JobRequest) -> Reason | None:
        if self.paper:
            level = self._entries.level(job.id) or 0
        else:
            level = self._levels.get(job.id, self._fresh)
        if level == 0:
            return None
        return Reason(
            ReasonCode.PRIORITY,
            f"It has already received {cycle.view.usage.attained(job.id, cycle.now):.0f}"
            f" GPU-seconds, so it sits in queue {level}: jobs that have run less go "
            "first.",
            {"queue": level},
        )

    def candidates(self, cycle: Cycle, job: JobRequest) -> Sequence[RunningJob]:
        base = list(super().candidates(cycle, job))
        if self.mode == "none" or not self.could_preempt(cycle):
            return base
        mine = self._levels.get(job.id, self._fresh)
        lower = []
        for r in cycle.view.running:
            if r.request.id in cycle.preempted or r.request.priority is Priority.GUARANTEED:
                continue
            if self.mode == "preemptible" and r.request.priority is not Priority.PREEMPTIBLE:
                continue
            level = self.level(cycle.view, r.request, r.attained_gpu_seconds)
            if level > mine:
                lower.append((-level, -r.started, r.request.id, r))
        ranked = [r for *_, r in sorted(lower, key=lambda x: x[:3])]
        seen = {r.request.id for r in ranked}
        return ranked + [r for r in base if r.request.id not in seen]

    def could_preempt(self, cycle: Cycle) -> bool:
        if self.mode == "any":
            return any(
                r.request.priority is not Priority.GUARANTEED
                and r.request.id not in cycle.preempted
                for r in cycle.view.running
            )
        return super().could_preempt(cycle)

    def cannot_preempt(self, view: View) -> bool:
        return self.mode != "any" and self._none_preemptible(view)

    def group(self, cycle: Cycle, job: JobRequest) -> Hashable:
        return (self._levels.get(job.id, self._fresh), job.priority)


__all__ = ["Tiresias", "reasons"]
