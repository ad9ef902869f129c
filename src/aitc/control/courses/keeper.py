"""The lab keeper: starts learners' labs, looks at them, and applies the course's rules.

It runs beside the controller in ``aitc serve`` (a thread of its own, every
``LabSettings.tick_s``), as JupyterHub runs its spawner beside its culler: it never starts or
stops a process itself, it submits and cancels jobs in the store and wakes the controller,
which the engine and the executor carry out. Each pass:

1. starts the lab of every seated learner of a session that is on and who has none
   (``labs.start_due``), and follows the labs' jobs (host once placed; stopped when the job
   ended or the session did) and the assessments' jobs (results);
2. looks at every running lab with its token, concurrently and outside any transaction
   (``labprobe.probe_all``);
3. records what it saw (ready, first reached: attended; activity, from Jupyter and from the
   GPU samples NVML reports), then judges each lab (``labrules.verdict``): a no-show's seat
   goes to the first waitlisted learner, whose lab starts; an idle lab is warned, then stopped.

The time is the injected clock's, so tests drive the rules with a ``FakeClock``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from aitc.control.clock import Clock
from aitc.control.courses import assessment, labs
from aitc.control.courses.labprobe import probe_all
from aitc.control.courses.labrules import Verdict
from aitc.control.store import Store
from aitc.control.store.models import CourseLabRow
from aitc.control.ticker import Ticker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeeperPass:
    """What one pass did, by lab id (``reclaimed``: the no-shows whose seat was given away)."""

    started: tuple[int, ...] = ()
    ready: tuple[int, ...] = ()
    reclaimed: tuple[int, ...] = ()
    warned: tuple[int, ...] = ()
    stopped: tuple[int, ...] = ()
    assessed: tuple[int, ...] = ()  # assessment runs that ended

    @property
    def changed_jobs(self) -> bool:
        """Whether the pass submitted or cancelled jobs (the controller should look now)."""
        return bool(self.started or self.reclaimed or self.stopped)


class LabKeeper(Ticker):
    """Keeps the labs of every session on this server (see the module docstring)."""

    thread_name = "aitc-lab-keeper"

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        settings: labs.LabSettings | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings or labs.LabSettings()
        super().__init__(self.settings.tick_s)
        self.store, self.clock = store, clock
        self.wake = wake

    def step(self) -> KeeperPass:
        """One pass (see the module docstring)."""
        now = self.clock.now()
        with self.store.session() as s:
            started = labs.start_due(session=s, now=now, settings=self.settings)
            ended = labs.follow_jobs(session=s, now=now, settings=self.settings)
            assessed = assessment.follow(session=s, now=now)
            targets = labs.probe_targets(session=s)
            started_ids = [lab.id for lab in started]
        statuses = probe_all(targets, timeout_s=self.settings.probe_timeout_s)
        with self.store.session() as s:
            ready = []
            for lab in s.scalars(select(CourseLabRow).where(CourseLabRow.state.in_(labs.LIVE))):
                was_starting = lab.state == "starting"
                labs.observe(session=s, lab=lab, status=statuses.get(lab.id), now=now)
                labs.observe_gpus(session=s, lab=lab, now=now)
                if was_starting and lab.state != "starting":
                    ready.append(lab.id)
            judged = labs.apply_rules(session=s, now=now, settings=self.settings)
        done = KeeperPass(
            started=(*started_ids, *(j.successor.id for j in judged if j.successor)),
            ready=tuple(ready),
            reclaimed=tuple(j.lab_id for j in judged if j.verdict is Verdict.RECLAIM),
            warned=tuple(j.lab_id for j in judged if j.verdict is Verdict.WARN),
            stopped=(
                *(lab.id for lab in ended),
                *(j.lab_id for j in judged if j.verdict is Verdict.STOP),
            ),
            assessed=tuple(run.id for run in assessed),
        )
        if done.changed_jobs and self.wake is not None:
            self.wake()
        return done
