"""numpy columns to Arrow arrays and back, through their buffers.

pyarrow imports pandas, when it is installed, as soon as it converts a Python or numpy object
(``pa.array``) or hands an array to numpy (``Array.to_numpy``): it checks for pandas types.
Moving the buffers ourselves keeps pandas (half a second) out of a run that needs none of it.
Only what the twin stores is covered: fixed-width numbers without nulls, and UTF-8 text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

_TYPES = {
    np.dtype(np.float64): pa.float64(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int8): pa.int8(),
}


def to_arrow(values: npt.NDArray[Any]) -> pa.Array:
    """A numeric column as an Arrow array of the same type (NaN stays a value, not a null)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(_TYPES[values.dtype], len(values), [None, pa.py_buffer(values)])


def text(names: Sequence[str]) -> pa.Array:
    """Strings as an Arrow UTF-8 array."""
    data = [n.encode() for n in names]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(d) for d in data])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(data), buffers)


def to_numpy(column: pa.Array | pa.ChunkedArray, dtype: type[Any]) -> npt.NDArray[Any]:
    """A numeric column without nulls as a read-only numpy array of ``dtype`` (its type's
    width: float64 for doubles, int64 for 64-bit integers and timestamps, ...)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        raise ValueError(f"{array.null_count} nulls in a column read as numbers")
    kind = np.dtype(dtype)
    if array.type.bit_width != 8 * kind.itemsize:
        raise ValueError(f"a column of {array.type} is not read as {kind}")
    data = array.buffers()[1]
    if data is None:  # an empty array may have no buffer
        return np.zeros(0, dtype=kind)
    return np.frombuffer(data, dtype=kind, count=len(array), offset=array.offset * kind.itemsize)
