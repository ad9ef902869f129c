"""``Books.amend``: a pending job's changed request (``aitc update``) takes the old one's place
in arrival order; the queue's indexes follow its new size, and its dependency is judged afresh
when it or the job's name changed."""

from __future__ import annotations

from dataclasses import replace

from engine_builders import cluster, jid, job, on
from test_dependency_rule import after, end, queued

from aitc.domain.job import JobState
from aitc.engine.books import Books


def books() -> Books:
    return Books(cluster(1), 3600.0)


def test_an_amended_job_keeps_its_place_and_its_new_size_is_indexed() -> None:
    b = books()
    for name, gpus in (("am-1", 4), ("am-2", 2), ("am-3", 1)):
        b.submit(job(name, gpus))
    assert b.amend(replace(job("am-1", 4), gpus=1, time_limit=60.0))
    assert queued(b) == ["am-1", "am-2", "am-3"]
    assert b.pending.job(jid("am-1")).gpus == 1
    assert sorted(b.pending.by_size()) == [(1, None), (2, None)]
    assert b.pending.shortest_limit() == 60.0


def test_amending_a_job_the_books_do_not_hold_changes_nothing() -> None:
    b = books()
    before = b.changes
    assert not b.amend(job("am-x"))
    assert b.changes == before and not b.pending


def test_a_dependency_removed_lets_the_job_into_the_queue_at_its_place() -> None:
    b = books()
    b.submit(job("ad-a"))
    b.submit(after("ad-b", "afterok:ad-a"))
    b.submit(job("ad-c"))
    assert queued(b) == ["ad-a", "ad-c"]
    b.amend(job("ad-b"))
    assert queued(b) == ["ad-a", "ad-b", "ad-c"]
    assert jid("ad-b") not in b.dependencies.waiting


def test_a_dependency_added_keeps_the_job_waiting_until_it_holds() -> None:
    b = books()
    b.submit(job("ag-a"))
    b.submit(job("ag-b"))
    b.amend(after("ag-b", "afterok:ag-a"))
    assert queued(b) == ["ag-a"]
    end(b, "ag-a", JobState.COMPLETED, 5.0)
    assert queued(b) == ["ag-b"]


def test_a_settled_dependency_changed_is_judged_again() -> None:
    b = books()
    b.submit(job("as-a"))
    b.submit(job("as-z"))
    b.submit(after("as-b", "afterany:as-z"))
    end(b, "as-z", JobState.FAILED, 1.0)
    assert queued(b) == ["as-a", "as-b"]
    b.amend(after("as-b", "afterok:as-a"))
    assert queued(b) == ["as-a"] and jid("as-b") in b.dependencies.waiting


def test_a_held_job_amended_stays_out_and_comes_back_with_its_new_request() -> None:
    b = books()
    b.submit(job("ah-a"))
    b.submit(after("ah-b", "afterok:ah-a"))
    held = b.cancel(jid("ah-b"))
    assert held is not None
    new = replace(job("ah-b"), gpus=2)
    assert b.amend(new, held=held)
    assert queued(b) == ["ah-a"] and jid("ah-b") not in b.dependencies.waiting
    b.restore(new)
    assert queued(b) == ["ah-a", "ah-b"] and b.pending.job(jid("ah-b")).gpus == 2


def test_a_renamed_job_no_longer_blocks_the_singletons_of_its_old_name() -> None:
    b = books()
    b.submit(replace(job("sn-a"), name="train"))
    b.submit(replace(after("sn-b", "singleton"), name="train"))
    assert queued(b) == ["train"]  # sn-b waits behind sn-a, of the same name
    b.amend(replace(job("sn-a"), name="eval"))
    assert queued(b) == ["eval", "train"]


def test_a_running_jobs_new_limit_is_the_same_run_with_the_new_request() -> None:
    b = books()
    where = on(("n1", range(8)))
    b.adopt(job("ar-a", 8, limit=3600.0), where, 10.0, attained=5.0)
    before = b.changes
    assert b.amend_running(replace(job("ar-a", 8, limit=3600.0), time_limit=600.0))
    run = b.running[jid("ar-a")]
    assert (run.request.time_limit, run.placement, run.started) == (600.0, where, 10.0)
    assert run.attained_gpu_seconds == 5.0 and b.changes == before + 1
    assert not b.amend_running(run.request)  # nothing changed
    assert not b.amend_running(job("ar-x"))  # not running
