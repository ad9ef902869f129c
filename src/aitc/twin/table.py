"""Read any job table (CSV, gzipped CSV or Parquet) through a ``ColumnMap`` into ``JobColumns``.

Only the mapped columns are read. Every bad value becomes a ``TraceError`` that names the file,
the row (1-based, counting data rows in file order) and the column, so it can be fixed.
Rows with zero GPUs (CPU-only jobs in many cluster traces) are skipped and counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aitc.errors import TraceError
from aitc.twin.colmap import UNITS, ColumnMap, ColumnRef
from aitc.twin.columns import FloatArray, IntArray, JobColumns, codes, sort_by_submit
from aitc.twin.columns import standard_time_limits as derive_limits

_EPOCH = pd.Timestamp(0, tz="UTC")


def read_table(path: Path, mapping: ColumnMap, *, fmt: str) -> JobColumns:
    """Read, validate and sort the jobs of ``path`` (``fmt``: ``csv`` or ``parquet``)."""
    frame = _read_frame(path, mapping, fmt)
    return sort_by_submit(_to_columns(frame, mapping, str(path)))


def _read_frame(path: Path, mapping: ColumnMap, fmt: str) -> pd.DataFrame:
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    wanted = mapping.columns()
    try:
        present = _header(path, fmt)
    except Exception as exc:  # any parser failure is a malformed file for the user
        raise TraceError(f"{path}: cannot read as {fmt}: {exc}") from exc
    missing = [c for c in wanted if c not in present]
    if missing:
        raise TraceError(
            f"{path}: column {missing[0]!r} named in the mapping is absent "
            f"(columns: {', '.join(present)})"
        )
    if fmt == "parquet":
        return pd.read_parquet(path, columns=wanted)
    return pd.read_csv(path, usecols=wanted, low_memory=False)


def _header(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def _to_columns(frame: pd.DataFrame, m: ColumnMap, file: str) -> JobColumns:
    submit = _times(frame, m.submit, file)
    runtime = _runtime(frame, m, submit, file)
    gpus = _integers(frame, m.gpus, file, minimum=0)
    keep = gpus > 0
    tenant = _labels(frame, m.tenant, "default")
    project = _labels(frame, m.project, None, fallback=tenant)
    member = _labels(frame, m.member, None, fallback=tenant)
    limit = _times(frame, m.time_limit, file, duration=True) if m.time_limit else None
    nodes = _integers(frame, m.nodes, file, minimum=1) if m.nodes else np.zeros(len(frame), int)
    tenant_codes, tenants = codes(tenant[keep])
    pairs = np.char.add(np.char.add(tenant[keep].astype(str), "\x1f"), project[keep].astype(str))
    project_codes, project_names = codes(pairs)
    member_codes, members = codes(member[keep])
    kept_runtime = runtime[keep]
    return JobColumns(
        submit=submit[keep],
        runtime=kept_runtime,
        gpus=gpus[keep],
        time_limit=derive_limits(kept_runtime) if limit is None else limit[keep],
        nodes=nodes[keep].astype(np.int64),
        tenant=tenant_codes,
        project=project_codes,
        member=member_codes,
        tenants=tenants,
        projects=tuple(tuple(p.split("\x1f", 1)) for p in project_names),  # type: ignore[misc]
        members=members,
        skipped=int((~keep).sum()),
    )


def _runtime(frame: pd.DataFrame, m: ColumnMap, submit: FloatArray, file: str) -> FloatArray:
    if m.duration is not None:
        runtime = _times(frame, m.duration, file, duration=True)
        what = f"column {m.duration.column!r}"
    else:
        assert m.end is not None
        begin = _times(frame, m.start, file) if m.start else submit
        runtime = _times(frame, m.end, file) - begin
        what = f"end - {'start' if m.start else 'submit'} (column {m.end.column!r})"
    bad = np.flatnonzero(runtime < 0)
    if bad.size:
        raise TraceError(f"{file}: row {bad[0] + 1}: {what}: negative duration {runtime[bad[0]]}")
    return runtime


def _times(frame: pd.DataFrame, ref: ColumnRef, file: str, *, duration: bool = False) -> FloatArray:
    """A time column in seconds: numbers (with a unit or detected) or date-time text."""
    series = frame[ref.column]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values: FloatArray = series.to_numpy(dtype=np.float64)
        _no_gaps(values, series, ref, file)
        return values * UNITS[ref.unit or ("s" if duration else _detect_unit(values))]
    if ref.unit is not None or duration:
        numeric: FloatArray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        _no_gaps(numeric, series, ref, file, "a number")
        return numeric * UNITS[ref.unit or "s"]
    stamps = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    seconds: FloatArray = ((stamps - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(np.float64)
    _no_gaps(seconds, series, ref, file, "a date-time")
    return seconds


def _detect_unit(values: FloatArray) -> str:
    """Epoch times in ms/us/ns are recognised by their size (seconds otherwise)."""
    top = float(np.nanmax(np.abs(values))) if values.size else 0.0
    return "ns" if top > 1e17 else "us" if top > 1e14 else "ms" if top > 1e11 else "s"


def _no_gaps(
    values: FloatArray, series: pd.Series, ref: ColumnRef, file: str, kind: str = "a number"
) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise TraceError(
            f"{file}: row {row + 1}: column {ref.column!r}: cannot read {series.iloc[row]!r} "
            f"as {kind}"
        )


def _integers(frame: pd.DataFrame, ref: ColumnRef | None, file: str, *, minimum: int) -> IntArray:
    assert ref is not None
    series = frame[ref.column]
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    _no_gaps(values, series, ref, file)
    bad = np.flatnonzero(values < minimum)
    if bad.size:
        row = int(bad[0])
        raise TraceError(
            f"{file}: row {row + 1}: column {ref.column!r}: {values[row]:g} is below {minimum}"
        )
    out: IntArray = np.ceil(values).astype(np.int64)  # fractional (shared) GPUs round up
    return out


def _labels(
    frame: pd.DataFrame,
    ref: ColumnRef | None,
    default: str | None,
    *,
    fallback: np.ndarray | None = None,
) -> np.ndarray:
    if ref is not None:
        labels: np.ndarray = frame[ref.column].fillna("unknown").astype(str).to_numpy(dtype=str)
        return labels
    if fallback is not None:
        return fallback
    return np.full(len(frame), default, dtype=object).astype(str)
