"""The fair-share tree as the scheduler sees it now, for members (``aitc share``, as Slurm's
``sshare``; ``GET /api/v1/shares``).

The tree is the ``fairshare`` policy's own walk (``FairShare.tree``) over the usage ledger that
the controller builds at start-up: the same runs (``load_past_runs``, the same history window),
the same half-life and the same shares, so each member's level and rank here are the ones the
controller orders the queue by (as of its last walk: it walks again every ``recalc_s``). Under
another policy the tree is still the lab's entitlement against recent usage, but it does not
order the queue (``orders_queue``).

The tree holds those with recent usage or pending jobs (only they compete, so shares are
normalised among them). Its organisations are shown to everyone, as on the web overview; a
project or a member only to who may see the jobs of that member in that project
(``visible_jobs``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.snapshot import HISTORY_HALF_LIVES, load_organisations, load_past_runs
from aitc.control.store.access import Caller, visible_jobs
from aitc.control.store.models import JobRow
from aitc.domain.job import JobState
from aitc.domain.lab import PolicySpec
from aitc.engine.ledger import UsageLedger
from aitc.engine.params import half_life, split_params
from aitc.engine.pending import MemberKey
from aitc.engine.policies.fairshare import FairShare, Standing

FAIRSHARE = "fairshare"


@dataclass(frozen=True, slots=True)
class ShareRow:
    """One node of the tree the caller may see; ``rank``: a member's place in the walk (of
    ``Shares.members``), None for organisations and projects; ``pending``: the member's
    pending jobs (for a member), or those of its members (organisations, projects)."""

    standing: Standing
    rank: int | None
    pending: int


@dataclass(frozen=True, slots=True)
class Shares:
    policy: str
    orders_queue: bool
    half_life_s: float
    members: int  # members in the walk (those with usage or pending jobs), seen or not
    rows: list[ShareRow]


def shares(session: Session, caller: Caller, policy: PolicySpec | None, now: float) -> Shares:
    """The fair-share tree at ``now`` under the lab's ``policy`` (None: the default one),
    with the rows ``caller`` may see."""
    spec = policy or PolicySpec()
    life = half_life(spec.params)
    engine_params = split_params(spec.params)[0] if spec.name == FAIRSHARE else {}
    fair = FairShare(engine_params, load_organisations(session))
    ledger = UsageLedger(life)
    ledger.replay(load_past_runs(session, since=now - HISTORY_HALF_LIVES * life))
    waiting = _pending(session)
    tree = fair.tree(ledger.usage(now), waiting)
    members: list[MemberKey] = [n.key for n in tree if len(n.key) == 3]
    seen = _visible(session, caller, members)
    rows: list[ShareRow] = []
    rank = 0
    for node in tree:
        key = node.key
        if len(key) == 3:
            rank += 1
            if caller.is_admin or key in seen:
                rows.append(ShareRow(node, rank, waiting.get(key, 0)))
            continue
        shown = len(key) == 1 or caller.is_admin or any(m[:2] == key for m in seen)
        if shown:
            count = sum(n for m, n in waiting.items() if m[: len(key)] == key)
            rows.append(ShareRow(node, None, count))
    return Shares(spec.name, spec.name == FAIRSHARE, life, len(members), rows)


def _pending(session: Session) -> dict[tuple[str, str, str], int]:
    """Pending jobs per (organisation, project, member)."""
    stmt = (
        select(JobRow.org_id, JobRow.project_id, JobRow.member_id, func.count(JobRow.id))
        .where(JobRow.state == JobState.PENDING.value)
        .group_by(JobRow.org_id, JobRow.project_id, JobRow.member_id)
    )
    return {(o, p, m): n for o, p, m, n in session.execute(stmt)}


def _visible(session: Session, caller: Caller, keys: list[MemberKey]) -> set[MemberKey]:
    """Which of the members ``keys`` (organisation, project, member) ``caller`` may see: those
    whose jobs in that project ``visible_jobs`` lets them see (the rule is written once, there)."""
    if caller.is_admin or not keys:
        return set(keys)
    stmt = (
        select(JobRow.org_id, JobRow.project_id, JobRow.member_id)
        .where(visible_jobs(caller), JobRow.member_id.in_(sorted({k[2] for k in keys})))
        .distinct()
    )
    return {(o, p, m) for o, p, m in session.execute(stmt)} & set(keys)
