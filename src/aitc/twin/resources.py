"""What a job asks for beyond whole GPUs: a share of one GPU, a GPU model, CPUs and memory.

Read from a job table through the mapping (``gpu_fraction``, ``gpu_model``, ``cpus``,
``memory``). The GPU *share* of a job is its GPU count times its fraction of each GPU
(``gpu_milli`` 500 on one GPU is 0.5); below 1 it is a part of one GPU, which
``requestmap`` turns into a MIG slice or one whole GPU once the cluster is known. Every field
here is optional, and so is every cell: an empty cell means "not given" (a whole GPU, any
model, CPUs and memory not checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aitc.errors import TraceError
from aitc.twin.cells import no_gaps, row_number
from aitc.twin.colmap import COUNT_UNITS, MEMORY_UNITS, ColumnMap, ColumnRef
from aitc.twin.columns import FloatArray, IntArray

ANY_MODEL = ""


@dataclass(frozen=True)
class Resources:
    """The optional columns of a table, row-aligned with it (``None``: not mapped)."""

    asked: FloatArray
    fractional: bool  # some share is not a whole number of GPUs
    gpu_model: IntArray | None = None
    gpu_models: tuple[str, ...] = ()
    cpus: FloatArray | None = None
    memory_gb: FloatArray | None = None

    def kept(self, keep: np.ndarray) -> dict[str, Any]:
        """``JobColumns`` keyword arguments for the rows ``keep`` selects."""
        return {
            "asked": self.asked[keep] if self.fractional else None,
            "gpu_model": None if self.gpu_model is None else self.gpu_model[keep],
            "gpu_models": self.gpu_models,
            "cpus": None if self.cpus is None else self.cpus[keep],
            "memory_gb": None if self.memory_gb is None else self.memory_gb[keep],
        }


def read_resources(frame: pd.DataFrame, m: ColumnMap, gpus: FloatArray, file: str) -> Resources:
    """The share, model, CPUs and memory of each row of ``frame`` (``gpus``: the GPU column)."""
    asked = gpus
    if m.gpu_fraction is not None:
        fraction = _amounts(frame, m.gpu_fraction, COUNT_UNITS, file)
        _at_most_one(fraction, frame, m.gpu_fraction, file)
        asked = np.where(np.isnan(fraction), gpus, gpus * fraction)
    model, models = _models(frame, m.gpu_model)
    return Resources(
        asked=asked,
        fractional=bool((asked != np.floor(asked)).any()),
        gpu_model=model,
        gpu_models=models,
        cpus=None if m.cpus is None else _amounts(frame, m.cpus, COUNT_UNITS, file),
        memory_gb=None if m.memory is None else _amounts(frame, m.memory, MEMORY_UNITS, file, "gb"),
    )


def _amounts(
    frame: pd.DataFrame, ref: ColumnRef, units: dict[str, float], file: str, default: str = "one"
) -> FloatArray:
    """Non-negative numbers in the field's unit; NaN where the cell is empty."""
    series = frame[ref.column]
    values: FloatArray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    no_gaps(values, series, ref, file, optional=True)
    bad = np.flatnonzero(values < 0)
    if bad.size:
        pos = int(bad[0])
        raise TraceError(
            f"{file}: row {row_number(series, pos)}: column {ref.column!r}: "
            f"{values[pos]:g} is below 0"
        )
    scaled: FloatArray = values * units[ref.unit or default]
    return scaled


def _at_most_one(fraction: FloatArray, frame: pd.DataFrame, ref: ColumnRef, file: str) -> None:
    bad = np.flatnonzero(fraction > 1.0 + 1e-9)
    if bad.size:
        pos = int(bad[0])
        raise TraceError(
            f"{file}: row {row_number(frame, pos)}: column {ref.column!r}: a GPU fraction of "
            f"{fraction[pos]:g} is more than one GPU (map several GPUs with gpus=COLUMN)"
        )


def _models(frame: pd.DataFrame, ref: ColumnRef | None) -> tuple[IntArray | None, tuple[str, ...]]:
    """GPU model labels as codes (-1: any model, for an empty cell)."""
    if ref is None:
        return None, ()
    series = frame[ref.column]
    text = series.astype(str).str.strip().to_numpy(dtype=object).astype(str)
    text[series.isna().to_numpy()] = ANY_MODEL
    uniq, inverse = np.unique(np.concatenate([[ANY_MODEL], text]), return_inverse=True)
    codes: IntArray = inverse[1:].astype(np.int64) - 1  # the empty label sorts first
    return codes, tuple(str(u) for u in uniq[1:])
