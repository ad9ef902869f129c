"""Group commit (``store.batch``): concurrent submissions share one transaction, each is
acknowledged only once it is committed, and one failing submission never fails another."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from seed import seed
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.clock import FakeClock
from aitc.control.store import JobRow, JobSpec, Store, create_job, load_caller
from aitc.control.store.batch import GroupCommit
from aitc.errors import ConfigError


class Outcomes:
    """What each unit's ``done`` received, and whether its job was readable at that moment."""

    def __init__(self, store: Store, expected: int) -> None:
        self.store, self.expected = store, expected
        self.results: dict[int, tuple[Any, BaseException | None, bool]] = {}
        self.all_done = threading.Event()

    def done_for(self, index: int) -> Callable[[Any, BaseException | None], None]:
        def done(result: Any, error: BaseException | None) -> None:
            visible = error is None and self._committed(result[0].id)
            self.results[index] = (result, error, visible)
            if len(self.results) == self.expected:
                self.all_done.set()

        return done

    def _committed(self, job_id: int) -> bool:
        with self.store.session(readonly=True) as s:  # another connection: sees commits only
            return s.get(JobRow, job_id) is not None

    def wait(self) -> None:
        assert self.all_done.wait(30), "not every unit was answered"


def _submit(
    clock: FakeClock, project: str | None = "vision", key: str | None = None
) -> Callable[[Session], tuple[JobRow, bool]]:
    def work(session: Session) -> tuple[JobRow, bool]:
        caller = load_caller(session=session, member_id="alice")
        spec = JobSpec(command=("true",), gpus=1, project=project)
        return create_job(
            session=session, spec=spec, caller=caller, now=clock.now(), idempotency_key=key
        )

    return work


class Gate:
    """A ``Store.session`` that counts transactions and holds the first until ``open()``, so the
    units queued meanwhile form one batch."""

    def __init__(self, store: Store) -> None:
        self.store, self.transactions = store, 0
        self._open = threading.Event()

    @contextmanager
    def session(self) -> Iterator[Session]:
        self.transactions += 1
        self._open.wait(30)
        with self.store.session() as s:
            yield s

    def open(self) -> None:
        self._open.set()


def _run(store: Store, units: list[Callable[[Session], Any]], gate: Gate | None = None) -> Outcomes:
    factory: Callable[[], AbstractContextManager[Session]] = gate.session if gate else store.session
    writer, outcomes = GroupCommit(factory, idle_s=0.2), Outcomes(store, len(units))
    for index, work in enumerate(units):
        writer.put(work, outcomes.done_for(index))
    if gate:
        gate.open()
    outcomes.wait()
    return outcomes


def _stored(store: Store) -> int:
    with store.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(JobRow)) or 0)


def test_queued_submissions_share_one_transaction(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    gate = Gate(store)
    outcomes = _run(store, [_submit(clock) for _ in range(20)], gate)
    assert gate.transactions <= 2  # what was queued when the writer started, then the rest
    ids = {result[0].id for result, _, _ in outcomes.results.values()}
    assert len(ids) == 20 and _stored(store) == 20


def test_a_unit_is_answered_only_after_its_commit(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    outcomes = _run(store, [_submit(clock) for _ in range(10)], Gate(store))
    assert all(visible for _, _, visible in outcomes.results.values())


def test_a_bad_submission_fails_alone(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    units = [_submit(clock), _submit(clock, project="nowhere"), _submit(clock)]
    outcomes = _run(store, units, Gate(store))
    assert isinstance(outcomes.results[1][1], ConfigError)
    assert outcomes.results[1][1].field == "project"
    assert outcomes.results[0][1] is None and outcomes.results[2][1] is None
    assert _stored(store) == 2


def test_a_database_failure_reruns_the_others_alone(store: Store, clock: FakeClock) -> None:
    seed(store, clock)

    def breaks_after_writing(session: Session) -> None:
        _submit(clock)(session)
        raise RuntimeError("the disk is full")

    units = [_submit(clock), breaks_after_writing, _submit(clock)]
    gate = Gate(store)
    outcomes = _run(store, units, gate)
    assert isinstance(outcomes.results[1][1], RuntimeError)
    assert all(outcomes.results[i][2] for i in (0, 2))
    assert _stored(store) == 2  # the failing unit's job was rolled back with its transaction
    # however the three were split into (at most two) batches, the one holding the failing unit
    # was rolled back and each of its units ran again in a transaction of its own
    assert gate.transactions == 4


def test_one_key_twice_in_a_batch_stores_one_job(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    outcomes = _run(store, [_submit(clock, key="k")] * 3, Gate(store))
    results = [outcomes.results[i][0] for i in range(3)]
    assert len({job.id for job, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, True]
    assert _stored(store) == 1


def test_the_writer_thread_ends_when_idle_and_comes_back(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    writer = GroupCommit(store.session, idle_s=0.05)
    for _ in range(2):
        answered = threading.Event()
        writer.put(_submit(clock), lambda _r, _e, ev=answered: ev.set())
        assert answered.wait(10)
        for thread in threading.enumerate():
            if thread.name == "aitc-group-commit":
                thread.join(5)
        assert not any(t.name == "aitc-group-commit" for t in threading.enumerate())
    assert _stored(store) == 2
