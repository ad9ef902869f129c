"""fairshare: Fair Tree order by level fair share = share / usage, level by level."""

import math

import pytest
from engine_builders import Rig, cluster, job, org, start
from hypothesis import given
from hypothesis import strategies as st

from aitc.engine import make_scheduler
from aitc.engine.policies.fairshare import _sorted
from aitc.engine.view import ReasonCode as R


def used(rig: Rig, name: str, gpu_seconds: float, *, project: str = "p", member: str = "m"):
    """Record past usage: a job of ``gpu_seconds`` that ran on 1 GPU from 0 and has ended."""
    past = job(f"past-{name}-{project}-{member}", 1, org=name, project=project, member=member)
    rig.ledger.job_started(past, 0.0)
    rig.ledger.job_stopped(past.id, gpu_seconds)


def rig_with(usage_a: float, usage_b: float) -> Rig:
    rig = Rig(cluster(1), half_life_s=float("inf"))
    used(rig, "a", usage_a)
    used(rig, "b", usage_b)
    rig.now = max(usage_a, usage_b)
    return rig.submit(job("ja", 8, org="a"), job("jb", 8, org="b"))


@pytest.mark.parametrize(
    ("share_a", "usage_a", "usage_b", "first"),
    [
        (1.0, 6000.0, 1000.0, "jb"),  # equal shares: less usage goes first
        (1.0, 1000.0, 6000.0, "ja"),
        (3.0, 6000.0, 1000.0, "jb"),  # a: 0.75 / 0.857 = 0.88 < b: 0.25 / 0.143 = 1.75
        (3.0, 2000.0, 1000.0, "ja"),  # a: 0.75 / 0.667 = 1.13 > b: 0.25 / 0.333 = 0.75
    ],
)
def test_the_organisation_furthest_below_its_share_goes_first(share_a, usage_a, usage_b, first):
    rig = rig_with(usage_a, usage_b)
    scheduler = make_scheduler("fairshare", organisations=[org("a", share_a), org("b", 1.0)])
    assert scheduler.schedule(rig.view()) == [start(first, ("n1", range(8)))]


def test_inside_an_organisation_projects_compete_by_their_own_shares():
    rig = Rig(cluster(1), half_life_s=float("inf"))
    used(rig, "a", 3000.0, project="heavy")
    used(rig, "a", 1000.0, project="light")
    rig.now = 3000.0
    rig.submit(job("h", 8, org="a", project="heavy"), job("l", 8, org="a", project="light"))
    orgs = [org("a", projects=[("heavy", 1.0), ("light", 1.0)])]
    assert make_scheduler("fairshare", organisations=orgs).schedule(rig.view()) == [
        start("l", ("n1", range(8)))
    ]
    orgs = [org("a", projects=[("heavy", 5.0), ("light", 1.0)])]  # heavy: 5/6 / 3/4 > 1/6 / 1/4
    assert make_scheduler("fairshare", organisations=orgs).schedule(rig.view()) == [
        start("h", ("n1", range(8)))
    ]


def test_usage_decays_with_the_half_life():
    rig = Rig(cluster(1), half_life_s=100.0)
    used(rig, "a", 1000.0)
    at_end = rig.ledger.usage(1000.0).orgs["a"]
    assert at_end == pytest.approx(100.0 / math.log(2) * (1 - 2**-10))  # decays while it runs
    assert rig.ledger.usage(1100.0).orgs["a"] == pytest.approx(at_end / 2)


def test_a_waiting_job_names_its_fair_share_rank():
    rig = rig_with(6000.0, 1000.0)
    why = make_scheduler("fairshare", organisations=[org("a"), org("b")]).run(rig.view()).reasons()
    reason = why[rig.pending[0].id][0]
    assert reason.code is R.FAIR_SHARE
    assert reason.details["rank"] == 2
    assert "place 2 of 2" in reason.message


def _reference_levels(
    share: dict[str, float], usage: dict[str, float]
) -> list[tuple[str, float, float, float]]:
    """Siblings' shares and usage as fractions of theirs, and their level fair shares, written
    plainly: (share / sum) / (usage / sum)."""
    total_s = sum(share.values()) or 1.0
    total_u = sum(usage.values())
    out = []
    for n in sorted(share):
        s, u = share[n] / total_s, usage[n] / total_u if total_u else 0.0
        out.append((n, s, u, (math.inf if s > 0 else 0.0) if u <= 0.0 else s / u))
    return sorted(out, key=lambda x: -x[3])


@given(
    st.dictionaries(
        st.sampled_from("abcde"),
        st.tuples(
            st.sampled_from([0.0, 0.5, 1.0, 3.0]),
            st.sampled_from([0.0, 1e-300, 2.5, 1000.0]),
        ),
        min_size=1,
    ),
    st.booleans(),
)
def test_siblings_rank_as_written_plainly_only_children_too(
    siblings: dict[str, tuple[float, float]], equal: bool
) -> None:
    share = {n: 1.0 if equal else s for n, (s, _) in siblings.items()}
    usage = {n: u for n, (_, u) in siblings.items()}
    assert _sorted(None if equal else share, usage) == _reference_levels(share, usage)
