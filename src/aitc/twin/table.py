"""Read any job table (CSV, gzipped CSV or Parquet) through a ``ColumnMap`` into ``JobColumns``.

Only the mapped (and filtered) columns are read. Every bad value becomes a ``TraceError`` that
names the file, the row (1-based, counting data rows in file order) and the column, so it can
be fixed. Rows with zero GPUs (CPU-only jobs in many cluster traces) are skipped and counted.
An optional field left empty in a row takes that field's default (see ``docs/twin.md``); a
required one (submit, gpus, duration or end) is an error. A file without a single job is an
error too: a header-only file, or one whose rows ``--where`` or the GPU count all leave out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from aitc.errors import TraceError
from aitc.twin.cells import no_gaps, row_number
from aitc.twin.colmap import UNITS, ColumnMap, ColumnRef, RowFilter
from aitc.twin.columns import FloatArray, IntArray, JobColumns, codes, sort_by_submit
from aitc.twin.columns import standard_time_limits as derive_limits
from aitc.twin.resources import read_resources

_EPOCH = pd.Timestamp(0, tz="UTC")


def read_table(
    path: Path, mapping: ColumnMap, *, fmt: str, where: Sequence[RowFilter] = ()
) -> JobColumns:
    """Read, filter, validate and sort the jobs of ``path`` (``fmt``: ``csv`` or ``parquet``)."""
    frame = _read_frame(path, mapping, fmt, where)
    return sort_by_submit(_to_columns(frame, mapping, str(path)))


def _read_frame(
    path: Path, mapping: ColumnMap, fmt: str, where: Sequence[RowFilter]
) -> pd.DataFrame:
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    wanted = mapping.columns()
    filters = [f.column for f in where if f.column not in wanted]
    try:
        present = _header(path, fmt)
    except Exception as exc:  # any parser failure is a malformed file for the user
        raise TraceError(f"{path}: cannot read as {fmt}: {exc}") from exc
    for column, named in [(c, "in the mapping") for c in wanted] + [
        (c, "by --where") for c in filters
    ]:
        if column not in present:
            raise TraceError(
                f"{path}: column {column!r} named {named} is absent (columns: {', '.join(present)})"
            )
    columns = list(dict.fromkeys(wanted + filters))
    if fmt == "parquet":
        frame = pd.read_parquet(path, columns=columns)
    else:
        frame = pd.read_csv(path, usecols=columns, low_memory=False)
    if frame.empty:
        raise TraceError(f"{path}: no jobs: the file has a header but no rows")
    return _filtered(frame, where, path)


def _filtered(frame: pd.DataFrame, where: Sequence[RowFilter], path: Path) -> pd.DataFrame:
    """The rows every filter keeps; index labels stay the file's row positions."""
    if not where:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    for f in where:
        keep &= _matches(frame[f.column], f.values)
    if not keep.any():
        said = " ".join(f"--where {f.column}={','.join(f.values)}" for f in where)
        raise TraceError(f"{path}: no jobs: none of the {len(frame)} rows matches {said}")
    return frame[keep]


def _matches(series: pd.Series, values: tuple[str, ...]) -> np.ndarray:
    text = series.astype(str).str.strip().isin(values).to_numpy()
    if not pd.api.types.is_numeric_dtype(series):
        return np.asarray(text)
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    return np.asarray(text | series.isin(numbers.tolist()).to_numpy())


