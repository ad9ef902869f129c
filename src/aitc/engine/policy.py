"""The priority seam and the base every policy builds on.

A policy answers three questions, each one method: in what order pending jobs are tried
(``order``, the priority seam), whether a job may start at all (``admit``: quota), and which
running jobs may be preempted for it (``candidates``). The queue discipline (strict, EASY
backfill, greedy) and the placement are parameters, so every policy composes with both.

Parameters common to every policy (defaults in ``COMMON``):

- ``queue``: ``strict`` | ``backfill`` | ``greedy`` (each policy picks its default);
- ``backfill_depth``: how many jobs after the head a backfill pass looks at (0: all), like
  Slurm's ``bf_max_job_test``;
- ``placement``: a placement by its registry name: ``topology`` (best fit in a node, a leaf,
  an SU) | ``first_fit`` (lowest-numbered nodes) | ``pool`` (any free GPUs, no locality);
- ``default_time_limit_s``: the time limit assumed for jobs without one (backfill and
  reservations plan with it);
- ``preempt``: whether jobs marked preemptible may be stopped for non-preemptible ones;
- ``preempt_overhead_s``: seconds of work a preemption costs (applied by the driver);
- ``half_life_s``: the usage ledger's half-life. The ledger belongs to the driver, which builds
  it with this value; the engine accepts it so that one parameter table serves both.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import ClassVar, Protocol

from aitc.domain.job import JobRequest, Priority, RunningJob
from aitc.domain.org import Organisation
from aitc.engine.cycle import Cycle
from aitc.engine.params import DEFAULT_HALF_LIFE_S, Params
from aitc.engine.placement import PlacementPolicy
from aitc.engine.queues import BackfillQueue, GreedyQueue, QueuePolicy, StrictQueue
from aitc.engine.registry import PLACEMENTS
from aitc.engine.view import Reason, View

COMMON: Mapping[str, object] = {
    "queue": "greedy",
    "backfill_depth": 0,
    "placement": "topology",
    "default_time_limit_s": 86400.0,
    "preempt": True,
    "preempt_overhead_s": 0.0,
    "half_life_s": DEFAULT_HALF_LIFE_S,
}

QUEUES: Mapping[str, type[QueuePolicy]] = {
    "strict": StrictQueue,
    "backfill": BackfillQueue,
    "greedy": GreedyQueue,
}


class PriorityPolicy(Protocol):
    """Orders the pending jobs of one pass, most important first."""

    def order(self, view: View, jobs: Sequence[JobRequest]) -> Iterable[JobRequest]: ...


class Policy:
    """Arrival order, no admission limits, preempts preemptible jobs for the others.

    Subclasses set ``name``, add their parameters to ``PARAMS`` and override what differs.
    """

    name: ClassVar[str] = ""
    PARAMS: ClassVar[Mapping[str, object]] = {}
    # whether ``candidates`` depends only on the running jobs and the queue, never on the
    # clock (quiet passes rely on it: quiet.py)
    stable_victims: bool = True

    def __init__(
        self, params: Mapping[str, object] = {}, organisations: Sequence[Organisation] = ()
    ) -> None:
        self.params = Params(self.name, {**COMMON, **self.PARAMS}, params)
        self.organisations = {o.id: o for o in organisations}
        queue = QUEUES[self.params.choice("queue", QUEUES)]
        # backfill may lump organisations together only when admission ignores them
        open_admission = type(self).admit is Policy.admit
        depth = self.params.whole("backfill_depth")
        self.queue: QueuePolicy = (
            BackfillQueue(open_admission, depth) if queue is BackfillQueue else queue()
        )
        self.placement: PlacementPolicy = PLACEMENTS[self.params.choice("placement", PLACEMENTS)]()
        self.default_time_limit = self.params.number("default_time_limit_s", minimum=0.0)
        self.allow_preempt = self.params.flag("preempt")
        self.preempt_overhead_s = self.params.number("preempt_overhead_s", minimum=0.0)
        self.half_life_s = self.params.number("half_life_s", minimum=1e-9)

    def order(self, view: View, jobs: Sequence[JobRequest]) -> Iterable[JobRequest]:
        """The jobs in the order to try them; may be lazy (consumed once, within the pass)."""
        return jobs

    def admit(self, cycle: Cycle, job: JobRequest) -> Reason | None:
        return None

    def rank_reason(self, cycle: Cycle, job: JobRequest) -> Reason | None:
        """A reason a waiting job has from its place in the order (fair share, queue level)."""
        return None

    def candidates(self, cycle: Cycle, job: JobRequest) -> Sequence[RunningJob]:
        """Preemptible jobs (newest first: the least work lost) for a non-preemptible job."""
        if job.priority is Priority.PREEMPTIBLE or not Policy.could_preempt(self, cycle):
            return ()
        out = [
            r
            for r in cycle.view.running
            if r.request.priority is Priority.PREEMPTIBLE and r.request.id not in cycle.preempted
        ]
        return sorted(out, key=lambda r: (-r.started, r.request.id))

    def could_preempt(self, cycle: Cycle) -> bool:
        """Whether any running job could still be preempted in this pass."""
        if self._none_preemptible(cycle.view):
            return False
        return any(
            r.request.priority is Priority.PREEMPTIBLE and r.request.id not in cycle.preempted
            for r in cycle.view.running
        )

    def cannot_preempt(self, view: View) -> bool:
        """Whether no running job can be preempted in a pass on ``view``, told without a
        cycle (the scheduler then decides a pass with nothing free or a blocked head without
        planning one): True only where ``could_preempt`` of a fresh pass is False. A policy
        that preempts by rules of its own (overrides ``could_preempt``) gets False here (it
        may preempt) unless it overrides this too."""
        return type(self).could_preempt is Policy.could_preempt and self._none_preemptible(view)

    def _none_preemptible(self, view: View) -> bool:
        # the ledger counts the preemptible running jobs: no scan of them needed
        return not self.allow_preempt or view.usage.preemptible_running() == 0

    def group(self, cycle: Cycle, job: JobRequest) -> Hashable:
        return job.priority is Priority.PREEMPTIBLE
