"""Slurm's dependency types beyond afterok/afterany/afternotok, in the books: ``after`` (and
``+MIN``), ``?`` (any one), an array judged whole, ``aftercorr``, and ``singleton`` judged again
when a job of its name starts, is requeued or ends."""

from __future__ import annotations

from dataclasses import replace

from engine_builders import cluster, jid, job, on
from test_dependency_rule import after, end, numbered, queued

from aitc.domain.dependency import Dependency
from aitc.domain.job import JobRequest, JobState
from aitc.engine.books import Books
from aitc.engine.scheduler import Scheduler
from aitc.engine.view import Start


def books() -> Books:
    return Books(cluster(1), 3600.0)


def run(b: Books, name: str, at: float, gpu: int = 0) -> None:
    """Start queued job ``name`` at ``at`` on GPU ``gpu`` of n1, as a driver applies a start."""
    b.apply([Start(jid(name), on(("n1", [gpu])))], at)


def reason(b: Books, name: str) -> str:
    return b.dependencies.reasons()[jid(name)].message


def named(request: JobRequest, name: str) -> JobRequest:
    return replace(request, name=name)


def test_after_waits_for_the_job_to_start_not_to_end() -> None:
    b = books()
    b.submit(job("af-a"))
    b.submit(after("af-b", "after:af-a"))
    assert queued(b) == ["af-a"]
    assert reason(b, "af-b") == f"It waits for job {jid('af-a')} to start (after)."
    run(b, "af-a", 10.0)
    assert queued(b) == ["af-b"]


def test_after_with_minutes_waits_that_long_after_the_start() -> None:
    b = books()
    b.submit(job("am-a"))
    b.submit(after("am-b", "after:am-a+5"))
    run(b, "am-a", 100.0)
    assert not queued(b) and b.dependencies.next_due() == 400.0
    a = jid("am-a")
    assert reason(b, "am-b") == (
        f"It waits for the 5 minutes after job {a} started to pass (after:{a}+5)."
    )
    assert b.dependencies.reasons()[jid("am-b")].details["until"] == 400.0
    b.wake(399.0)
    assert not queued(b)
    b.wake(400.0)
    assert queued(b) == ["am-b"] and b.dependencies.next_due() is None


def test_after_counts_from_the_end_of_a_job_cancelled_before_it_started() -> None:
    b = books()
    b.submit(job("ac-a"))
    b.submit(after("ac-b", "after:ac-a+1"))
    end(b, "ac-a", JobState.CANCELLED, at=50.0)
    assert b.dependencies.next_due() == 110.0 and not b.take_never()
    b.wake(110.0)
    assert queued(b) == ["ac-b"]


def test_after_that_held_stays_held_when_the_job_is_requeued() -> None:
    b = books()
    b.submit(job("ar-a"))
    b.submit(after("ar-b", "after:ar-a"))
    run(b, "ar-a", 10.0)
    b.requeue(jid("ar-a"), 20.0)  # preempted: pending again
    assert queued(b) == ["ar-a", "ar-b"] and not b.dependencies.waiting


def test_any_one_condition_is_enough_and_none_left_means_never() -> None:
    b = books()
    for name in ("or-a", "or-b", "or-c"):
        b.submit(job(name))
    b.submit(after("or-d", "afterok:or-a:or-b?afterok:or-c"))
    b.submit(after("or-e", "afterok:or-a?afternotok:or-c"))
    end(b, "or-a", JobState.FAILED)
    a, bb, c = jid("or-a"), jid("or-b"), jid("or-c")
    assert reason(b, "or-d") == (
        f"It waits for any one of: job {bb} to complete successfully (afterok); "
        f"or job {c} to complete successfully (afterok)."
    )
    end(b, "or-b", JobState.TIMEOUT)
    assert not b.take_never() and "or-d" not in queued(b)
    end(b, "or-c", JobState.COMPLETED)
    assert queued(b) == ["or-d"]
    assert [why for _, why in b.take_never()] == [
        "none can hold: "
        f"job {a} ended failed, and afterok:{a} needs it to complete; "
        f"job {c} completed, and afternotok:{c} needs it to end otherwise"
    ]


