"""quota: guaranteed GPUs per organisation, bounded borrowing, reclaim from borrowers."""

from engine_builders import Rig, cluster, job, on, org, start

from aitc.engine import make_scheduler
from aitc.engine.view import Preempt
from aitc.engine.view import ReasonCode as R


def test_jobs_within_quota_and_borrow_limit_start_the_rest_wait():
    rig = Rig(cluster(3)).submit(
        job("a1", 8, org="a"), job("a2", 8, org="a"), job("a3", 8, org="a")
    )
    scheduler = make_scheduler("quota", organisations=[org("a", quota=8, borrow=8)])
    assert scheduler.schedule(rig.view()) == [
        start("a1", ("n1", range(8))),
        start("a2", ("n2", range(8))),
    ]
    why = scheduler.run(rig.view()).reasons()[rig.pending[2].id]
    assert [r.code for r in why] == [R.QUOTA]
    assert "quota of 8" in why[0].message


def test_an_owner_reclaims_its_quota_from_a_borrower():
    rig = Rig(cluster(2))
    early, late = job("b1", 8, org="b"), job("b2", 8, org="b")
    rig.run_job(early, on(("n1", range(8))))
    rig.now = 10.0
    rig.run_job(late, on(("n2", range(8))))  # b borrows a's idle quota
    rig.submit(job("a1", 8, org="a", submit=10.0))
    orgs = [org("a", quota=8), org("b", quota=8)]
    assert make_scheduler("quota", organisations=orgs).schedule(rig.view()) == [
        Preempt(late.id, f"to start job {rig.pending[0].id}"),
        start("a1", ("n2", range(8))),
    ]


def test_a_borrower_never_reclaims():
    rig = Rig(cluster(2))
    rig.run_job(job("b1", 8, org="b"), on(("n1", range(8))))
    rig.run_job(job("b2", 8, org="b"), on(("n2", range(8))))
    rig.submit(job("a1", 8, org="a"))
    orgs = [org("a", quota=0), org("b", quota=8)]  # a would borrow: it may not preempt
    assert make_scheduler("quota", organisations=orgs).schedule(rig.view()) == []


def test_jobs_inside_their_quota_go_before_borrowers():
    rig = Rig(cluster(1))
    rig.submit(job("borrow", 8, org="b", submit=0.0), job("owner", 8, org="a", submit=5.0))
    rig.now = 5.0
    orgs = [org("a", quota=8), org("b", quota=0)]
    assert make_scheduler("quota", organisations=orgs).schedule(rig.view()) == [
        start("owner", ("n1", range(8)))
    ]


def test_a_reclaim_takes_the_newest_borrowed_job_and_of_equal_starts_the_lowest_id_first():
    """Victims come newest first; jobs that started at the same time, by id, whatever order
    the driver learnt of them in."""
    rig = Rig(cluster(3))
    oldest, high, low = job("b0", 8, org="b"), job("b2", 8, org="b"), job("b1", 8, org="b")
    assert low.id < high.id
    rig.run_job(oldest, on(("n1", range(8))))
    rig.now = 10.0
    rig.run_job(high, on(("n2", range(8))))  # (told first, though its id is higher)
    rig.run_job(low, on(("n3", range(8))))
    rig.submit(job("a1", 8, org="a", submit=10.0))
    orgs = [org("a", quota=8), org("b", quota=8)]
    actions = make_scheduler("quota", organisations=orgs).schedule(rig.view())
    assert actions[0] == Preempt(low.id, f"to start job {rig.pending[0].id}")
