"""The controller's books checked against the store (``StoreBooks.check``): a real disagreement
builds the books again; a change that commits while a pass runs is read by the next pass.

On PostgreSQL each statement sees what committed before it, so a submission or a cancel can
commit between the pass reading the change feed and counting the pending jobs. On SQLite the
pass holds the write lock for its whole transaction, so nothing commits in between there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from seed import small_lab

from aitc.control.clock import FakeClock
from aitc.control.executors.fake import FakeExecutor, fake_nodes
from aitc.control.executors.inventory import cluster_from_inventory
from aitc.control.feed import StoreBooks
from aitc.control.store import JobSpec, Store, apply_lab, cancel_job, create_job, load_caller
from aitc.domain.ids import JobId


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    s = Store.open(postgres_url)
    yield s
    s.close()


def submit(store: Store, clock: FakeClock) -> int:
    with store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        spec = JobSpec(command=("train",), gpus=1)
        return create_job(session=s, spec=spec, caller=caller, now=clock.now())[0].id


def cancel(store: Store, clock: FakeClock, job_id: int) -> None:
    with store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        cancel_job(session=s, caller=caller, job_id=job_id, now=clock.now())


def books_of(store: Store, clock: FakeClock, jobs: int) -> tuple[StoreBooks, list[int]]:
    """Books built from a store holding ``jobs`` pending jobs."""
    with store.session() as s:
        apply_lab(session=s, lab=small_lab())
    ids = [submit(store, clock) for _ in range(jobs)]
    feed = StoreBooks(cluster_from_inventory("t", FakeExecutor(fake_nodes(1, 8)).inventory()), 3600)
    with store.session() as s:
        feed.rebuild(s, since=0.0)
    return feed, ids


def test_books_that_miss_a_pending_job_disagree_with_the_store(
    store: Store, clock: FakeClock
) -> None:
    feed, ids = books_of(store, clock, 3)
    feed.books.cancel(JobId(ids[1]))  # lost without an event: what the count is there for
    with store.session() as s:
        feed.catch_up(s, clock.now())
        assert feed.check(s, [], clock.now()) == [-1]


def test_books_that_read_every_change_agree_with_the_store(store: Store, clock: FakeClock) -> None:
    feed, ids = books_of(store, clock, 3)
    submit(store, clock)
    cancel(store, clock, ids[0])
    with store.session() as s:
        feed.catch_up(s, clock.now())
        assert feed.check(s, [], clock.now()) == []
    assert len(feed.books.pending) == 3


@pytest.mark.postgres
def test_a_submission_committed_during_a_pass_is_no_disagreement(
    pg_store: Store, clock: FakeClock
) -> None:
    feed, _ = books_of(pg_store, clock, 2)
    with pg_store.session() as s:
        feed.catch_up(s, clock.now())
        new = submit(pg_store, clock)  # commits between the feed's read and the count
        assert feed.check(s, [], clock.now()) == []
    with pg_store.session() as s:  # the next pass reads it
        feed.catch_up(s, clock.now())
    assert feed.books.pending.get(JobId(new)) is not None


@pytest.mark.postgres
def test_a_cancel_committed_during_a_pass_is_no_disagreement(
    pg_store: Store, clock: FakeClock
) -> None:
    feed, ids = books_of(pg_store, clock, 2)
    with pg_store.session() as s:
        feed.catch_up(s, clock.now())
        cancel(pg_store, clock, ids[0])
        assert feed.check(s, [], clock.now()) == []
    with pg_store.session() as s:
        feed.catch_up(s, clock.now())
    assert feed.books.pending.get(JobId(ids[0])) is None


@pytest.mark.postgres
def test_a_job_missing_from_the_books_is_found_while_others_commit(
    pg_store: Store, clock: FakeClock
) -> None:
    feed, ids = books_of(pg_store, clock, 3)
    feed.books.cancel(JobId(ids[2]))
    with pg_store.session() as s:
        feed.catch_up(s, clock.now())
        submit(pg_store, clock)
        assert feed.check(s, [], clock.now()) == [-1]
