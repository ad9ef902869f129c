"""``strict``: try jobs in order and stop at the first that cannot start (plain FIFO)."""

from __future__ import annotations

from collections.abc import Iterable

from aitc.domain.job import JobRequest
from aitc.engine.cycle import Cycle, VictimFinder
from aitc.engine.queues.walk import IN_ORDER, Admit, Walk, Why, admitted, behind


class StrictQueue:
    """Stop at the first job that cannot start; every later job waits behind it."""

    def run(
        self,
        cycle: Cycle,
        ordered: Iterable[JobRequest],
        victims: VictimFinder | None,
        admit: Admit,
    ) -> Walk:
        for job in ordered:
            if not cycle.possible(job):
                continue
            if not admitted(cycle, job, admit) or not cycle.try_start(job, victims):
                return Walk(complete=False, head=job)
        return Walk(complete=True)

    def why(self, cycle: Cycle, walk: Walk, job: JobRequest, ahead: int) -> Why:
        return IN_ORDER if ahead == 0 else behind(job, ahead, "first come, first served")
