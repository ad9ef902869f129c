"""backfill_depth: a backfill pass looks at only so many jobs after the head."""

import pytest
from engine_builders import Rig, cluster, job, on, start

from aitc.engine import make_scheduler
from aitc.engine.view import ReasonCode as R
from aitc.errors import ConfigError


def rig_with_two_short_jobs() -> Rig:
    """n1 busy until t=100, n2 half busy; the head waits for n1, two short jobs fit on n2."""
    rig = Rig(cluster(2))
    rig.run_job(job("x", 8, limit=100.0), on(("n1", range(8))))
    rig.run_job(job("y", 4, limit=1000.0), on(("n2", range(4))))
    return rig.submit(job("head", 8), job("s1", 2, limit=50.0), job("s2", 2, limit=50.0))


def test_without_a_depth_every_job_behind_the_head_may_backfill():
    rig = rig_with_two_short_jobs()
    assert make_scheduler("backfill").schedule(rig.view()) == [
        start("s1", ("n2", [4, 5])),
        start("s2", ("n2", [6, 7])),
    ]


def test_a_depth_of_one_backfills_only_the_first_job_behind_the_head():
    rig = rig_with_two_short_jobs()
    scheduler = make_scheduler("backfill", backfill_depth=1)
    outcome = scheduler.run(rig.view())
    assert outcome.actions == [start("s1", ("n2", [4, 5]))]
    s2 = outcome.reasons()[rig.pending[2].id]
    assert [r.code for r in s2] == [R.PRIORITY]
    assert s2[0].details == {"ahead": 1}  # after the pass only the head waits before it
    assert "backfill looks at 1 jobs after the first waiting one" in s2[0].message


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_backfill_depth_must_be_a_whole_number_of_at_least_zero(bad):
    with pytest.raises(ConfigError) as err:
        make_scheduler("backfill", backfill_depth=bad)
    assert err.value.field == "policy.params.backfill_depth"
