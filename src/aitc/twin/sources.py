"""Job sources backed by tables: the Philly trace, any CSV/Parquet table, and scaled replicas.

The Philly trace is a table with a fixed mapping (``colmap.PHILLY_MAP``): submit time from
``timestamp``, runtime from ``duration``, GPUs from ``num_gpus``, tenant from ``cluster`` (a
virtual cluster). Philly records no time limits, so each job asks for the smallest standard
request covering its runtime with 25 % headroom (``trace.standard_time_limit``). Tenants weigh
what their virtual cluster held in the Helios study (nodes); the four it does not list get 8.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.twin.colmap import PHILLY_MAP, ColumnMap, RowFilter, parse_column_map, parse_where
from aitc.twin.columns import JobColumns, _take
from aitc.twin.phillycsv import read_philly_csv
from aitc.twin.trace import TraceJob

PHILLY_JOBS = 82_247
PHILLY_TRACE = Path("../shared/traces/philly/philly_jobs.csv.gz")
HELIOS_VC_NODES: dict[str, float] = {
    "6214e9": 64,
    "b436b2": 64,
    "ee9e8c": 64,
    "7f04ca": 32,
    "6c71a0": 32,
    "0e4a51": 32,
    "11cb48": 16,
    "e13805": 16,
    "2869ce": 16,
    "ed69ec": 8,
    "103959": 8,
}
UNLISTED_VC_NODES = 8.0


@dataclass(frozen=True)
class TableSource:
    """Jobs from a table already read into columns; ``weights`` give organisation shares."""

    name: str
    columns: JobColumns
    weights: dict[str, float] = field(default_factory=dict)

    def organisations(self) -> Sequence[Organisation]:
        return self.columns.organisations(self.weights)

    def reservations(self) -> Sequence[Reservation]:
        return ()

    def jobs(self) -> Iterator[TraceJob]:
        return self.columns.jobs()

    @property
    def skipped(self) -> int:
        return self.columns.skipped


def load_table(
    path: Path,
    mapping: ColumnMap | str,
    *,
    fmt: str,
    limit: int | None = None,
    where: Sequence[RowFilter | str] = (),
) -> TableSource:
    """A CSV/Parquet table read through ``mapping``, only the rows ``where`` keeps (every
    filter: ``RowFilter`` or ``COLUMN=VALUE[,VALUE]``); tenants weigh the same."""
    from aitc.twin.table import read_table  # pandas: only for these tables

    cmap = parse_column_map(mapping) if isinstance(mapping, str) else mapping
    filters = [parse_where(w) if isinstance(w, str) else w for w in where]
    return TableSource(path.name, read_table(path, cmap, fmt=fmt, where=filters).head(limit))


def load_philly(path: Path = PHILLY_TRACE, *, limit: int | None = None) -> TableSource:
    """The Philly trace (``limit``: the N earliest submissions); a file that is not clean
    throughout is read by the general reader, which names its bad cells."""
    cols = read_philly_csv(path) if path.is_file() else None
    if cols is None:
        from aitc.twin.table import read_table

        cols = read_table(path, parse_column_map(PHILLY_MAP), fmt="csv")
    cols = cols.head(limit)
    weights = {t: HELIOS_VC_NODES.get(t, UNLISTED_VC_NODES) for t in cols.tenants}
    return TableSource("philly", cols, weights)


def replicate(
    source: TableSource, jobs: int, *, seed: int = 0, stagger_s: float = 60.0
) -> TableSource:
    """``jobs`` jobs drawn from overlapping copies of ``source`` (scaling experiments).

    Copy ``c`` is shifted by ``c * stagger_s`` seconds; exactly ``jobs`` of the copies' jobs
    are kept, chosen with a seeded RNG, so the arrival rate grows with ``jobs`` while the time
    span and the mix stay those of the original. Pair it with a proportionally larger cluster.
    """
    base = source.columns
    copies = max(1, -(-jobs // len(base)))
    rng = np.random.default_rng(seed)
    chosen = np.sort(
        rng.choice(copies * len(base), size=min(jobs, copies * len(base)), replace=False)
    )
    copy, row = np.divmod(chosen, len(base))
    cols = _take(base, row)
    shifted = cols.submit + copy * stagger_s
    order = np.argsort(shifted, kind="stable")
    cols = _take(cols, order)
    cols = replace(cols, submit=shifted[order] - shifted[order][0])
    return TableSource(f"{source.name}x{jobs}", cols, source.weights)
