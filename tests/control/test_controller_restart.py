"""A controller that dies at any moment starts each job at most once, and adopts what runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.executors.base import ExecJob
from aitc.control.executors.fake import FakeExecutor
from aitc.control.store import Store


class Crash(BaseException):
    """Stands for the controller process dying (kill -9) inside a call."""


class DyingHost(FakeExecutor):
    """A host whose controller dies in ``start``, before or after launching the attempt."""

    def __init__(self, *, after_launch: bool) -> None:
        super().__init__()
        self.after_launch = after_launch
        self.armed = True

    def start(self, job: ExecJob) -> str:
        if self.armed and not self.after_launch:
            self.armed = False
            raise Crash
        handle = super().start(job)
        if self.armed:
            self.armed = False
            raise Crash
        return handle


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


@pytest.mark.parametrize("after_launch", [False, True], ids=["before-launch", "after-launch"])
def test_a_crash_between_commit_and_dispatch_starts_the_job_exactly_once(
    rig: Rig, after_launch: bool
) -> None:
    rig.fake = DyingHost(after_launch=after_launch)
    rig.ctl = rig.new_controller()
    job = rig.submit()
    with pytest.raises(Crash):
        rig.step()
    assert rig.states(job) == ["pending", "starting"]
    rig.restart()
    assert rig.fake.launches[(job, 1)] == 1
    assert rig.states(job) == ["pending", "starting", "running"]
    assert rig.job(job).attempt == 1


def test_a_restarted_controller_adopts_running_jobs_without_starting_them_again(rig: Rig) -> None:
    job = rig.submit(gpus=4)
    rig.step()
    rig.step()
    before = rig.events(job)
    rig.restart()
    assert rig.events(job) == before and rig.fake.launches[(job, 1)] == 1
    other = rig.submit(gpus=8)
    rig.step()
    assert rig.states(other) == ["pending"]  # the adopted job still holds its 4 GPUs
    rig.fake.finish(job)
    rig.step()
    assert rig.states(job)[-1] == "completed" and rig.states(other)[-1] == "starting"


def test_an_end_while_the_controller_was_down_is_recorded_after_restart(rig: Rig) -> None:
    job = rig.submit()
    rig.step()
    rig.step()
    rig.fake.finish(job, exit_code=2)
    rig.restart()
    assert rig.events(job)[-1] == ("failed", "exited with code 2")
    assert rig.job(job).exit_code == 2


def test_a_job_the_executor_forgot_is_failed_with_the_cause_on_restart(rig: Rig) -> None:
    job = rig.submit()
    rig.step()
    rig.step()
    rig.fake.vanish(job)
    rig.restart()
    state, cause = rig.events(job)[-1]
    assert state == "failed" and cause.startswith("vanished: the fake executor has no record")


def test_a_running_job_missing_from_a_few_polls_is_failed_as_vanished(rig: Rig) -> None:
    job = rig.submit()
    rig.step()
    rig.step()
    rig.fake.vanish(job)
    rig.step()
    rig.step()
    assert rig.states(job)[-1] == "running"
    rig.step()
    assert rig.states(job)[-1] == "failed"


def test_a_cancel_asked_while_the_controller_was_down_is_carried_out(rig: Rig) -> None:
    job = rig.submit()
    rig.step()
    rig.step()
    rig.cancel(job, "carol")
    rig.restart()
    assert rig.fake.cancel_calls == [(job, 1)]
    rig.step()
    assert rig.states(job)[-1] == "cancelled"


def test_usage_is_rebuilt_from_the_store_after_restart(rig: Rig) -> None:
    job = rig.submit("alice", gpus=4)
    rig.step()
    rig.step(100)
    rig.fake.finish(job)
    rig.step()
    rig.clock.advance(10)
    used = rig.ctl.books.ledger.usage(rig.clock.now()).orgs["uni"]
    rig.restart()
    assert rig.ctl.books.ledger.usage(rig.clock.now()).orgs["uni"] == pytest.approx(used)
    assert used == pytest.approx(4 * 101, rel=0.01)


def test_an_exit_polled_while_the_store_fails_is_recorded_on_the_next_pass(rig: Rig) -> None:
    from collections.abc import Iterator, Sequence
    from contextlib import contextmanager

    from sqlalchemy.orm import Session

    from aitc.control.executors.base import ExecReport
    from aitc.errors import StoreError

    class FlakyStore(Store):
        fail_next = False

        @contextmanager
        def session(self) -> Iterator[Session]:
            if self.fail_next:
                self.fail_next = False
                raise StoreError("injected: the database went away")
            with super().session() as s:
                yield s

    class Host(FakeExecutor):
        store: FlakyStore | None = None

        def poll(self) -> Sequence[ExecReport]:
            reports = super().poll()
            if self.store is not None and any(r.status != "running" for r in reports):
                self.store.fail_next, self.store = True, None  # the store fails right after
            return reports

    flaky = FlakyStore(rig.store.engine)
    rig.store, rig.fake = flaky, Host()
    rig.ctl = rig.new_controller()
    job = rig.submit()
    rig.step()
    rig.step()
    rig.fake.finish(job, exit_code=7)
    rig.fake.store = flaky
    with pytest.raises(StoreError):
        rig.step()
    rig.step()
    assert rig.events(job)[-1] == ("failed", "exited with code 7")


def test_reconcile_may_be_retried_after_it_failed_half_way(rig: Rig) -> None:
    job = rig.submit(gpus=4)
    rig.step()
    rig.step()
    rig.ctl.reconcile()
    rig.ctl.reconcile()  # as the loop does after a failed attempt: no double counting
    assert rig.ctl.books.capacity.total_free() == 4
    assert rig.ctl.books.ledger.is_running(job)
