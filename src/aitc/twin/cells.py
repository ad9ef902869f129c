"""Cells of a job table: which file row a value came from, and unreadable values as errors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aitc.errors import TraceError
from aitc.twin.colmap import ColumnRef
from aitc.twin.columns import FloatArray


def row_number(frame: pd.DataFrame | pd.Series, position: int) -> int:
    """The 1-based file row of the ``position``-th row left after filtering."""
    return int(frame.index[position]) + 1


def no_gaps(
    values: FloatArray,
    series: pd.Series,
    ref: ColumnRef,
    file: str,
    kind: str = "a number",
    *,
    optional: bool = False,
) -> None:
    """An error naming the first row whose value could not be read (an empty cell of an
    ``optional`` column is not an error: it takes the field's default)."""
    bad = ~np.isfinite(values)
    if optional:
        bad &= series.notna().to_numpy() & (series.astype(str).str.strip() != "").to_numpy()
    where = np.flatnonzero(bad)
    if where.size:
        pos = int(where[0])
        raise TraceError(
            f"{file}: row {row_number(series, pos)}: column {ref.column!r}: cannot read "
            f"{series.iloc[pos]!r} as {kind}"
        )
