"""The Philly trace's CSV read straight into ``JobColumns`` with pyarrow, without pandas.

The general table reader (``table.read_table``) reads any mapping through pandas and names
every bad cell. A Philly file is four plain columns, so the common case, a file whose every
cell reads cleanly, is read here in a fraction of the time and without importing pandas; the
result is the general reader's, value for value. Anything else (a missing column, an empty
or unreadable cell, a negative duration, a fractional or zero GPU count, labels pandas would
read as numbers) returns None, and the caller reads the file with the general reader, which
accepts what it can and reports the rest with its file, row and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aitc.twin.arrowcols import to_numpy
from aitc.twin.columns import IntArray, JobColumns, sort_by_submit, standard_time_limits

if TYPE_CHECKING:
    import pyarrow as pa

SUBMIT, DURATION, GPUS, TENANT = "timestamp", "duration", "num_gpus", "cluster"
# cells pandas reads as missing (``pandas.read_csv``'s default ``na_values``)
_MISSING = frozenset(
    ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN")
    + ("<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
)


def read_philly_csv(path: Path) -> JobColumns | None:
    """The jobs of a clean Philly CSV (plain or gzipped), sorted by submit time; None when
    any cell needs the general reader."""
    import pyarrow as pa
    import pyarrow.csv as csv

    types = {SUBMIT: pa.timestamp("s"), DURATION: pa.float64(), GPUS: pa.float64()}
    options = csv.ConvertOptions(
        include_columns=[SUBMIT, DURATION, GPUS, TENANT],
        column_types={**types, TENANT: pa.dictionary(pa.int32(), pa.string())},
    )
    try:
        table = csv.read_csv(path, convert_options=options)
    except (pa.ArrowException, OSError):  # a missing column, a cell of another type, ...
        return None
    if table.num_rows == 0 or any(table[c].null_count for c in table.column_names):
        return None
    submit = to_numpy(table[SUBMIT], np.int64).astype(np.float64)  # seconds since 1970
    runtime = to_numpy(table[DURATION], np.float64)
    gpus = to_numpy(table[GPUS], np.float64)
    clean = np.isfinite(runtime).all() and (runtime >= 0).all() and np.isfinite(gpus).all()
    if not clean or (gpus < 1).any() or (gpus != np.floor(gpus)).any():
        return None
    tenant = _labels(table[TENANT])
    if tenant is None:
        return None
    codes, tenants = tenant
    project, projects = _projects(codes, tenants)
    return sort_by_submit(
        JobColumns(
            submit=submit,
            runtime=runtime,
            gpus=gpus.astype(np.int64),
            time_limit=standard_time_limits(runtime),
            nodes=np.zeros(len(submit), dtype=np.int64),
            tenant=codes,
            project=project,
            member=codes,
            tenants=tenants,
            projects=projects,
            members=tenants,
        )
    )


def _labels(column: pa.ChunkedArray) -> tuple[IntArray, tuple[str, ...]] | None:
    """Codes into the sorted distinct labels (read dictionary-encoded, one dictionary per
    chunk); None when pandas would read a label as missing or the whole column as numbers or
    booleans (its text would then differ)."""
    first: dict[str, int] = {}  # label -> code in order of first appearance
    parts = [np.zeros(0, dtype=np.int64)]
    for chunk in column.chunks:
        local = [first.setdefault(n, len(first)) for n in chunk.dictionary.to_pylist()]
        parts.append(np.asarray(local, dtype=np.int64)[to_numpy(chunk.indices, np.int32)])
    names = list(first)
    if any(n in _MISSING for n in names) or all(_typed(n) for n in names):
        return None
    rank, order = _ranks(names)
    codes: IntArray = rank[np.concatenate(parts)]
    return codes, tuple(names[i] for i in order)


def _projects(
    tenant: IntArray, tenants: tuple[str, ...]
) -> tuple[IntArray, tuple[tuple[str, str], ...]]:
    """Each tenant is its own project, numbered as the general reader numbers projects: in
    the order of their keys (tenant, unit separator, project)."""
    rank, order = _ranks([f"{t}\x1f{t}" for t in tenants])
    out: IntArray = rank[tenant]
    return out, tuple((tenants[i], tenants[i]) for i in order)


def _ranks(names: list[str]) -> tuple[IntArray, list[int]]:
    """Each name's place in sorted order, and the sorted names' positions."""
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank, order


def _typed(text: str) -> bool:
    """Whether pandas reads ``text`` as a number or a boolean rather than as text."""
    if text in ("True", "False", "TRUE", "FALSE", "true", "false"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True