def test_an_array_named_whole_is_judged_whole() -> None:
    b = books()
    for name in ("arr-1", "arr-2", "arr-3"):
        b.submit(job(name))
    b.submit(after("arr-x", "afternotok:arr-1&arr-2&arr-3"))
    b.submit(after("arr-y", "afterok:arr-1&arr-2&arr-3"))
    end(b, "arr-1", JobState.COMPLETED)
    end(b, "arr-2", JobState.FAILED)
    assert queued(b) == ["arr-3"]  # afternotok waits for the whole array to end
    assert [j.name for j, _ in b.take_never()] == ["arr-y"]
    end(b, "arr-3", JobState.COMPLETED)
    assert queued(b) == ["arr-x"]
    b.dependencies.tell(jid("arr-4"), JobState.COMPLETED)
    b.dependencies.tell(jid("arr-5"), JobState.COMPLETED)
    b.submit(after("arr-z", "afternotok:arr-4&arr-5"))
    [(_, why)] = b.take_never()
    assert why.startswith(f"jobs {jid('arr-4')}, {jid('arr-5')} all completed")


def test_aftercorr_is_afterok_on_the_corresponding_task() -> None:
    b = books()
    b.submit(job("co-a"))
    b.submit(after("co-b", "aftercorr:co-a"))
    assert (
        reason(b, "co-b") == f"It waits for job {jid('co-a')} to complete successfully (aftercorr)."
    )
    end(b, "co-a", JobState.FAILED)
    assert [j.name for j, _ in b.take_never()] == ["co-b"]


def test_a_queued_singleton_waits_again_when_a_later_job_of_its_name_starts() -> None:
    b = books()
    s = named(after("sg-s", "singleton"), "train")
    later = named(job("sg-l"), "train")
    b.submit(s)
    b.submit(later)
    assert [j.id for j in b.pending] == [s.id, later.id]  # nothing of its name runs yet
    b.apply([Start(later.id, on(("n1", [0])))], 5.0)
    assert not queued(b) and list(b.dependencies.waiting) == [s.id]
    assert (
        reason(b, "sg-s") == f"It waits for job {later.id} (also named 'train') to end (singleton)."
    )
    b.finish(later.id, 9.0)
    b.ended(later, JobState.COMPLETED, 9.0)
    assert [j.id for j in b.pending] == [s.id]


def test_a_waiting_singleton_is_judged_again_when_a_later_job_of_its_name_is_requeued() -> None:
    b = books()
    s = named(after("sr-s", "singleton"), "train")
    later = named(job("sr-l"), "train")
    b.submit(later)
    b.apply([Start(later.id, on(("n1", [0])))], 5.0)
    b.submit(s)
    assert list(b.dependencies.waiting) == [s.id]
    b.requeue(later.id, 8.0)  # preempted: pending again, and later than the singleton
    assert [j.id for j in b.pending] == [s.id, later.id]


def test_a_requeued_singleton_waits_if_a_job_of_its_name_runs_now() -> None:
    b = books()
    s = named(after("sq-s", "singleton"), "train")
    later = named(job("sq-l"), "train")
    b.submit(s)
    b.apply([Start(s.id, on(("n1", [0])))], 1.0)
    b.submit(later)
    b.apply([Start(later.id, on(("n1", [1])))], 2.0)
    b.requeue(s.id, 3.0)
    assert list(b.dependencies.waiting) == [s.id] and not queued(b)


def test_one_pass_does_not_start_a_singleton_after_a_job_of_its_name() -> None:
    b = books()
    s = replace(named(after("sp-s", "singleton"), "train"), time_limit=3600.0)
    later = replace(named(job("sp-l"), "train"), time_limit=60.0)  # shortest: tried first
    b.submit(s)
    b.submit(later)
    actions = Scheduler("sjf").schedule(b.view(0.0))
    assert [a.job_id for a in actions] == [later.id]
    b.apply(actions, 0.0)
    assert list(b.dependencies.waiting) == [s.id]


def test_a_singleton_settled_by_another_condition_is_not_judged_again() -> None:
    b = books()
    b.submit(job("st-a"))
    s = named(after("st-s", "afterany:st-a?singleton"), "train")
    later = named(job("st-l"), "train")
    b.submit(s)
    end(b, "st-a", JobState.COMPLETED)
    b.submit(later)
    b.apply([Start(later.id, on(("n1", [0])))], 5.0)
    assert [j.id for j in b.pending] == [s.id] and not b.dependencies.waiting


def test_the_canonical_form_keeps_kinds_minutes_arrays_and_the_separator() -> None:
    text = "after:12+5:13,afterok:20&21&22,aftercorr:30,singleton"
    assert str(Dependency.parse(text)) == text
    assert str(Dependency.parse("AFTEROK:1:2?afterany:3")) == "afterok:1?afterok:2?afterany:3"
    assert str(Dependency.parse("12,13")) == "afterany:12:13"  # Slurm's old form
    assert Dependency.parse(numbered("afterok:a?singleton")).any_of
