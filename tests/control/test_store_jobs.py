"""The store's job functions: state changes with their events, idempotent submission."""

from __future__ import annotations

import threading

import pytest
from seed import seed
from sqlalchemy import func, select

from aitc.control.clock import FakeClock
from aitc.control.store import (
    JobEventRow,
    JobRow,
    JobSpec,
    Store,
    create_job,
    jobs_in_states,
    load_caller,
    placement_from_json,
    running_job,
    transition,
)
from aitc.domain.job import JobState, NodeAlloc, Placement
from aitc.errors import StoreError

ON_N1 = Placement((NodeAlloc("n1", (0, 1)),))


def _submit(store: Store, clock: FakeClock, key: str | None = None) -> int:
    with store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        job, _ = create_job(
            session=s,
            spec=JobSpec(command=("true",), gpus=2),
            caller=caller,
            now=clock.now(),
            idempotency_key=key,
        )
        return job.id


def _events(store: Store, job_id: int) -> list[tuple[str | None, str, int, float]]:
    with store.session() as s:
        stmt = select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
        return [(e.from_state, e.to_state, e.attempt, e.at) for e in s.scalars(stmt)]


def test_every_state_change_appends_one_event(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    job_id = _submit(store, clock)
    for to, dt in ((JobState.STARTING, 1), (JobState.RUNNING, 2), (JobState.COMPLETED, 60)):
        clock.advance(dt)
        with store.session() as s:
            transition(
                session=s,
                job=s.get_one(JobRow, job_id),
                to=to,
                cause=f"to {to}",
                now=clock.now(),
                placement=ON_N1 if to is JobState.STARTING else None,
                exit_code=0 if to.terminal else None,
            )
    t0 = clock.now() - 63
    assert _events(store, job_id) == [
        (None, "pending", 0, t0),
        ("pending", "starting", 1, t0 + 1),
        ("starting", "running", 1, t0 + 3),
        ("running", "completed", 1, t0 + 63),
    ]
    with store.session() as s:
        job = s.get_one(JobRow, job_id)
        assert (job.started_at, job.ended_at, job.exit_code) == (t0 + 1, t0 + 63, 0)
        assert placement_from_json(job.placement or {}) == ON_N1


def test_a_requeued_job_releases_its_placement_and_starts_a_new_attempt(
    store: Store, clock: FakeClock
) -> None:
    seed(store, clock)
    job_id = _submit(store, clock)
    for to in (JobState.RUNNING, JobState.PENDING, JobState.STARTING):
        with store.session() as s:
            transition(
                session=s,
                job=s.get_one(JobRow, job_id),
                to=to,
                cause="x",
                now=clock.now(),
                placement=ON_N1 if to is not JobState.PENDING else None,
            )
    with store.session() as s:
        job = s.get_one(JobRow, job_id)
        assert (job.state, job.attempt) == ("starting", 2)
        assert running_job(job).placement == ON_N1


@pytest.mark.parametrize("to", [JobState.RUNNING, JobState.PENDING, JobState.COMPLETED])
def test_an_ended_job_cannot_change_state(store: Store, clock: FakeClock, to: JobState) -> None:
    seed(store, clock)
    job_id = _submit(store, clock)
    with store.session() as s:
        transition(
            session=s,
            job=s.get_one(JobRow, job_id),
            to=JobState.CANCELLED,
            cause="x",
            now=clock.now(),
        )
    with pytest.raises(StoreError, match="cannot go from cancelled"), store.session() as s:
        transition(session=s, job=s.get_one(JobRow, job_id), to=to, cause="y", now=clock.now())
    assert len(_events(store, job_id)) == 2


def test_concurrent_retries_with_one_key_store_one_job(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    ids: list[int] = []
    barrier = threading.Barrier(8)

    def retry() -> None:
        barrier.wait()
        ids.append(_submit(store, clock, key="same"))

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.session() as s:
        count = s.scalar(select(func.count()).select_from(JobRow))
        events = s.scalar(select(func.count()).select_from(JobEventRow))
    assert (len(set(ids)), len(ids), count, events) == (1, 8, 1, 1)


def test_jobs_in_states_lists_in_submission_order(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    first, second = _submit(store, clock), _submit(store, clock)
    with store.session() as s:
        assert [j.id for j in jobs_in_states(session=s, states=[JobState.PENDING])] == [
            first,
            second,
        ]


def test_reservations_read_back_as_the_engines_type_until_they_end(
    store: Store, clock: FakeClock
) -> None:
    from aitc.control.store import list_reservations, put_reservation
    from aitc.domain.reservation import Reservation

    seed(store, clock)
    now = clock.now()
    workshop = Reservation("ws", "school", now + 10, now + 70, gpus=8, nodes=("n1",), name="ws")
    old = Reservation("old", "acme", now - 100, now - 1, gpus=4)
    with store.session() as s:
        put_reservation(session=s, reservation=workshop)
        put_reservation(session=s, reservation=old)
    with store.session() as s:
        assert list_reservations(session=s, now=now) == [workshop]
