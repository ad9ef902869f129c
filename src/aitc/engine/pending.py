"""``PendingQueue``: the pending jobs in arrival order, with indexes kept as jobs come and go.

The driver owns it as it owns the capacity index: it adds a job when it arrives, removes it
when it starts or leaves, requeues it after a preemption, and hands the queue to the engine as
``View.pending``. Besides being the sequence of pending jobs, the queue keeps, at O(1) per
change, the indexes that policies would otherwise rebuild by scanning the whole queue on every
pass:

- the jobs of each member (organisation, project, member), and of each organisation by size,
  in arrival order (fair share ranks members; quota asks which jobs fit in their
  organisation's unused quota);
- how many jobs of each *class* (organisation, priority, node count, MIG profile, GPU model)
  ask for how many GPUs (a greedy walk stops once every class has failed at its smallest size);
- from its first use on, the jobs by time limit (sjf's order, kept instead of sorting the
  queue on every pass).

Arrival order is the order jobs are added in. A job that comes back after a preemption is put
back in (submit time, id) order, the order both drivers give ids in. The engine only reads
the queue; a plain sequence of jobs in arrival order serves too, and policies then scan it.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeVar, overload

from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest, Priority

MemberKey = tuple[str, str, str]
ClassKey = tuple[str, Priority, int | None, str | None, str | None]
Size = tuple[int, int | None]  # (GPUs, nodes) of a job
_V = TypeVar("_V")


_ARRIVAL = operator.attrgetter("submit", "id")  # the order a requeued job is put back in
# a job's entry in the by-limit index: limited jobs first, by limit, then by place in the queue
# (places are unique, so the job itself is never compared)
LimitKey = tuple[int, float, int, JobRequest]
_KEYED_JOB = operator.itemgetter(3)


def _limit_key(job: JobRequest, place: int) -> LimitKey:
    limit = job.time_limit
    if limit is None or limit != limit:  # (NaN, which no order can hold: as no limit)
        return (1, 0.0, place, job)
    return (0, limit, place, job)


def job_class(job: JobRequest) -> ClassKey:
    """Jobs of one class differ only in size (GreedyQueue's class, without the time limit)."""
    return job.org, job.priority, job.nodes, job.mig, job.gpu_model


class PendingQueue(Sequence[JobRequest]):
    """A sequence of pending jobs in arrival order, indexed by member, organisation and class.

    Iteration and ``len`` are O(1) to begin; indexing materialises a list once per change
    (adding at the tail extends it: a pass that reads the newest jobs by index pays for them,
    not for the queue).
    """

    __slots__ = (
        "_jobs",
        "_list",
        "_members",
        "_orgs",
        "_sizes",
        "_classes",
        "_place",
        "_next",
        "_last_id",
        "_id_order",
        "_last_key",
        "_key_order",
        "_requeued",
        "_removed",
        "_limits",
        "_shortest",
        "_by_limit",
        "classes_epoch",
        "epoch",
        "limited",
        "members_epoch",
        "sizes_epoch",
    )

    def __init__(self, jobs: Iterable[JobRequest] = ()) -> None:
        self._jobs: dict[JobId, JobRequest] = {}
        self._list: list[JobRequest] | None = None
        self._members: dict[MemberKey, dict[JobId, JobRequest]] = {}
        self._orgs: dict[str, dict[Size, dict[JobId, JobRequest]]] = {}
        self._sizes: dict[Size, dict[JobId, JobRequest]] = {}
        self._classes: dict[ClassKey, dict[int, int]] = {}
        self._place: dict[JobId, int] = {}  # increasing along the queue
        self._next = 0
        self._last_id: int | None = None
        self._id_order = True  # whether ids grow along the queue (both drivers give them so)
        self._last_key: tuple[float, int] | None = None
        self._key_order = True  # whether the jobs not requeued are in (submit, id) order
        self._requeued: list[JobRequest] = []  # put back since the queue was last in order
        self._removed = 0  # removals since the dicts were last compacted
        # bumped by every change other than adding at the tail: while it stands still, the
        # jobs of an earlier look are still there, in the same order, followed by new ones
        self.epoch = 0
        self.members_epoch = 0  # bumped when a member gets its first job or loses its last
        self.sizes_epoch = 0  # bumped when ``by_org``'s buckets come, go or are replaced
        self.classes_epoch = 0  # bumped when a class gains or loses a size (``classes``)
        self.limited = 0  # jobs with a time limit
        self._limits: dict[float, int] = {}  # how many jobs have each time limit
        self._shortest: float | None = None  # the shortest of them, when known
        self._by_limit: list[LimitKey] | None = None  # made when first asked (``by_limit``)
        for job in jobs:
            self.add(job)

    # ------------------------------------------------------------------ changes
    def add(self, job: JobRequest) -> None:
        """Queue ``job`` as the newest arrival; ``ValueError`` if it is queued already."""
        self._put(job)
        if self._list is not None:  # (the jobs of the list stay where they were)
            self._list.append(job)
        if self._by_limit is not None:  # (the newest place: last among equal limits)
            bisect.insort(self._by_limit, _limit_key(job, self._place[job.id]))
        if self._last_id is not None and job.id <= self._last_id:
            self._id_order = False
        self._last_id = job.id
        key = (job.submit, job.id)
        if self._last_key is not None and key < self._last_key:
            self._key_order = False
        self._last_key = key

    def requeue(self, job: JobRequest) -> None:
        """Put ``job`` back in the queue (after a preemption): the queue is then read in
        (submit, id) order, which is arrival order where ids are given in arrival order."""
        self._put(job)
        self._list = None
        self._by_limit = None  # (places are given anew when the queue is next read)
        self._requeued.append(job)
        self.epoch += 1

    def _put(self, job: JobRequest) -> None:
        if job.id in self._jobs:
            raise ValueError(f"job {job.id} is already pending")
        self._jobs[job.id] = job
        self._place[job.id] = self._next
        self._next += 1
        member = (job.org, job.project, job.member)
        bucket = self._members.get(member)
        if bucket is None:
            self._members[member] = {job.id: job}
            self.members_epoch += 1
        else:
            bucket[job.id] = job
        size = (job.gpus, job.nodes)
        by_size = self._orgs.get(job.org)
        if by_size is None:
            self._orgs[job.org] = {size: {job.id: job}}
            self.sizes_epoch += 1
        elif (bucket := by_size.get(size)) is None:
            by_size[size] = {job.id: job}
            self.sizes_epoch += 1
        else:
            bucket[job.id] = job
        if (bucket := self._sizes.get(size)) is None:
            self._sizes[size] = {job.id: job}
        else:
            bucket[job.id] = job
        sizes = self._classes.setdefault(job_class(job), {})
        count = sizes.get(job.gpus, 0)
        sizes[job.gpus] = count + 1
        if not count:
            self.classes_epoch += 1
        if (limit := job.time_limit) is not None:
            self.limited += 1
            self._limits[limit] = self._limits.get(limit, 0) + 1
            if self._shortest is not None and limit < self._shortest:
                self._shortest = limit

    def remove(self, job_id: JobId) -> JobRequest:
        """Take job ``job_id`` out of the queue; ``KeyError`` if it is not pending."""
        job = self._jobs.pop(job_id)
        place = self._place.pop(job_id)
        if (keys := self._by_limit) is not None:
            del keys[bisect.bisect_left(keys, _limit_key(job, place)[:3])]
        self._list = None
        self.epoch += 1
        member = (job.org, job.project, job.member)
        bucket = self._members[member]
        del bucket[job_id]
        if not bucket:
            del self._members[member]
            self.members_epoch += 1
        size = (job.gpus, job.nodes)
        by_size = self._orgs[job.org]
        bucket = by_size[size]
        del bucket[job_id]
        if not bucket:
            del by_size[size]
            self.sizes_epoch += 1
            if not by_size:
                del self._orgs[job.org]
        bucket = self._sizes[size]
        del bucket[job_id]
        if not bucket:
            del self._sizes[size]
        cls = job_class(job)
        sizes = self._classes[cls]
        sizes[job.gpus] -= 1
        if not sizes[job.gpus]:
            del sizes[job.gpus]
            self.classes_epoch += 1
            if not sizes:
                del self._classes[cls]
        if (limit := job.time_limit) is not None:
            self.limited -= 1
            left = self._limits[limit] - 1
            if left:
                self._limits[limit] = left
            else:
                del self._limits[limit]
                if limit == self._shortest:
                    self._shortest = None  # (found again when asked)
        self._removed += 1
        if self._removed > 1024 and self._removed > len(self._jobs):
            self._compact()
        return job

    def _compact(self) -> None:
        """Rebuild the dicts. A dict leaves a hole where an entry was deleted, and iterating
        it steps over every hole before its first entry; a queue loses jobs at its front, so
        without this each pass would pay for every job that ever left (amortised: the dicts
        are rebuilt once as many jobs have left as remain)."""
        self._removed = 0
        self._jobs = _rebuilt(self._jobs)
        self._place = _rebuilt(self._place)
        for member, bucket in self._members.items():
            self._members[member] = _rebuilt(bucket)
        for by_size in self._orgs.values():
            for size, bucket in by_size.items():
                by_size[size] = _rebuilt(bucket)
        for size, bucket in self._sizes.items():
            self._sizes[size] = _rebuilt(bucket)
        self.sizes_epoch += 1

    def _sort(self) -> None:
        """Put requeued jobs in their places: the queue, and the buckets they are in (every
        bucket, where putting the queue in (submit, id) order moved other jobs too)."""
        if not self._requeued:
            return
        jobs = sorted(self._jobs.values(), key=_ARRIVAL)  # (nearly sorted: about linear)
        ids = [j.id for j in jobs]
        self._jobs = dict(zip(ids, jobs, strict=True))
        place = self._place = dict(zip(ids, range(len(ids)), strict=True))
        self._next = len(ids)
        self._id_order = all(map(operator.lt, ids, ids[1:]))
        self._last_id = ids[-1] if ids else None
        self._last_key = _ARRIVAL(jobs[-1]) if jobs else None
        if self._key_order:  # only the requeued jobs moved: only their buckets change
            members = {(j.org, j.project, j.member) for j in self._requeued}
            sizes = {(j.org, (j.gpus, j.nodes)) for j in self._requeued}
        else:
            members = set(self._members)
            sizes = {(o, size) for o, by_size in self._orgs.items() for size in by_size}
        self._key_order = True
        for member in members & self._members.keys():
            self._members[member] = _by_place(self._members[member], place)
        for org, size in sizes:
            by_size = self._orgs.get(org, {})
            if size in by_size:
                by_size[size] = _by_place(by_size[size], place)
                self.sizes_epoch += 1
        for size in {size for _, size in sizes} & self._sizes.keys():
            self._sizes[size] = _by_place(self._sizes[size], place)
        self._requeued = []

    # ------------------------------------------------------------------ the sequence
    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[JobRequest]:
        self._sort()
        return iter(self._jobs.values())

    def __contains__(self, job: object) -> bool:
        return isinstance(job, JobRequest) and self._jobs.get(job.id) == job

    def __bool__(self) -> bool:
        return bool(self._jobs)

    @overload
    def __getitem__(self, index: int) -> JobRequest: ...

    @overload
    def __getitem__(self, index: slice) -> list[JobRequest]: ...

    def __getitem__(self, index: int | slice) -> JobRequest | list[JobRequest]:
        if self._list is None:
            self._sort()
            self._list = list(self._jobs.values())
        return self._list[index]

    def newest(self, count: int) -> list[JobRequest]:
        """The last ``count`` jobs of the queue, in order (costs ``count``, not the queue)."""
        if count <= 0:
            return []
        self._sort()
        out = list(itertools.islice(reversed(self._jobs.values()), count))
        out.reverse()
        return out

    def positions(self) -> Mapping[JobId, int]:
        """A number per job that grows along the queue (to merge the indexes' jobs back in
        queue order)."""
        self._sort()
        return self._place

    def in_id_order(self) -> bool:
        """Whether job ids grow along the queue (then merging buckets needs only their ids).
        ``False`` may also mean "not known": it is learnt again when a job is requeued."""
        self._sort()
        return self._id_order

    def job(self, job_id: JobId) -> JobRequest:
        return self._jobs[job_id]

    def get(self, job_id: JobId) -> JobRequest | None:
        return self._jobs.get(job_id)

    def ids(self) -> Iterable[JobId]:
        self._sort()
        return self._jobs.keys()

    # ------------------------------------------------------------------ indexes
    def by_member(self) -> Mapping[MemberKey, Mapping[JobId, JobRequest]]:
        """Each member with pending jobs, and its jobs in arrival order."""
        self._sort()
        return self._members

    def by_org(self) -> Mapping[str, Mapping[Size, Mapping[JobId, JobRequest]]]:
        """Each organisation with pending jobs, and its jobs of each size (whole GPUs, 0 for
        MIG slices; and node count) in arrival order."""
        self._sort()
        return self._orgs

    def by_size(self) -> Mapping[Size, Mapping[JobId, JobRequest]]:
        """The pending jobs of each size (whole GPUs, 0 for MIG slices; and node count), of
        every organisation, in arrival order."""
        self._sort()
        return self._sizes

    def by_limit(self) -> Iterator[JobRequest]:
        """The queued jobs by time limit, the shortest first, then the jobs without one;
        equal limits in queue order (a stable sort of the queue by limit). Kept from its first
        use on: a job added costs a binary search, not a sort of the queue on every pass."""
        self._sort()
        keys = self._by_limit
        if keys is None:
            place = self._place
            keys = self._by_limit = sorted(_limit_key(j, place[j.id]) for j in self._jobs.values())
        return map(_KEYED_JOB, keys.copy())  # (a copy: the queue may change after the pass)

    def shortest_limit(self) -> float | None:
        """The shortest time limit of a queued job (``None``: no job has one)."""
        if self._shortest is None and self._limits:
            self._shortest = min(self._limits)
        return self._shortest

    def classes(self) -> Mapping[ClassKey, Mapping[int, int]]:
        """Each class with pending jobs: how many of its jobs ask for how many GPUs."""
        return self._classes

    def __repr__(self) -> str:
        return f"PendingQueue({len(self._jobs)} jobs)"


def _by_place(jobs: dict[JobId, JobRequest], place: Mapping[JobId, int]) -> dict[JobId, JobRequest]:
    return {job_id: jobs[job_id] for job_id in sorted(jobs, key=place.__getitem__)}


def _rebuilt(d: dict[JobId, _V]) -> dict[JobId, _V]:
    """A copy of ``d`` without holes (built entry by entry, never cloned)."""
    return dict(d.items())
