"""``Books.begin_times``: a job whose begin time (sbatch's ``--begin``) has not come waits out
of the queue with the reason ``begin_time``; the books queue it at its place in arrival order
when the clock reaches it (``wake``), and say when that is (``next_due``). The same rule for the
twin and the controller."""

from __future__ import annotations

from dataclasses import replace

from engine_builders import cluster, jid, job, start
from hypothesis import given
from hypothesis import strategies as st
from test_dependency_rule import after, end, queued

from aitc.domain.job import JobState
from aitc.engine.books import Books
from aitc.engine.view import ReasonCode


def books(now: float = 0.0) -> Books:
    b = Books(cluster(1), 3600.0)
    b.wake(now)
    return b


def test_a_job_waits_for_its_begin_time_then_takes_its_place_in_arrival_order() -> None:
    b = books(now=10.0)
    b.submit(job("bt-a"))
    b.submit(replace(job("bt-b"), begin=100.0))
    b.submit(job("bt-c"))
    assert queued(b) == ["bt-a", "bt-c"]
    assert b.next_due() == 100.0
    reason = b.waiting_reasons()[jid("bt-b")]
    assert reason.code is ReasonCode.BEGIN_TIME
    assert reason.message == (
        "It may not start before its begin time, 1970-01-01 00:01:40 UTC (BeginTime: --begin)."
    )
    assert reason.details == {"begin_at": 100.0}
    b.wake(99.9)
    assert queued(b) == ["bt-a", "bt-c"]
    before = b.changes
    b.wake(100.0)
    assert queued(b) == ["bt-a", "bt-b", "bt-c"]
    assert b.changes > before  # a driver passes again
    assert b.next_due() is None and b.waiting_reasons() == {}


def test_a_begin_time_that_has_passed_keeps_nothing_out() -> None:
    b = books(now=500.0)
    b.submit(replace(job("bp-a"), begin=499.0))
    b.submit(replace(job("bp-b"), begin=500.0))
    assert queued(b) == ["bp-a", "bp-b"]


def test_a_cancelled_or_amended_job_leaves_the_begin_times() -> None:
    b = books()
    b.submit(replace(job("bc-a"), begin=50.0))
    b.submit(replace(job("bc-b"), begin=60.0))
    assert b.cancel(jid("bc-a")) is not None
    assert b.next_due() == 60.0
    assert b.amend(replace(job("bc-b"), begin=None))  # StartTime=now
    assert queued(b) == ["bc-b"] and b.next_due() is None
    assert b.amend(replace(job("bc-b"), begin=80.0))  # and later again
    assert queued(b) == [] and b.next_due() == 80.0
    assert b.amend(replace(job("bc-b"), begin=70.0))  # moved while it waits: the new time
    assert b.amend(replace(job("bc-b"), begin=90.0))
    assert b.next_due() == 90.0
    assert b.queued(jid("bc-b")) is not None


def test_a_job_with_a_dependency_and_a_begin_time_waits_for_both_in_turn() -> None:
    b = books()
    b.submit(job("bd-a"))
    b.submit(replace(after("bd-b", "afterok:bd-a"), begin=100.0))
    assert b.waiting_reasons()[jid("bd-b")].code is ReasonCode.DEPENDENCY
    end(b, "bd-a", JobState.COMPLETED, 5.0)
    assert queued(b) == []
    assert b.waiting_reasons()[jid("bd-b")].code is ReasonCode.BEGIN_TIME
    b.wake(100.0)
    assert queued(b) == ["bd-b"]


def test_next_due_is_the_sooner_of_a_begin_time_and_an_after_minutes() -> None:
    b = books()
    b.submit(job("bn-a"))
    b.apply([start("bn-a", ("n1", [0]))], 0.0)
    b.submit(after("bn-b", "after:bn-a+5"))  # due 300 s after bn-a started
    b.submit(replace(job("bn-c"), begin=200.0))
    assert b.next_due() == 200.0
    b.wake(200.0)
    assert b.next_due() == 300.0


@given(
    st.lists(st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)), min_size=1, max_size=12),
    st.lists(st.floats(0, 1200, allow_nan=False), min_size=1, max_size=6),
)
def test_a_job_is_queued_exactly_when_the_clock_has_reached_its_begin_time(
    times: list[float | None], wakes: list[float]
) -> None:
    b = books()
    names = [f"bh-{i}" for i in range(len(times))]
    for name, at in zip(names, times, strict=True):
        b.submit(replace(job(name), begin=at))
    now = 0.0
    for wake in sorted(wakes):
        b.wake(wake)
        now = wake
        eligible = [n for n, at in zip(names, times, strict=True) if at is None or at <= now]
        assert queued(b) == eligible  # in arrival order
        due = [at for at in times if at is not None and at > now]
        assert b.next_due() == (min(due) if due else None)
