"""``fairshare``: hierarchical fair share, organisation → project → member, like Slurm's Fair Tree.

At each level of the tree, siblings are sorted by their *level fair share*
``LF = (share / sum of sibling shares) / (usage / sum of sibling usage)``: the further a
sibling is below its entitlement, the higher it ranks (no usage at all ranks first). A
depth-first walk of the sorted tree ranks every member; jobs are tried in member rank order,
then in arrival order. Usage is the decayed usage of the ledger, so old usage fades with the
ledger's half-life. Shares come from lab.yaml: ``Organisation.share``, ``Project.share``;
members of a project weigh the same. Organisations not in lab.yaml weigh ``default_share``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, NamedTuple

from aitc.domain.job import JobRequest
from aitc.domain.org import Organisation
from aitc.engine import reasons
from aitc.engine.cycle import Cycle
from aitc.engine.ledger import Usage
from aitc.engine.pending import MemberKey, PendingQueue
from aitc.engine.policy import Policy
from aitc.engine.registry import register
from aitc.engine.view import Reason, View


class Standing(NamedTuple):
    """One node of the Fair Tree at one instant (``FairShare.tree``): an organisation
    (``key`` of one name), a project (two) or a member (three), with its share and decayed
    usage, each also as a fraction of its siblings', and its level fair share."""

    key: tuple[str, ...]
    share: float  # lab.yaml's (organisations, projects); every member weighs 1
    usage: float  # decayed GPU-seconds
    norm_share: float  # share / the sum of its siblings' shares
    norm_usage: float  # usage / the sum of its siblings' usage (0 where none)
    level: float  # norm_share / norm_usage (inf: no usage)


@register
class FairShare(Policy):
    """Fair Tree order with EASY backfill by default."""

    name = "fairshare"
    PARAMS: ClassVar[Mapping[str, object]] = {
        "queue": "backfill",
        "default_share": 1.0,
        "recalc_s": 300.0,
    }

    def __init__(
        self, params: Mapping[str, object] = {}, organisations: Sequence[Organisation] = ()
    ) -> None:
        super().__init__(params, organisations)
        self.default_share = self.params.number("default_share", minimum=0.0)
        self.recalc_s = self.params.number("recalc_s", minimum=0.0)
        self._walk: dict[MemberKey, int] = {}  # every ranked member's place in the walk
        self._levels: dict[MemberKey, float] = {}  # and its level fair share
        # each organisation's projects' shares (lab.yaml's; read at every walk)
        self._shares = {
            o.id: {p.id: p.share for p in o.projects} for o in self.organisations.values()
        }
        self._walked_at = -math.inf
        self._waiting: set[MemberKey] = set()
        # the waiting members in walk order, for a queue and its members' epoch
        self._members_of: tuple[PendingQueue, int, dict[MemberKey, int], list[MemberKey]] | None = (
            None
        )

    def order(self, view: View, jobs: Sequence[JobRequest]) -> Iterable[JobRequest]:
        """Members in Fair Tree rank order, each member's jobs in arrival order.

        The jobs come bucketed by member from the driver's ``PendingQueue`` (else one pass over
        them buckets them); the buckets' keys are the waiting members. The walk is reused
        until it is ``recalc_s`` old or a member it has not ranked waits.
        """
        if jobs is view.pending:
            queue = view.pending
            buckets = queue.by_member()
            kept = self._members_of
            if (
                kept is not None
                and kept[0] is queue
                and kept[1] == queue.members_epoch
                and kept[2] is self._walk
                and self._walk_fresh(view)
            ):
                members = kept[3]  # the same members wait, and the walk stands
            else:
                members = self._walk_for(view, set(buckets))
                self._members_of = (queue, queue.members_epoch, self._walk, members)
            return itertools.chain.from_iterable(buckets[k].values() for k in members)
        by_member = _bucketed(jobs)
        members = self._walk_for(view, set(by_member))
        return itertools.chain.from_iterable(by_member[k] for k in members)

    def _walk_fresh(self, view: View) -> bool:
        return 0.0 <= view.now - self._walked_at < self.recalc_s

    def _walk_for(self, view: View, waiting: set[MemberKey]) -> list[MemberKey]:
        """The waiting members in walk order; the walk is reused until it is ``recalc_s``
        old or a member it has not ranked waits."""
        if not self._walk_fresh(view) or not waiting <= self._walk.keys():
            order = self._walk_order(view, waiting)
            keys = [k for k, _ in order]
            self._walk = dict(zip(keys, range(1, len(keys) + 1), strict=True))
            self._levels = dict(order)
            self._walked_at = view.now
        self._waiting = waiting
        return sorted(waiting, key=self._walk.__getitem__)

    def rank_reason(self, cycle: Cycle, job: JobRequest) -> Reason | None:
        key = (job.org, job.project, job.member)
        mine = self._walk.get(key)
        if mine is None:
            return None
        place = 1 + sum(1 for k in self._waiting if self._walk[k] < mine)
        if place == 1:
            return None
        return reasons.fair_share(job, place, len(self._waiting), self._levels[key])

    def tree(self, usage: Usage, members: Iterable[MemberKey] = ()) -> list[Standing]:
        """The Fair Tree walk over ``usage``: every organisation, project and member with usage
        or in ``members`` (those with pending jobs), each node before its children, siblings
        in rank order. The members' order is the order the policy tries their jobs in."""
        tree: dict[str, dict[str, dict[str, float]]] = {o: {} for o in usage.orgs}
        for o, p in usage.projects:
            tree.setdefault(o, {}).setdefault(p, {})
        groups: dict[tuple[str, str], dict[str, float]] = {}  # (org, project) -> its members
        for key, used in usage.members.items():
            group = groups.get(key[:2])
            if group is None:
                group = groups[key[:2]] = tree.setdefault(key[0], {}).setdefault(key[1], {})
            group[key[2]] = used
        for o, p, m in members:
            tree.setdefault(o, {}).setdefault(p, {}).setdefault(m, 0.0)
        out: list[Standing] = []
        org_share = {o: self._org_share(o) for o in tree}
        org_use = {o: usage.orgs.get(o, 0.0) for o in tree}
        for org, o_share, o_use, o_level in _sorted(org_share, org_use):
            out.append(Standing((org,), org_share[org], org_use[org], o_share, o_use, o_level))
            shares = self._project_shares(org)
            projects = tree[org]
            project_share = {p: shares.get(p, 1.0) for p in projects}
            project_use = {p: usage.projects.get((org, p), 0.0) for p in projects}
            for project, p_share, p_use, p_level in _sorted(project_share, project_use):
                raw_share, raw_use = project_share[project], project_use[project]
                out.append(Standing((org, project), raw_share, raw_use, p_share, p_use, p_level))
                use = projects[project]
                for member, m_share, m_use, m_level in _sorted(None, use):
                    key = (org, project, member)
                    out.append(Standing(key, 1.0, use[member], m_share, m_use, m_level))
        return out

    def _walk_order(self, view: View, members: set[MemberKey]) -> list[tuple[MemberKey, float]]:
        """The members of the Fair Tree walk at ``view.now`` (``tree``), in rank order, with
        their level fair share. Siblings are compared with every sibling that has usage,
        pending jobs or not."""
        return [
            (n.key, n.level)
            for n in self.tree(view.usage.usage(view.now), members)
            if len(n.key) == 3
        ]

    def _org_share(self, org: str) -> float:
        found = self.organisations.get(org)
        return found.share if found is not None else self.default_share

    def _project_shares(self, org: str) -> Mapping[str, float]:
        return self._shares.get(org, _NO_SHARES)


