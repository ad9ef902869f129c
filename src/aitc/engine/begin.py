"""Jobs whose begin time has not come (Slurm's ``--begin``; its reason is ``BeginTime``).

A job with a begin time (``JobRequest.begin``) in the future is not eligible: the books keep
it here, out of the queue, until the clock reaches it (``wake``), and then queue it at its
place in arrival order. One rule for both drivers: the twin and the controller tell the books
what time it is, and ask ``next_due`` when to look again. A begin time in the past, or none,
keeps nothing out.
"""

from __future__ import annotations

import heapq
import math
from datetime import UTC, datetime

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest
from aitc.engine.view import Reason, ReasonCode


class BeginTimes:
    """The jobs waiting for their begin time, and when each one's comes."""

    def __init__(self) -> None:
        self.waiting: dict[JobId, JobRequest] = {}
        self.now = -math.inf  # the latest time the books were told (``wake``)
        self._due: list[tuple[float, JobId]] = []  # (begin, job); stale entries skipped

    def defers(self, job: JobRequest) -> bool:
        """Whether ``job`` must wait for its begin time (and is kept here: ``defer``)."""
        return job.begin is not None and job.begin > self.now

    def defer(self, job: JobRequest) -> None:
        assert job.begin is not None
        self.waiting[job.id] = job
        heapq.heappush(self._due, (job.begin, job.id))

    def withdraw(self, job_id: JobId) -> JobRequest | None:
        """Take a waiting job out (cancelled, held, changed); None if it was not waiting."""
        return self.waiting.pop(job_id, None)

    def wake(self, now: float) -> list[JobRequest]:
        """The clock reached ``now``: the waiting jobs whose begin time came, now eligible."""
        self.now = max(self.now, now)
        due = []
        while self._due and self._due[0][0] <= self.now:
            begin, job_id = heapq.heappop(self._due)
            job = self.waiting.get(job_id)
            if job is not None and job.begin == begin:
                due.append(self.waiting.pop(job_id))
        return due

    def next_due(self) -> float | None:
        """The next begin time to come (None: no job waits for one)."""
        while self._due:
            begin, job_id = self._due[0]
            job = self.waiting.get(job_id)
            if job is not None and job.begin == begin:
                return begin
            heapq.heappop(self._due)  # stale: the job left, or its begin time changed
        return None

    def reasons(self) -> dict[JobId, Reason]:
        """Why each waiting job waits (``BEGIN_TIME``)."""
        return {job_id: begin_time(job) for job_id, job in self.waiting.items()}


def begin_time(job: JobRequest) -> Reason:
    """A job waits for its begin time (its time is in the message as UTC: the engine knows no
    time zone; ``details["begin_at"]`` holds it in epoch seconds for clients to show)."""
    assert job.begin is not None
    at = datetime.fromtimestamp(job.begin, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Reason(
        ReasonCode.BEGIN_TIME,
        f"It may not start before its begin time, {at} (BeginTime: --begin).",
        {"begin_at": job.begin},
    )
