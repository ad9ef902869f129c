"""What the twin measures while it runs: one row per job and the cluster over time.

Rows are kept in typed arrays (``array('d')``, ``array('q')``), not as objects, so a
million-job run costs tens of megabytes. Tenants, projects and members are interned as codes.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from aitc.domain.frozen import quick_init
from aitc.twin.outcomes import STATES, JobOutcomes

_STATE_CODE = {name: code for code, name in enumerate(STATES)}


class Interner:
    """Strings to small integer codes, in order of first appearance."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.names: list[str] = []

    def __call__(self, name: str) -> int:
        code = self.codes.get(name)
        if code is None:
            code = self.codes[name] = len(self.names)
            self.names.append(name)
        return code


@quick_init
@dataclass(frozen=True, slots=True)
class JobRow:
    """The outcome of one job, as the loop reports it to ``JobTable.add``."""

    job_id: int
    tenant: str
    project: str
    member: str
    gpus: float
    submit: float
    start: float  # NaN if it never ran
    end: float  # NaN if it never finished
    runtime: float
    preemptions: int
    nodes: int
    leaves: int
    sus: int
    slowdown: float
    state: str


class JobTable:
    """Column-wise store of ``JobRow`` values, turned into ``JobOutcomes`` at the end."""

    _FLOATS = ("gpus", "submit", "start", "end", "runtime", "slowdown")
    _INTS = ("job_id", "preemptions", "nodes", "leaves", "sus")

    def __init__(self) -> None:
        self._f = {k: array("d") for k in self._FLOATS}
        self._i = {k: array("q") for k in self._INTS}
        self._labels = {k: (Interner(), array("q")) for k in ("tenant", "project", "member")}
        self._state = array("b")
        # each column's append, bound once: ``add`` runs for every job of a replay
        self._floats = tuple(self._f[k].append for k in self._FLOATS)
        self._ints = tuple(self._i[k].append for k in self._INTS)
        self._interned = tuple((intern, codes.append) for intern, codes in self._labels.values())

    def __len__(self) -> int:
        return len(self._state)

    def add(self, row: JobRow) -> None:
        gpus, submit, start, end, runtime, slowdown = self._floats
        job_id, preempt, nodes, leaves, sus = self._ints
        gpus(row.gpus)
        submit(row.submit)
        start(row.start)
        end(row.end)
        runtime(row.runtime)
        slowdown(row.slowdown)
        job_id(row.job_id)
        preempt(row.preemptions)
        nodes(row.nodes)
        leaves(row.leaves)
        sus(row.sus)
        (tenant, tenants), (project, projects), (member, members) = self._interned
        tenants(tenant(row.tenant))
        projects(project(row.project))
        members(member(row.member))
        self._state.append(_STATE_CODE[row.state])

    def outcomes(self) -> JobOutcomes:
        """One row per job, sorted by job id, with wait and JCT derived (numpy columns)."""
        i, f = self._i, self._f
        job_id = np.frombuffer(i["job_id"], dtype=np.int64)
        order = np.argsort(job_id, kind="stable")
        submit = np.frombuffer(f["submit"], dtype=np.float64)
        values: dict[str, np.ndarray] = {
            k: np.frombuffer(f[k], dtype=np.float64) for k in self._FLOATS
        }
        values |= {k: np.frombuffer(i[k], dtype=np.int64) for k in self._INTS}
        values["wait"] = values["start"] - submit
        values["jct"] = values["end"] - submit
        names: dict[str, tuple[str, ...]] = {}
        for k, (intern, codes) in self._labels.items():
            values[k] = np.frombuffer(codes, dtype=np.int64)
            names[k] = tuple(intern.names) or ("-",)
        values["state"] = np.frombuffer(self._state, dtype=np.int8)
        names["state"] = STATES
        return JobOutcomes({k: v[order] for k, v in values.items()}, names)


class Timeline:
    """Busy GPUs and queue length after each change, plus the exact busy GPU-second integral."""

    def __init__(self) -> None:
        self.time = array("d")
        self.busy = array("d")
        self.queue = array("q")
        self.busy_gpu_seconds = 0.0
        self._last_t = 0.0
        self._last_busy = 0.0

    def sample(self, now: float, busy: float, queue: int) -> None:
        self.busy_gpu_seconds += self._last_busy * (now - self._last_t)
        self._last_t, self._last_busy = now, busy
        if self.time and self.time[-1] == now:
            self.busy[-1], self.queue[-1] = busy, queue
            return
        self.time.append(now)
        self.busy.append(busy)
        self.queue.append(queue)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.frombuffer(self.time, dtype=np.float64),
            np.frombuffer(self.busy, dtype=np.float64),
            np.frombuffer(self.queue, dtype=np.int64),
        )
