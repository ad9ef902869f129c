"""The controller drives the engine: state sequences and job_events, on a FakeExecutor."""

from __future__ import annotations

from pathlib import Path

import pytest
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.executors.base import NodeState
from aitc.control.store import JobRow, Store, transition
from aitc.domain.job import JobState, Priority


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


def test_a_job_goes_pending_starting_running_completed(rig: Rig) -> None:
    job = rig.submit(gpus=2)
    assert rig.step().started == (job,)
    assert rig.fake.running() == [(job, 1)]
    rig.step()
    rig.fake.finish(job)
    assert rig.step().ended == (job,)
    assert rig.events(job) == [
        ("pending", "submitted"),
        ("starting", "scheduled by fifo on node0 (GPUs 0,1)"),
        ("running", "process running on node0 (fake-1.1)"),
        ("completed", "exited with code 0"),
    ]
    row = rig.job(job)
    assert (row.exit_code, row.attempt, row.handle) == (0, 1, "fake-1.1")
    assert row.stdout_path and row.stdout_path.endswith("logs/alice/1/1.out")


def test_a_job_that_ends_before_it_was_seen_running_still_records_running(rig: Rig) -> None:
    job = rig.submit()
    rig.step()
    rig.fake.finish(job, exit_code=3)
    rig.step()
    assert rig.states(job) == ["pending", "starting", "running", "failed"]
    assert (rig.job(job).exit_code, rig.job(job).cause) == (3, "exited with code 3")


def test_later_jobs_wait_with_a_reason_then_run_on_disjoint_gpus(rig: Rig) -> None:
    big, a, b = rig.submit(gpus=8), rig.submit(gpus=4), rig.submit("bob", gpus=4)
    assert rig.step().started == (big,)
    rig.step()  # reasons are written once the books have been quiet a moment (planner.py)
    for waiting in (a, b):
        codes = [r["code"] for r in rig.job(waiting).pending_reasons or []]
        assert "not_enough_gpus" in codes
        assert rig.job(waiting).estimated_start is not None
    rig.fake.finish(big)
    rig.step()
    assert rig.states(a)[:2] == rig.states(b)[:2] == ["pending", "starting"]
    assert sorted(rig.gpus(a) + rig.gpus(b)) == list(range(8))
    assert rig.job(a).pending_reasons is None


def test_time_limit_and_lost_attempts_end_with_their_cause(rig: Rig) -> None:
    slow, lost = rig.submit(time_limit=60), rig.submit()
    rig.step()
    rig.fake.time_out(slow)
    rig.fake.lose(lost, "node0 went down")
    rig.step()
    assert rig.events(slow)[-1] == ("timeout", "exceeded its time limit")
    assert rig.events(lost)[-2:] == [
        ("pending", "lost: node0 went down; requeued (attempt 1 of at most 3)"),
        ("starting", "scheduled by fifo on node0 (GPUs 0)"),
    ]
    assert rig.job(lost).attempt == 2 and rig.fake.launches[(lost, 2)] == 1