def _header(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def _to_columns(frame: pd.DataFrame, m: ColumnMap, file: str) -> JobColumns:
    submit = _times(frame, m.submit, file)
    runtime = _runtime(frame, m, submit, file)
    asked = _numbers(frame, m.gpus, file, minimum=0)
    res = read_resources(frame, m, asked, file)
    gpus: IntArray = np.ceil(res.asked).astype(np.int64)  # fractions (shared GPUs) round up
    keep = gpus > 0
    if not keep.any():
        raise TraceError(
            f"{file}: no jobs: none of the {len(frame)} rows asks for a GPU "
            f"(column {m.gpus.column!r})"
        )
    tenant = _labels(frame, m.tenant, "default")
    project = _labels(frame, m.project, None, fallback=tenant)
    member = _labels(frame, m.member, None, fallback=tenant)
    limit = _limits(frame, m.time_limit, file)
    nodes = _nodes(frame, m.nodes, file)
    tenant_codes, tenants = codes(tenant[keep])
    pairs = np.char.add(np.char.add(tenant[keep].astype(str), "\x1f"), project[keep].astype(str))
    project_codes, project_names = codes(pairs)
    member_codes, members = codes(member[keep])
    kept_runtime = runtime[keep]
    derived = derive_limits(kept_runtime)  # where the job gives no time limit
    limit = None if limit is None else limit[keep]
    return JobColumns(
        submit=submit[keep],
        runtime=kept_runtime,
        gpus=gpus[keep],
        time_limit=derived if limit is None else np.where(np.isnan(limit), derived, limit),
        nodes=nodes[keep],
        tenant=tenant_codes,
        project=project_codes,
        member=member_codes,
        tenants=tenants,
        projects=tuple(tuple(p.split("\x1f", 1)) for p in project_names),  # type: ignore[misc]
        members=members,
        skipped=int((~keep).sum()),
        **res.kept(keep),
    )


def _limits(frame: pd.DataFrame, ref: ColumnRef | None, file: str) -> FloatArray | None:
    return None if ref is None else _times(frame, ref, file, duration=True, optional=True)


def _runtime(frame: pd.DataFrame, m: ColumnMap, submit: FloatArray, file: str) -> FloatArray:
    if m.duration is not None:
        runtime = _times(frame, m.duration, file, duration=True)
        what = f"column {m.duration.column!r}"
    else:
        assert m.end is not None
        begin = submit
        if m.start is not None:  # a job that never started (empty start) ran from its submit
            started = _times(frame, m.start, file, optional=True)
            begin = np.where(np.isnan(started), submit, started)
        runtime = _times(frame, m.end, file) - begin
        what = f"end - {'start' if m.start else 'submit'} (column {m.end.column!r})"
    bad = np.flatnonzero(runtime < 0)
    if bad.size:
        row = row_number(frame, int(bad[0]))
        raise TraceError(f"{file}: row {row}: {what}: negative duration {runtime[bad[0]]}")
    return runtime


def _times(
    frame: pd.DataFrame,
    ref: ColumnRef,
    file: str,
    *,
    duration: bool = False,
    optional: bool = False,
) -> FloatArray:
    """A time column in seconds: numbers (with a unit or detected) or date-time text.
    Empty cells are NaN when ``optional``, else an error naming the row."""
    series = frame[ref.column]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values: FloatArray = series.to_numpy(dtype=np.float64)
        no_gaps(values, series, ref, file, optional=optional)
        return values * UNITS[ref.unit or ("s" if duration else _detect_unit(values))]
    if ref.unit is not None or duration:
        numeric: FloatArray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        no_gaps(numeric, series, ref, file, "a number", optional=optional)
        return numeric * UNITS[ref.unit or "s"]
    stamps = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    seconds: FloatArray = ((stamps - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(np.float64)
    no_gaps(seconds, series, ref, file, "a date-time", optional=optional)
    return seconds


def _detect_unit(values: FloatArray) -> str:
    """Epoch times in ms/us/ns are recognised by their size (seconds otherwise)."""
    finite = values[np.isfinite(values)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    return "ns" if top > 1e17 else "us" if top > 1e14 else "ms" if top > 1e11 else "s"


def _numbers(
    frame: pd.DataFrame, ref: ColumnRef, file: str, *, minimum: float, optional: bool = False
) -> FloatArray:
    series = frame[ref.column]
    values: FloatArray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    no_gaps(values, series, ref, file, optional=optional)
    bad = np.flatnonzero(values < minimum)
    if bad.size:
        pos = int(bad[0])
        raise TraceError(
            f"{file}: row {row_number(series, pos)}: column {ref.column!r}: "
            f"{values[pos]:g} is below {minimum:g}"
        )
    return values


def _nodes(frame: pd.DataFrame, ref: ColumnRef | None, file: str) -> IntArray:
    """A fixed node count, 0 (placement chooses) where not given."""
    if ref is None:
        return np.zeros(len(frame), dtype=np.int64)
    values = _numbers(frame, ref, file, minimum=1, optional=True)
    out: IntArray = np.nan_to_num(np.ceil(values), nan=0.0).astype(np.int64)
    return out


def _labels(
    frame: pd.DataFrame,
    ref: ColumnRef | None,
    default: str | None,
    *,
    fallback: np.ndarray | None = None,
) -> np.ndarray:
    """Text labels; an empty cell takes ``default``, or the row's ``fallback`` label."""
    if ref is None:
        if fallback is not None:
            return fallback
        return np.full(len(frame), default, dtype=object).astype(str)
    series = frame[ref.column]
    text = series.astype(str)
    empty = (series.isna() | (text == "")).to_numpy()
    labels: np.ndarray = text.to_numpy(dtype=object).astype(str)  # (dtype=str cuts at NaN)
    if empty.any():
        filler = fallback if fallback is not None else np.full(len(frame), default, object)
        labels = np.where(empty, filler, labels)
    return labels
