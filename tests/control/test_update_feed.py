"""A changed request (``aitc update``) reaches the controller's books through the change feed:
the next pass plans with the new request, the job keeps its place in arrival order, and the
books still agree with the store (no resync)."""

from __future__ import annotations

from pathlib import Path

import pytest
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.store import Store, load_caller
from aitc.control.store.jobs import hold_job, release_job
from aitc.control.store.update import JobChanges, update_job
from aitc.domain.ids import JobId
from aitc.domain.job import JobState


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    rig = Rig(store, clock, tmp_path)
    rebuilds = rig.ctl.feed.rebuild

    def counted(*args: object, **kwargs: object) -> None:
        rig.rebuilds += 1  # type: ignore[attr-defined]
        rebuilds(*args, **kwargs)  # type: ignore[arg-type]

    rig.rebuilds = 0  # type: ignore[attr-defined]
    rig.ctl.feed.rebuild = counted  # type: ignore[method-assign]
    return rig


def _update(rig: Rig, job_id: int, member: str = "alice", **changes: object) -> None:
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id=member)
        update_job(
            session=s,
            caller=caller,
            job_id=job_id,
            changes=JobChanges(**changes),  # type: ignore[arg-type]
            now=rig.clock.now(),
        )


def _agrees(rig: Rig) -> None:
    feed = rig.ctl.feed
    with rig.store.session() as s:
        feed.catch_up(s, rig.clock.now())
        active = [j for j in feed.books.running]
        assert feed.check(s, active, rig.clock.now() + 3600) == []


def _started_after_lowering(rig: Rig) -> tuple[int, int]:
    big = rig.submit(gpus=6)
    rig.step()
    wide = rig.submit(gpus=4)  # no room now, and first in line (fifo: it blocks the queue)
    later = rig.submit(gpus=2)
    rig.step()
    assert rig.job(wide).state == rig.job(later).state == JobState.PENDING
    assert rig.job(big).state == JobState.RUNNING
    return wide, later


def test_a_lowered_job_starts_at_the_next_pass_ahead_of_later_arrivals(rig: Rig) -> None:
    wide, later = _started_after_lowering(rig)
    rebuilt = rig.rebuilds  # type: ignore[attr-defined]
    _update(rig, wide, gpus=2)
    rig.step()
    rig.step()
    assert rig.job(wide).state == JobState.RUNNING and len(rig.gpus(wide)) == 2
    assert rig.job(later).state == JobState.PENDING  # behind it, as it arrived
    assert rig.rebuilds == rebuilt  # type: ignore[attr-defined]
    _agrees(rig)


def test_the_books_keep_the_place_and_take_the_new_request(rig: Rig) -> None:
    wide, later = _started_after_lowering(rig)
    _update(rig, wide, time_limit=60.0, name="renamed")
    rig.step()
    queue = rig.ctl.feed.books.pending
    assert [j.id for j in queue] == [wide, later]
    job = queue.job(JobId(wide))
    assert (job.time_limit, job.name, job.gpus) == (60.0, "renamed", 4)
    assert dict(queue.classes()[("uni", job.priority, None, None, None)]) == {4: 1, 2: 1}
    _agrees(rig)


def test_a_held_job_takes_its_new_request_when_released(rig: Rig) -> None:
    rig.submit(gpus=6)
    rig.step()
    wide = rig.submit(gpus=4)
    with rig.store.session() as s:
        hold_job(session=s, caller=load_caller(session=s, member_id="alice"), job_id=wide, now=1)
    rig.step()
    _update(rig, wide, gpus=2)
    rig.step()
    assert rig.job(wide).state == JobState.PENDING
    assert rig.ctl.feed.held[JobId(wide)].gpus == 2
    _agrees(rig)
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        release_job(session=s, caller=caller, job_id=wide, now=2)
    rig.step()
    rig.step()
    assert rig.job(wide).state == JobState.RUNNING and len(rig.gpus(wide)) == 2
    _agrees(rig)


def test_a_job_whose_dependency_is_removed_leaves_waiting_for_it(rig: Rig) -> None:
    first = rig.submit(gpus=1, time_limit=3600.0)
    rig.step()
    waits = rig.submit(gpus=1)
    _update(rig, waits, dependency=f"afterok:{first}")
    rig.step()
    assert JobId(waits) in rig.ctl.feed.books.dependencies.waiting
    _agrees(rig)
    _update(rig, waits, dependency="")
    rig.step()
    rig.step()
    assert rig.job(waits).state == JobState.RUNNING
    assert rig.job(first).state == JobState.RUNNING
    _agrees(rig)


def test_a_job_given_a_dependency_waits_for_it(rig: Rig) -> None:
    big = rig.submit(gpus=8)
    rig.step()
    other = rig.submit(gpus=1)
    _update(rig, other, dependency=f"afterany:{big}")
    rig.step()
    assert JobId(other) in rig.ctl.feed.books.dependencies.waiting
    rig.cancel(big)
    for _ in range(3):
        rig.step()
    assert rig.job(other).state == JobState.RUNNING
    _agrees(rig)
