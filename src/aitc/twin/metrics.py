"""What the twin measures while it runs: one row per job and the cluster over time.

Rows are kept in typed arrays (``array('d')``, ``array('q')``), not as objects, so a
million-job run costs tens of megabytes. Tenants, projects and members are interned as codes.
"""

from __future__ import annotations

from array import array
from typing import TypeAlias

import numpy as np

from aitc.twin.outcomes import COLUMNS, STATES, JobOutcomes

_STATE_CODE = {name: code for code, name in enumerate(STATES)}

# The outcome of one job, as the loop reports it to ``JobTable.add``: its fields in the order
# of ``JobTable.FIELDS`` (a plain tuple: made once per job, it costs a fraction of an object;
# ``start`` and ``end`` NaN where the job never ran or never finished).
JobRow: TypeAlias = tuple[
    int, str, str, str, float, float, float, float, float, int, int, int, int, float, str
]


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


class JobTable:
    """Column-wise store of job rows, turned into ``JobOutcomes`` at the end.

    ``add`` only appends the row to a short list; every ``CHUNK`` rows the list is moved into
    the columns a column at a time, so the per-job cost is one tuple and one append while the
    memory stays that of the typed arrays."""

    # the columns of ``JobOutcomes`` less the two derived at the end (wait, JCT): a row's
    # fields, in this order
    FIELDS = tuple(c for c in COLUMNS if c not in ("wait", "jct"))
    CHUNK = 4096
    _FLOATS = ("gpus", "submit", "start", "end", "runtime", "slowdown")
    _INTS = ("job_id", "preemptions", "nodes", "leaves", "sus")
    _LABELS = ("tenant", "project", "member")

    def __init__(self) -> None:
        self._f = {k: array("d") for k in self._FLOATS}
        self._i = {k: array("q") for k in self._INTS}
        self._labels = {k: (Interner(), array("q")) for k in self._LABELS}
        self._state = array("b")
        self._rows: list[JobRow] = []

    def __len__(self) -> int:
        return len(self._state) + len(self._rows)

    def add(self, row: JobRow) -> None:
        """Append one job's row (fields in the order of ``FIELDS``)."""
        rows = self._rows
        rows.append(row)
        if len(rows) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        """Move the rows added so far into the columns."""
        rows, self._rows = self._rows, []
        if not rows:
            return
        columns = dict(zip(self.FIELDS, zip(*rows, strict=True), strict=True))
        for k, values in self._f.items():
            values.extend(columns[k])
        for k, ints in self._i.items():
            ints.extend(columns[k])
        for k, (intern, codes) in self._labels.items():
            codes.extend(map(intern, columns[k]))
        self._state.extend(map(_STATE_CODE.__getitem__, columns["state"]))

    def outcomes(self) -> JobOutcomes:
        """One row per job, sorted by job id, with wait and JCT derived (numpy columns)."""
        self._flush()
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
