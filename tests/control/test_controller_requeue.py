"""``aitc requeue`` (``scontrol requeue`` / ``requeuehold``): the controller stops the job's
attempt, puts it back at its place in the queue and runs it again as a new attempt once its
old processes have ended, on a ``FakeExecutor``."""

from __future__ import annotations

from pathlib import Path

import pytest
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.store import Store, load_caller
from aitc.control.store.jobs import release_job, requeue_job
from aitc.domain.ids import JobId
from aitc.domain.job import Priority
from aitc.errors import AccessDeniedError, ConflictError, NotFoundError


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


def _requeue(rig: Rig, job: int, member: str = "alice", *, hold: bool = False) -> None:
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id=member)
        requeue_job(session=s, caller=caller, job_id=job, hold=hold, now=rig.clock.now())


def test_a_requeued_job_runs_again_once_its_attempt_has_stopped(rig: Rig) -> None:
    rig.fake.slow_stop = True
    job = rig.submit(gpus=8)
    rig.step()
    rig.step()
    assert rig.job(job).state == "running"
    _requeue(rig, job)
    assert rig.job(job).state == "running"  # asked: the controller acts at its next pass
    result = rig.step()
    assert rig.fake.cancel_calls == [(job, 1)]
    assert rig.job(job).state == "starting"  # back in the queue, and planned again at once
    assert result.started == ()  # but not dispatched while attempt 1 still holds the GPUs
    assert rig.step().started == ()
    rig.fake.stop_cancelled()
    assert rig.step().started == (job,)
    assert rig.fake.running() == [(job, 2)]
    rig.step()
    assert [e for e in rig.events(job) if "requeue" in e[1]] == [
        ("running", "requeue asked for by alice"),
        ("pending", "requeued by alice (attempt 1 stopped)"),
    ]
    assert rig.states(job) == ["pending", "starting", "running", "running", "pending", "starting",
                               "running"]  # fmt: skip
    row = rig.job(job)
    assert (row.attempt, row.requeue_request, row.state) == (2, None, "running")
    assert row.stdout_path and row.stdout_path.endswith("/1/2.out")  # the new attempt's log


def test_it_keeps_its_place_in_the_queue(rig: Rig) -> None:
    first = rig.submit(gpus=8)
    rig.step()
    rig.step()
    later = rig.submit("bob", gpus=8)
    rig.step()
    _requeue(rig, first)
    for _ in range(3):  # requeued, planned again, dispatched once attempt 1 has ended
        rig.step()
    assert rig.job(first).state == "running" and rig.job(first).attempt == 2
    assert rig.job(later).state == "pending"


def test_requeue_hold_leaves_it_held_until_released(rig: Rig) -> None:
    job = rig.submit(gpus=8)
    other = rig.submit("bob", gpus=8)
    rig.step()
    rig.step()
    _requeue(rig, job, hold=True)
    for _ in range(3):
        rig.step()
    row = rig.job(job)
    assert (row.state, row.held) == ("pending", True)
    assert [r["code"] for r in row.pending_reasons or []] == ["held"]
    assert rig.job(other).state == "running"  # its GPUs went to the next job
    assert rig.events(job)[-1] == ("pending", "requeued by alice and held (attempt 1 stopped)")
    assert JobId(job) not in rig.ctl.books.pending
    with rig.store.session() as s:
        release_job(session=s, caller=load_caller(session=s, member_id="alice"), job_id=job,
                    now=rig.clock.now())  # fmt: skip
    rig.fake.finish(other)
    for _ in range(2):
        rig.step()
    assert (rig.job(job).state, rig.job(job).attempt) == ("running", 2)


def test_a_starting_job_is_requeued_only_once_it_runs(rig: Rig) -> None:
    rig.fake.slow_stop = True
    low = rig.submit("bob", gpus=8, priority=Priority.PREEMPTIBLE)
    rig.step()
    high = rig.submit("alice", gpus=8)
    assert rig.step().preempted == (low,)
    assert rig.job(high).state == "starting"  # committed, waiting for low's attempt to stop
    for _ in range(20):  # a flood while it starts: each refused, so no start and stop churn
        with pytest.raises(ConflictError, match="it is starting: requeue it once it runs"):
            _requeue(rig, high)
    rig.fake.stop_cancelled()
    for _ in range(2):
        rig.step()
    assert (rig.job(high).state, rig.job(high).attempt) == ("running", 1)
    _requeue(rig, high)
    rig.step()
    assert rig.fake.cancel_calls[-1] == (high, 1)
    assert rig.events(high)[-1][1].startswith("requeued by alice (attempt 1 stopped)")


def test_a_new_time_limit_asked_while_it_ran_becomes_its_own(rig: Rig) -> None:
    from aitc.control.store.update import JobChanges, update_job

    job = rig.submit(gpus=8, time_limit=3600.0)
    rig.step()
    rig.step()
    rig.fake.slow_stop = True
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        changes = JobChanges(time_limit=600.0)
        update_job(session=s, caller=caller, job_id=job, changes=changes, now=rig.clock.now())
        requeue_job(session=s, caller=caller, job_id=job, hold=True, now=rig.clock.now())
    rig.step()
    row = rig.job(job)
    assert (row.state, row.time_limit, row.time_limit_request) == ("pending", 600.0, None)
    assert rig.fake.limit_calls == []  # not handed to the attempt that is stopping


def test_who_may_requeue_and_what(rig: Rig) -> None:
    job = rig.submit(gpus=8)
    waiting = rig.submit(gpus=8)
    with pytest.raises(ConflictError, match="pending: only a running job can be requeued"):
        _requeue(rig, job)
    rig.step()
    rig.step()
    with pytest.raises(NotFoundError, match="no job"):  # not bob's to see, let alone requeue
        _requeue(rig, job, "bob")
    with pytest.raises(AccessDeniedError, match="you may not requeue job 1: it belongs to alice"):
        _requeue(rig, job, "erin")  # of the same project: sees it, may not requeue it
    with pytest.raises(ConflictError, match="pending: only a running job"):
        _requeue(rig, waiting)
    _requeue(rig, job, "carol")  # an instructor of its organisation may, as she may cancel it
    _requeue(rig, job, "carol")  # asked again before the controller acts: one note
    assert sum("requeue asked" in c for _, c in rig.events(job)) == 1
    rig.cancel(job)  # a cancel asked after it wins: the job ends, it is not requeued
    rig.step()
    rig.step()
    assert (rig.job(job).state, rig.job(job).requeue_request) == ("cancelled", None)
    with pytest.raises(ConflictError, match="it is cancelled: only a running job can be requeued"):
        _requeue(rig, job)
