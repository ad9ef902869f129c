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

from aitc.control.holdings import Holdings
from aitc.control.snapshot import Snapshot
from aitc.domain.cluster import Cluster
from aitc.domain.ids import JobId
from aitc.domain.job import RunningJob
from aitc.domain.lab import PolicySpec
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.engine.scheduler import Scheduler
from aitc.engine.view import Action, Reason, View

DEFAULT_HALF_LIFE_S = 7 * 86400.0
# Policy parameters that belong to a driver, not to the engine: the ledger's half-life (the
# controller owns the ledger) and the twin's simulation settings.
DRIVER_PARAMS = frozenset({"half_life_s", "tick_s", "leaf_penalty", "su_penalty"})


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
        self.half_life_s = half_life(policy)
        self.organisations: tuple[Organisation, ...] = ()
        self.scheduler = self._scheduler()
        self._explained: tuple[object, ...] | None = None
        self._explained_at = -math.inf

    def _scheduler(self) -> Scheduler:
        params = {k: v for k, v in self.policy.params.items() if k not in DRIVER_PARAMS}
        return Scheduler(self.policy.name, params=params, organisations=self.organisations)

    def set_organisations(self, organisations: tuple[Organisation, ...]) -> None:
        if organisations != self.organisations:
            self.organisations = organisations
            self.scheduler = self._scheduler()
            self._explained = None

    def view(
        self,
        cluster: Cluster,
        snapshot: Snapshot,
        holdings: Holdings,
        reservations: Sequence[Reservation],
        now: float,
    ) -> View:
        running = [
            RunningJob(
                a.request, a.placement, a.started, holdings.ledger.attained(a.request.id, now)
            )
            for a in snapshot.active
            if holdings.holds(a.id)
        ]
        return View(
            now=now,
            cluster=cluster,
            pending=snapshot.pending,
            running=running,
            capacity=holdings.capacity,
            usage=holdings.ledger,
            organisations=self.organisations,
            reservations=reservations,
        )

    def plan(
        self,
        cluster: Cluster,
        snapshot: Snapshot,
        holdings: Holdings,
        reservations: Sequence[Reservation],
        now: float,
    ) -> Plan:
        """The pass's actions; reasons and estimates come later from ``explain`` (off the
        submit-to-running path)."""
        view = self.view(cluster, snapshot, holdings, reservations, now)
        return Plan(
            actions=self.scheduler.schedule(view),
            view=view,
            explain_due=self._explain_due(snapshot, now),
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

    def _explain_due(self, snapshot: Snapshot, now: float) -> bool:
        key = (
            tuple(j.id for j in snapshot.pending),
            tuple((a.id, a.attempt) for a in snapshot.active),
        )
        if key == self._explained and now - self._explained_at < self.explain_every_s:
            return False
        self._explained, self._explained_at = key, now
        return bool(snapshot.pending)


def half_life(policy: PolicySpec) -> float:
    """The usage half-life from the policy's parameters (``half_life_s``), else 7 days."""
    value = policy.params.get("half_life_s", DEFAULT_HALF_LIFE_S)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return DEFAULT_HALF_LIFE_S
