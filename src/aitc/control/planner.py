"""The controller's side of the engine contract: build the ``View``, call the ``Scheduler``.

The controller calls the very ``Scheduler`` the twin calls, with the same policy name and
parameters from lab.yaml, so what the twin predicts is what production does. A pass's
explanations (why each pending job waits) and start estimates come from the pass itself
(``Outcome.reasons``/``estimates``) but cost a look at every pending job, so they stay off
the submit-to-running path: the planner reads them once the books have
been quiet for ``settle_s`` after a change (a burst of submissions costs one explanation, and
the pass that starts a new job never waits for the queue's reasons), at the latest
``max_wait_s`` after the first unexplained change, and, with no change, every ``refresh_s``
(usage decays, so fair-share reasons drift).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from aitc.domain.ids import JobId
from aitc.domain.lab import PolicySpec
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.engine.books import Books
from aitc.engine.params import half_life, split_params
from aitc.engine.scheduler import Outcome, Scheduler
from aitc.engine.view import Action, Reason


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions of one pass and, when computed, the reasons and estimates of pending jobs."""

    actions: Sequence[Action]
    outcome: Outcome | None = None
    explain_due: bool = False
    reasons: Mapping[JobId, tuple[Reason, ...]] | None = None
    estimates: Mapping[JobId, float | None] = field(default_factory=dict)


class Planner:
    """Holds the ``Scheduler`` (rebuilt when the organisations change) and runs passes."""

    def __init__(
        self,
        policy: PolicySpec,
        *,
        settle_s: float = 0.5,
        max_wait_s: float = 10.0,
        refresh_s: float = 60.0,
    ) -> None:
        self.policy = policy
        self.settle_s, self.max_wait_s, self.refresh_s = settle_s, max_wait_s, refresh_s
        self.half_life_s = half_life(policy.params)
        self.organisations: tuple[Organisation, ...] = ()
        self.scheduler = self._scheduler()
        self._seen: int | None = None  # the books' ``changes`` last seen
        self._changed_at = -math.inf
        self._unexplained_since: float | None = None
        self._explained_at = -math.inf

    def _scheduler(self) -> Scheduler:
        params, _ = split_params(self.policy.params)  # the split the twin uses too
        return Scheduler(self.policy.name, params=params, organisations=self.organisations)

    def set_organisations(self, organisations: tuple[Organisation, ...]) -> None:
        if organisations != self.organisations:
            self.organisations = organisations
            self.scheduler = self._scheduler()
            self._explained_at = -math.inf  # explain again at the next quiet pass

    def plan(self, books: Books, reservations: Sequence[Reservation], now: float) -> Plan:
        """The pass's actions on the controller's books; reasons and estimates come later from
        ``explain`` (off the submit-to-running path)."""
        view = books.view(now, organisations=self.organisations, reservations=reservations)
        outcome = self.scheduler.run(view)
        return Plan(
            actions=outcome.actions, outcome=outcome, explain_due=self._explain_due(books, now)
        )

    def explain(self, plan: Plan) -> Plan:
        """``plan`` with why each pending job waits and when it may start, when due (read from
        the pass before its actions are applied to the books)."""
        if not plan.explain_due or plan.outcome is None:
            return plan
        return replace(plan, reasons=plan.outcome.reasons(), estimates=plan.outcome.estimates())

    def note(self, books: Books, now: float) -> None:
        """Remember whether the books changed (the driver calls it after applying actions)."""
        if books.changes != self._seen:  # grows with every change of the queue or the running
            self._seen, self._changed_at = books.changes, now
            if self._unexplained_since is None:
                self._unexplained_since = now

    def _explain_due(self, books: Books, now: float) -> bool:
        self.note(books, now)
        since = self._unexplained_since
        if since is not None:
            due = now - self._changed_at >= self.settle_s or now - since >= self.max_wait_s
        else:
            due = now - self._explained_at >= self.refresh_s
        if not due or not books.pending:
            return False
        self._unexplained_since, self._explained_at = None, now
        return True
