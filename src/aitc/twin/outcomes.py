"""The outcome of every job of a run, as numpy columns: what ``jobs.parquet`` holds.

One row per job, sorted by job id. Labels (tenant, project, member, state) are codes into
their names, as a pandas categorical holds them, so a run never needs pandas: the summary is
computed on the arrays and the file is written with pyarrow. ``to_pandas`` gives the frame for
callers that want one, with the same columns and types that reading ``jobs.parquet`` gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

STATES = ("completed", "timeout", "rejected", "unfinished")
LABELS = ("tenant", "project", "member", "state")
COLUMNS = (
    "job_id",
    "tenant",
    "project",
    "member",
    "gpus",
    "submit",
    "start",
    "end",
    "wait",
    "jct",
    "runtime",
    "preemptions",
    "nodes",
    "leaves",
    "sus",
    "slowdown",
    "state",
)


@dataclass(frozen=True)
class JobOutcomes:
    """Jobs as parallel arrays (``values``; a label column holds codes into ``names``)."""

    values: Mapping[str, npt.NDArray[Any]]
    names: Mapping[str, tuple[str, ...]]

    def __len__(self) -> int:
        return int(self.values["job_id"].shape[0])

    def __getitem__(self, column: str) -> npt.NDArray[Any]:
        return self.values[column]

    def code_of(self, column: str, name: str) -> int:
        """The code of ``name`` in a label column; -1 when no job has it."""
        names = self.names[column]
        return names.index(name) if name in names else -1

    def present(self, column: str) -> list[str]:
        """The names a label column holds in at least one row, sorted."""
        used = np.unique(self.values[column])
        return sorted(self.names[column][int(c)] for c in used)

    def to_arrow(self) -> pa.Table:
        """The table as pyarrow writes it to Parquet: labels dictionary-encoded, their codes
        as narrow as pandas keeps a categorical's (so ``pd.read_parquet`` gives ``to_pandas``)."""
        import pyarrow as pa

        from aitc.twin.arrowcols import text, to_arrow

        arrays = []
        for column in COLUMNS:
            values = self.values[column]
            if column in self.names:
                names = self.names[column]
                codes = to_arrow(values.astype(_code_type(len(names))))
                arrays.append(pa.DictionaryArray.from_arrays(codes, text(names)))
            else:
                arrays.append(to_arrow(values))
        return pa.Table.from_arrays(arrays, names=list(COLUMNS))

    def write_parquet(self, path: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(self.to_arrow(), path)

    def to_pandas(self) -> pd.DataFrame:
        """One row per job as a DataFrame (labels categorical), built on demand."""
        import pandas as pd

        data: dict[str, Any] = {}
        for column in COLUMNS:
            values = self.values[column]
            if column in self.names:
                data[column] = pd.Categorical.from_codes(values, categories=self.names[column])
            else:
                data[column] = values
        return pd.DataFrame(data)


def _code_type(categories: int) -> type[np.signedinteger[Any]]:
    """The integer type pandas gives a categorical's codes (``coerce_indexer_dtype``)."""
    for kind in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(kind).max:
            return kind
    return np.int64
