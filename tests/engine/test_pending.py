"""The driver's ``PendingQueue``: its indexes always equal what a scan of the queue would give."""

from __future__ import annotations

from collections import Counter

from engine_builders import cluster, job, on
from hypothesis import given, settings
from hypothesis import strategies as st

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority
from aitc.engine.capacity import CapacityIndex
from aitc.engine.pending import PendingQueue
from aitc.engine.queues import Buckets, FreeRoom, could_fit

# operations on a queue: add a new job, remove the n-th pending job, requeue the n-th removed one
ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.integers(0, 50),  # submit
            st.sampled_from([0, 1, 2, 8, 16]),  # GPUs (0: a MIG slice)
            st.sampled_from([None, None, 2]),  # nodes
            st.sampled_from(["a", "b", "c"]),  # organisation
            st.sampled_from(["x", "y"]),  # member
            st.booleans(),  # preemptible
            st.integers(0, 60),  # id offset: ids need not grow along the queue
        ),
        st.tuples(st.just("remove"), st.integers(0, 100)),
        st.tuples(st.just("requeue"), st.integers(0, 100)),
    ),
    max_size=60,
)


def _job(submit, gpus, nodes, org, member, preemptible, job_id) -> JobRequest:
    return JobRequest(
        id=JobId(job_id),
        org=org,
        project="p",
        member=member,
        gpus=gpus,
        submit=float(submit),
        nodes=nodes if gpus > 8 else None,
        mig="1g.10gb" if gpus == 0 else None,
        priority=Priority.PREEMPTIBLE if preemptible else Priority.STANDARD,
        time_limit=None if job_id % 3 else 600.0 + job_id % 5,  # a third, with equal limits
    )


def _groups(jobs: list[JobRequest], key) -> dict[object, list[JobId]]:
    out: dict[object, list[JobId]] = {}
    for j in jobs:
        out.setdefault(key(j), []).append(j.id)
    return out


@settings(max_examples=200, deadline=None)
@given(ops=ops)
def test_the_indexes_equal_a_scan_of_the_queue_after_any_changes(ops):
    queue, model, removed, used = PendingQueue(), [], [], set()
    for op in ops:
        epoch, members_epoch, classes_epoch = queue.epoch, queue.members_epoch, queue.classes_epoch
        members = set(queue.by_member())
        sizes = {c: set(s) for c, s in queue.classes().items()}
        if op[0] == "add":
            *fields, offset = op[1:]
            job_id = 1000 + offset
            while job_id in used:
                job_id += 61
            used.add(job_id)
            j = _job(*fields, job_id)
            queue.add(j)
            model.append(j)
            assert queue.epoch == epoch  # adding at the tail keeps earlier looks valid
        elif op[0] == "remove" and model:
            j = model.pop(op[1] % len(model))
            assert queue.remove(j.id) == j
            removed.append(j)
            assert queue.epoch > epoch
        elif op[0] == "requeue" and removed:
            j = removed.pop(op[1] % len(removed))
            queue.requeue(j)
            model = sorted([*model, j], key=lambda x: (x.submit, x.id))
            assert queue.epoch > epoch
        else:
            continue
        _check(queue, model, removed)
        if set(queue.by_member()) != members:
            assert queue.members_epoch > members_epoch
        if {c: set(s) for c, s in queue.classes().items()} != sizes:  # kept least sizes go stale
            assert queue.classes_epoch > classes_epoch


def _check(queue: PendingQueue, model: list[JobRequest], removed: list[JobRequest]) -> None:
    """Every index of ``queue`` equals a scan of ``model``, the jobs it should hold in order."""
    assert list(queue) == model
    assert len(queue) == len(model) and bool(queue) == bool(model)
    assert [queue[i] for i in range(len(model))] == model
    for count in range(len(model) + 2):  # the newest jobs, without materialising the queue
        assert queue.newest(count) == (model[max(0, len(model) - count) :] if count else [])
    assert all(j in queue for j in model) and all(j not in queue for j in removed)
    member_of = lambda j: (j.org, j.project, j.member)  # noqa: E731
    assert {k: list(v) for k, v in queue.by_member().items()} == _groups(model, member_of)
    by_org = {(o, size): list(b) for o, s in queue.by_org().items() for size, b in s.items()}
    assert by_org == _groups(model, lambda j: (j.org, (j.gpus, j.nodes)))
    by_size = {size: list(b) for size, b in queue.by_size().items()}
    assert by_size == _groups(model, lambda j: (j.gpus, j.nodes))
    classes = {k: dict(v) for k, v in queue.classes().items()}
    expected = _groups(model, lambda j: (j.org, j.priority, j.nodes, j.mig, j.gpu_model))
    assert classes == {
        k: dict(Counter(queue.job(i).gpus for i in ids)) for k, ids in expected.items()
    }
    limits = [j.time_limit for j in model if j.time_limit is not None]
    assert queue.limited == len(limits)
    # sjf's order: a stable sort of the queue by limit, the jobs without one last
    assert list(queue.by_limit()) == sorted(
        model, key=lambda j: (j.time_limit is None, j.time_limit or 0.0)
    )
    assert queue.shortest_limit() == (min(limits) if limits else None)
    place = queue.positions()
    assert [place[j.id] for j in model] == sorted(place[j.id] for j in model)
    ids = [j.id for j in model]
    if queue.in_id_order():  # (it may say no where ids happen to grow again)
        assert ids == sorted(ids)


