"""Job dependencies in the books: a job enters the queue only once every condition holds,
waits with a reason naming the jobs it waits for, and leaves when its dependency can never hold."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from engine_builders import cluster, jid, job

from aitc.domain.dependency import Dependency
from aitc.domain.job import JobRequest, JobState
from aitc.engine.books import Books
from aitc.engine.view import ReasonCode


def books() -> Books:
    return Books(cluster(1), 3600.0)


def after(name: str, text: str, **kw: object) -> JobRequest:
    """Job ``name`` with a dependency written with job names: ``after("b", "afterok:a")``,
    ``after("c", "after:a+5?afterok:b")``; an array's tasks as ``a&b``."""
    return replace(job(name, **kw), dependency=Dependency.parse(numbered(text)))  # type: ignore[arg-type]


def numbered(text: str) -> str:
    """``text`` with each job name as its number."""
    return re.sub(r"(?<=[:&])([a-z][\w-]*)", lambda m: str(jid(m[1])), text)


def queued(b: Books) -> list[str]:
    return [j.name for j in b.pending]


def end(b: Books, name: str, state: JobState, at: float = 0.0) -> None:
    request = b.cancel(jid(name)) or b.finish(jid(name), at).request
    b.ended(request, state, at)


def test_a_job_waits_outside_the_queue_until_the_job_it_names_completes() -> None:
    b = books()
    b.submit(job("dep-a"))
    b.submit(after("dep-b", "afterok:dep-a"))
    assert queued(b) == ["dep-a"] and list(b.dependencies.waiting) == [jid("dep-b")]
    end(b, "dep-a", JobState.COMPLETED)
    assert queued(b) == ["dep-b"] and not b.dependencies.waiting and not b.take_never()


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT])
def test_afterok_is_never_satisfied_when_the_job_ends_otherwise(state: JobState) -> None:
    b = books()
    b.submit(job("ok-a"))
    b.submit(after("ok-b", "afterok:ok-a"))
    end(b, "ok-a", state)
    never = b.take_never()
    assert [(j.name, why) for j, why in never] == [
        ("ok-b", f"job {jid('ok-a')} ended {state}, and afterok:{jid('ok-a')} needs it to complete")
    ]
    assert not queued(b) and not b.dependencies.waiting


@pytest.mark.parametrize(
    ("kind", "state", "runs"),
    [
        ("afternotok", JobState.FAILED, True),
        ("afternotok", JobState.CANCELLED, True),
        ("afternotok", JobState.COMPLETED, False),
        ("afterany", JobState.COMPLETED, True),
        ("afterany", JobState.TIMEOUT, True),
    ],
)
def test_afternotok_and_afterany_follow_slurm(kind: str, state: JobState, runs: bool) -> None:
    b = books()
    b.submit(job("k-a"))
    b.submit(after("k-b", f"{kind}:k-a"))
    end(b, "k-a", state)
    assert (queued(b) == ["k-b"]) is runs
    assert bool(b.take_never()) is not runs


def test_every_condition_must_hold() -> None:
    b = books()
    for name in ("all-a", "all-b"):
        b.submit(job(name))
    b.submit(after("all-c", "afterok:all-a,afterany:all-b"))
    end(b, "all-a", JobState.COMPLETED)
    assert queued(b) == ["all-b"]
    assert b.dependencies.reasons()[jid("all-c")].message == (
        f"It waits for job {jid('all-b')} to end (afterany)."
    )
    end(b, "all-b", JobState.FAILED)
    assert queued(b) == ["all-c"]


def test_the_reason_names_every_job_still_waited_for() -> None:
    b = books()
    for name in ("r-a", "r-b"):
        b.submit(job(name))
    b.submit(after("r-c", "afterok:r-a:r-b"))
    reason = b.dependencies.reasons()[jid("r-c")]
    assert reason.code == ReasonCode.DEPENDENCY
    assert reason.message == (
        f"It waits for jobs {jid('r-a')}, {jid('r-b')} to complete successfully (afterok)."
    )
    assert reason.details["waiting_for"] == [jid("r-a"), jid("r-b")]


def test_singleton_runs_one_job_of_a_member_and_name_at_a_time() -> None:
    b = books()
    first = replace(job("s-1"), name="train")
    second = replace(after("s-2", "singleton"), name="train")
    other_member = replace(after("s-3", "singleton"), name="train", member="other")
    b.submit(first)
    b.submit(second)
    b.submit(other_member)
    assert queued(b) == ["train", "train"]  # s-1, and the other member's
    assert [j.id for j in b.pending] == [jid("s-1"), jid("s-3")]
    assert "(also named 'train')" in b.dependencies.reasons()[jid("s-2")].message
    end(b, "s-1", JobState.FAILED)
    assert [j.id for j in b.pending] == [jid("s-2"), jid("s-3")]


def test_a_job_that_ended_before_the_books_knew_it_is_told() -> None:
    b = books()
    b.dependencies.tell(jid("told-a"), JobState.COMPLETED)
    b.submit(after("told-b", "afterok:told-a"))
    assert queued(b) == ["told-b"]
    b.submit(after("told-c", "afterok:told-x"))  # never told of: unknown
    assert [why for _, why in b.take_never()] == [
        f"job {jid('told-x')} is unknown (afterok:{jid('told-x')})"
    ]


def test_a_held_waiting_job_is_judged_again_when_restored() -> None:
    b = books()
    b.submit(job("h-a"))
    b.submit(after("h-b", "afterok:h-a"))
    held = b.cancel(jid("h-b"))  # a hold takes it out of waiting
    assert held is not None and not b.dependencies.waiting
    end(b, "h-a", JobState.COMPLETED)
    assert not queued(b)
    b.restore(held)
    assert queued(b) == ["h-b"]


def test_a_held_job_still_counts_as_alive_for_those_waiting_for_it() -> None:
    b = books()
    b.submit(job("ha-a"))
    b.cancel(jid("ha-a"))  # held
    b.submit(after("ha-b", "afterany:ha-a"))
    assert list(b.dependencies.waiting) == [jid("ha-b")] and not b.take_never()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("afterok:12:13", "afterok:12:13"),
        ("afterany:4,singleton", "afterany:4,singleton"),
        ("AFTERNOTOK:7:7", "afternotok:7"),
    ],
)
def test_the_canonical_form_reads_back(text: str, canonical: str) -> None:
    assert str(Dependency.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("afterok", "afterok: name at least one job"),
        ("befor:3", "unknown dependency type 'befor'"),
        ("expand:3", "'expand' is not supported"),
        ("afterok:3?afterok:4,singleton", "use ',' (every condition must hold) or '?'"),
        ("afterok:3+5", "+minutes is for after only (after:12+5), not afterok"),
        ("after:3+0", "+0: minutes must be a whole number from 1"),
        ("after:3+x", "+x: minutes must be a whole number"),
        ("singleton:3", "singleton names no job"),
        ("afterok:x", "'x' is not a job number"),
        ("afterok:1,,singleton", "is not a dependency like"),
    ],
)
def test_a_bad_dependency_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Dependency.parse(text)


def test_a_dependency_that_held_once_stays_satisfied_across_a_hold() -> None:
    b = books()
    b.submit(job("sat-a"))
    b.submit(after("sat-b", "afterany:sat-a"))
    end(b, "sat-a", JobState.COMPLETED)
    held = b.cancel(jid("sat-b"))  # held after its dependency held
    assert held is not None
    b.restore(held)
    assert queued(b) == ["sat-b"] and not b.take_never()
