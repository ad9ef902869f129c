"""The controller's side of the engine contract: build the ``View``, call the ``Scheduler``.

The controller calls the very ``Scheduler`` the twin calls, with the same policy name and
parameters from lab.yaml, so what the twin predicts is what production does. Explanations
(why each pending job waits) and start estimates cost two more passes; the planner computes
them only when the queue or the running set changed, and at least every ``explain_every_s``.
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
from aitc.engine.scheduler import Scheduler
from aitc.engine.view import Action, Reason, View


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions of one pass and, when computed, the reasons and estimates of pending jobs."""

    actions: Sequence[Action]
    view: View | None = None
    explain_due: bool = False
    reasons: Mapping[JobId, tuple[Reason, ...]] | None = None
    estimates: Mapping[JobId, float | None] = field(default_factory=dict)


class Planner:
    """Holds the ``Scheduler`` (rebuilt when the organisations change) and runs passes."""

    def __init__(self, policy: PolicySpec, explain_every_s: float = 10.0) -> None:
        self.policy = policy
        self.explain_every_s = explain_every_s
        self.half_life_s = half_life(policy.params)
        self.organisations: tuple[Organisation, ...] = ()
        self.scheduler = self._scheduler()
        self._explained: int | None = None
        self._explained_at = -math.inf

    def _scheduler(self) -> Scheduler:
        params, _ = split_params(self.policy.params)  # the split the twin uses too
        return Scheduler(self.policy.name, params=params, organisations=self.organisations)

    def set_organisations(self, organisations: tuple[Organisation, ...]) -> None:
        if organisations != self.organisations:
            self.organisations = organisations
            self.scheduler = self._scheduler()
            self._explained = None

    def plan(self, books: Books, reservations: Sequence[Reservation], now: float) -> Plan:
        """The pass's actions on the controller's books; reasons and estimates come later from
        ``explain`` (off the submit-to-running path)."""
        view = books.view(now, organisations=self.organisations, reservations=reservations)
        return Plan(
            actions=self.scheduler.schedule(view),
            view=view,
            explain_due=self._explain_due(books, now),
        )

    def explain(self, plan: Plan) -> Plan:
        """``plan`` with why each pending job waits and when it may start, when due."""
        if not plan.explain_due or plan.view is None:
            return plan
        return replace(
            plan,
            reasons=self.scheduler.explain(plan.view),
            estimates=self.scheduler.estimate_starts(plan.view),
        )

    def _explain_due(self, books: Books, now: float) -> bool:
        key = books.changes  # grows with every change of the queue or the running jobs
        if key == self._explained and now - self._explained_at < self.explain_every_s:
            return False
        self._explained, self._explained_at = key, now
        return bool(books.pending)