def test_a_queue_that_loses_most_of_its_jobs_is_rebuilt_and_stays_the_same() -> None:
    # more removals than jobs left, past the threshold: the dicts are rebuilt on the way
    jobs = [
        _job(i // 3, (1, 2, 8)[i % 3], None, "abc"[i % 3], "xy"[i % 2], i % 5 == 0, 1000 + i)
        for i in range(3000)
    ]
    queue, model = PendingQueue(jobs), list(jobs)
    removed = []
    for n in range(2200):
        j = model.pop(0 if n % 4 else len(model) // 2)
        queue.remove(j.id)
        removed.append(j)
        if n % 500 == 0:
            _check(queue, model, removed)
    back = removed.pop(10)
    queue.requeue(back)
    model = sorted([*model, back], key=lambda x: (x.submit, x.id))
    _check(queue, model, removed)


def test_a_queue_whose_ids_grow_knows_it() -> None:
    queue = PendingQueue([job(1, 1), job(2, 1), job(3, 1)])
    assert queue.in_id_order()
    queue.add(job(0, 1))
    assert not queue.in_id_order()


def test_adding_a_queued_job_again_is_refused() -> None:
    queue = PendingQueue([job("a", 1)])
    try:
        queue.add(job("a", 1))
    except ValueError as exc:
        assert "already pending" in str(exc)
    else:
        raise AssertionError("a job was queued twice")


def test_a_requeued_job_goes_back_to_its_place_in_every_index() -> None:
    first, second, third = job("a", 1, submit=0.0), job("b", 1, submit=5.0), job("c", 1, submit=9)
    queue = PendingQueue([first, second, third])
    queue.remove(first.id)
    queue.requeue(first)
    assert list(queue) == [first, second, third]
    member = (first.org, first.project, first.member)
    assert list(queue.by_member()[member].values()) == [first, second, third]
    assert list(queue.by_org()[first.org][(1, None)].values()) == [first, second, third]
    assert list(queue.by_size()[(1, None)].values()) == [first, second, third]


# free capacity on a few 8-GPU nodes, and jobs of every kind of size
frees = st.lists(st.integers(0, 8), min_size=1, max_size=5)
sizes = st.lists(st.sampled_from([(1, None), (3, None), (8, None), (12, None), (16, 2), (0, None)]))


def _capacity(free: list[int]) -> CapacityIndex:
    capacity = CapacityIndex(cluster(len(free)))
    held = [(f"n{i + 1}", range(8 - f)) for i, f in enumerate(free) if f < 8]
    if held:
        capacity.allocate(on(*held))
    return capacity


@settings(max_examples=200, deadline=None)
@given(free=frees, jobs=sizes)
def test_buckets_read_the_sizes_that_may_fit_in_queue_order_as_could_fit_does(free, jobs):
    capacity = _capacity(free)
    room = FreeRoom.of(capacity)
    assert room is not None
    requests = [
        job(f"j{i}", g, nodes=n, mig="1g.10gb" if g == 0 else None, submit=float(i % 3))
        for i, (g, n) in enumerate(jobs)
    ]
    assert list(could_fit(requests, room)) == [j for j in requests if room.admits(j.gpus, j.nodes)]
    for order in (requests, list(reversed(requests))):  # ids growing along the queue, or not
        queue = PendingQueue(order)
        by_size = {}
        for o in queue.by_org().values():
            for (g, n), bucket in o.items():
                by_size[(g, n)] = bucket
        parts = Buckets(queue, [(g, n, b) for (g, n), b in by_size.items()])
        assert list(parts) == order
        assert list(parts.fitting(room)) == list(could_fit(order, room))


def test_a_time_limit_that_is_not_a_number_counts_as_none_in_the_by_limit_order() -> None:
    """NaN compares false with everything, so no sorted index could hold it: it is kept
    with the jobs without a limit, and taking it out leaves every other job in place."""
    nan = float("nan")
    a, b, c = (
        JobRequest(JobId(i), "o", "p", "m", 1, 0.0, time_limit=lim)
        for i, lim in ((1, nan), (2, 60.0), (3, None))
    )
    queue = PendingQueue([a, b, c])
    assert list(queue.by_limit()) == [b, a, c]
    queue.remove(a.id)
    assert list(queue.by_limit()) == [b, c]