def test_a_job_lost_on_its_last_attempt_fails(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    rig = Rig(store, clock, tmp_path, max_attempts=1)
    job = rig.submit()
    rig.step()
    rig.fake.lose(job, "host rebooted")
    rig.step()
    assert rig.events(job)[-1] == ("failed", "lost: host rebooted")


def test_cancel_stops_a_running_job_and_says_who_asked(rig: Rig) -> None:
    job = rig.submit()
    rig.step()
    rig.step()
    rig.cancel(job, "alice")
    rig.step()
    assert rig.fake.cancel_calls == [(job, 1)]
    rig.step()
    assert rig.events(job)[-1] == ("cancelled", "cancel requested by alice")
    rig.step()
    assert rig.fake.cancel_calls == [(job, 1)]


def test_cancel_of_a_pending_job_never_starts_it(rig: Rig) -> None:
    rig.submit(gpus=8)
    waiting = rig.submit(gpus=8)
    rig.step()
    rig.cancel(waiting)
    rig.fake.finish(1)
    rig.step()
    rig.step()
    assert rig.states(waiting) == ["pending", "cancelled"]
    assert (waiting, 1) not in rig.fake.launches


def test_an_executor_that_refuses_to_start_fails_the_job_with_its_words(rig: Rig) -> None:
    job = rig.submit()
    rig.fake.fail_next_start(job, "no such file: train")
    result = rig.step()
    assert result.failed_to_start == (job,)
    assert rig.events(job)[-1] == (
        "failed",
        "the fake executor could not start it: no such file: train",
    )
    assert rig.step().started == ()  # its GPU is free again, nothing else waits


def test_an_impossible_job_fails_with_the_engine_reason(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    rig = Rig(store, clock, tmp_path)
    job = rig.submit(gpus=16, nodes=2)  # submitted before the controller recorded one node
    rig.step()
    rig.step()  # reasons (and impossible jobs) come once the books have been quiet a moment
    state, cause = rig.events(job)[-1]
    assert state == "failed" and cause.startswith("This job can never run on this cluster")


def test_a_stray_attempt_of_a_job_ended_in_the_store_is_stopped(rig: Rig) -> None:
    job = rig.submit()
    rig.step()
    rig.step()
    with rig.store.session() as s:
        row = s.get(JobRow, job)
        assert row is not None
        transition(session=s, job=row, to=JobState.FAILED, cause="operator", now=rig.clock.now())
    rig.step()
    assert rig.fake.cancel_calls == [(job, 1)]


def test_a_down_node_takes_its_gpus_out_of_scheduling(rig: Rig) -> None:
    rig.fake.set_node_state("node0", NodeState.DOWN, "maintenance")
    job = rig.submit()
    rig.step(10)
    assert rig.states(job) == ["pending"]
    rig.fake.set_node_state("node0", NodeState.UP)
    rig.step(10)
    assert rig.states(job) == ["pending", "starting"]


def test_a_preempted_job_is_requeued_and_its_gpus_wait_until_it_stopped(rig: Rig) -> None:
    rig.fake.slow_stop = True
    low = rig.submit("bob", gpus=8, priority=Priority.PREEMPTIBLE)
    rig.step()
    rig.step()
    high = rig.submit("alice", gpus=8)
    result = rig.step()
    assert (result.preempted, result.started) == ((low,), ())
    assert rig.events(low)[-1][0] == "pending" and "preempted" in rig.events(low)[-1][1]
    assert rig.states(high) == ["pending", "starting"]  # committed, not dispatched yet
    assert rig.fake.cancel_calls == [(low, 1)]
    assert rig.step().started == ()  # the old attempt still runs on those GPUs
    rig.fake.stop_cancelled()
    assert rig.step().started == (high,)
    assert rig.fake.running() == [(high, 1)]
    assert rig.states(low) == ["pending", "starting", "running", "pending"]


def test_a_job_cancelled_while_it_waits_for_preempted_gpus_never_starts(rig: Rig) -> None:
    rig.fake.slow_stop = True
    low = rig.submit("bob", gpus=8, priority=Priority.PREEMPTIBLE)
    rig.step()
    high = rig.submit("alice", gpus=8)
    assert rig.step().preempted == (low,)
    rig.cancel(high, "alice")
    rig.step()
    assert rig.events(high)[-1] == (
        "cancelled",
        "cancel requested by alice; it had not started yet",
    )
    rig.fake.stop_cancelled()
    rig.step()
    assert (high, 1) not in rig.fake.launches


def test_a_signal_asked_for_is_sent_once_when_the_job_runs_and_noted(rig: Rig) -> None:
    from aitc.control.store import load_caller
    from aitc.control.store.jobs import signal_job

    def ask(signal: str) -> None:
        with rig.store.session() as s:
            caller = load_caller(session=s, member_id="alice")
            signal_job(session=s, caller=caller, job_id=job, signal=signal, now=rig.clock.now())

    job = rig.submit()
    rig.step()  # starting: a signal waits until it runs
    ask("USR1")
    rig.step()
    assert rig.fake.signal_calls == [(job, 1, "USR1")]
    assert rig.job(job).signal_request is None
    rig.step()
    assert rig.fake.signal_calls == [(job, 1, "USR1")]  # once
    ask("B:USR2")
    rig.step()
    assert rig.fake.signal_calls[-1] == (job, 1, "B:USR2")
    assert [cause for _, cause in rig.events(job) if "SIG" in cause] == [
        "SIGUSR1 to it asked for by alice",
        "SIGUSR1 sent",
        "SIGUSR2 to its main process asked for by alice",
        "SIGUSR2 sent",
    ]
    assert rig.job(job).state == "running"  # (notes in its history, not changes of state)


def test_a_running_jobs_new_time_limit_is_pushed_once_and_moves_the_estimates(rig: Rig) -> None:
    from aitc.control.store import load_caller
    from aitc.control.store.update import JobChanges, update_job
    from aitc.domain.ids import JobId

    def lower(limit: float) -> None:
        with rig.store.session() as s:
            caller = load_caller(session=s, member_id="alice")
            changes = JobChanges(time_limit=limit)
            update_job(session=s, caller=caller, job_id=job, changes=changes, now=rig.clock.now())

    job = rig.submit(gpus=8, time_limit=3600.0)
    rig.step()  # starting: the new limit waits until it runs
    waiting = rig.submit(gpus=8, time_limit=60.0)
    rig.step()
    started = rig.job(job).started_at
    assert rig.job(job).state == "running" and started is not None
    run = rig.ctl.books.running[JobId(job)]
    lower(600.0)
    rig.step()
    assert rig.fake.limit_calls == [(job, 1, 600.0)]
    assert rig.job(job).time_limit_request is None
    again = rig.ctl.books.running[JobId(job)]
    assert again.request.time_limit == 600.0  # the same run, with the new request
    assert (again.started, again.placement) == (run.started, run.placement)
    rig.step()
    assert rig.fake.limit_calls == [(job, 1, 600.0)]  # once
    assert rig.job(waiting).estimated_start == pytest.approx(started + 600.0)
    assert [c for _, c in rig.events(job) if "time limit" in c] == [
        "time limit 01:00:00 -> 00:10:00 by alice",
        "time limit 00:10:00 applied",
    ]
    assert rig.job(job).state == "running"