_NO_SHARES: Mapping[str, float] = {}


def _bucketed(jobs: Iterable[JobRequest]) -> dict[MemberKey, list[JobRequest]]:
    """The jobs of each member, in the order given."""
    by_member: dict[MemberKey, list[JobRequest]] = {}
    for j in jobs:
        key = (j.org, j.project, j.member)
        bucket = by_member.get(key)
        if bucket is None:
            by_member[key] = [j]
        else:
            bucket.append(j)
    return by_member


def _sorted(
    share: Mapping[str, float] | None, usage: Mapping[str, float]
) -> list[tuple[str, float, float, float]]:
    """Siblings (the keys of ``usage``) with their share and usage as fractions of the
    siblings' and their level fair share, highest level first (ties by name); ``share``
    None: every sibling weighs the same."""
    if len(usage) == 1:  # an only child (most projects, most members): the same sums, inline
        ((name, used),) = usage.items()
        alone = 1.0 if share is None else share[name]
        norm_share, norm_use = alone / (alone or 1.0), used / used if used else 0.0
        return [(name, norm_share, norm_use, _level(norm_share, norm_use))]
    if share is None:
        share = dict.fromkeys(usage, 1.0)
    total_s = sum(share.values()) or 1.0
    total_u = sum(usage.values())
    levels = []
    for n in sorted(share):
        norm_share, norm_use = share[n] / total_s, usage[n] / total_u if total_u else 0.0
        levels.append((n, norm_share, norm_use, _level(norm_share, norm_use)))
    return sorted(levels, key=lambda x: -x[3])


def _level(share: float, usage: float) -> float:
    if usage <= 0.0:
        return math.inf if share > 0 else 0.0
    return share / usage
