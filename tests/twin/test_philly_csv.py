"""The Philly CSV read with pyarrow gives what the general table reader gives, value for value,
and leaves every file that is not clean throughout to the general reader."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest

from aitc.errors import TraceError
from aitc.twin.bundled import bundled_trace
from aitc.twin.colmap import PHILLY_MAP, parse_column_map
from aitc.twin.columns import JobColumns
from aitc.twin.phillycsv import read_philly_csv
from aitc.twin.sources import load_philly
from aitc.twin.table import read_table

HEADER = "timestamp,duration,num_gpus,gpu_time,cluster\n"


def general(path: Path) -> JobColumns:
    return read_table(path, parse_column_map(PHILLY_MAP), fmt="csv")


def assert_same(got: JobColumns, want: JobColumns) -> None:
    for field in dataclasses.fields(JobColumns):
        a, b = getattr(got, field.name), getattr(want, field.name)
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype, field.name
            assert np.array_equal(a, b, equal_nan=True), field.name
        else:
            assert a == b, field.name


def test_the_bundled_trace_reads_as_the_general_reader_reads_it() -> None:
    found = bundled_trace("philly")
    assert found is not None
    fast = read_philly_csv(found[0])
    assert fast is not None and len(fast) == 82_247
    assert_same(fast, general(found[0]))


def test_a_clean_file_reads_the_same_both_ways(tmp_path: Path) -> None:
    rows = [
        "2017-10-09 07:01:55,66.0,1,66.0,b",
        "2017-10-09 06:13:03,2951.0,8,0,a-b",
        "2017-10-09 06:13:03,10,2,0,a",  # a tie: file order kept
        "2017-10-10 00:00:00,0,16,0,103959",  # a label that looks like a number
    ]
    path = tmp_path / "trace.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write(HEADER + "\n".join(rows) + "\n")
    fast = read_philly_csv(path)
    assert fast is not None
    assert_same(fast, general(path))
    assert fast.tenants == ("103959", "a", "a-b", "b")
    assert load_philly(path).columns.submit.tolist() == [0.0, 0.0, 2932.0, 64017.0]


@pytest.mark.parametrize(
    "row",
    [
        "2017-10-09 07:01:55,66.0,0,0,a",  # a CPU-only job: skipped and counted
        "2017-10-09 07:01:55,66.0,1,0,",  # no tenant: "default"
        "2017-10-09 07:01:55,66.0,1,0,NA",  # what pandas reads as missing
        "2017-10-09 07:01:55.250,66.0,1,0,a",  # a fraction of a second
        "2017-10-09T07:01:55+02:00,66.0,1,0,a",  # a time zone
    ],
)
def test_a_file_that_is_not_clean_is_read_by_the_general_reader(tmp_path: Path, row: str) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(HEADER + "2017-10-09 06:13:03,2951.0,8,0,b\n" + row + "\n")
    assert read_philly_csv(path) is None
    assert_same(load_philly(path).columns, general(path))


def test_labels_that_are_all_numbers_are_read_as_pandas_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(HEADER + "2017-10-09 06:13:03,2951.0,8,0,07\n2017-10-09 06:13:04,1,1,0,12\n")
    assert read_philly_csv(path) is None
    assert load_philly(path).columns.tenants == general(path).tenants == ("12", "7")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2017-10-09 07:01:55,-5,1,0,a", "row 2: column 'duration'"),
        ("not a time,66.0,1,0,a", "row 2: column 'timestamp'"),
        ("2017-10-09 07:01:55,66.0,many,0,a", "row 2: column 'num_gpus'"),
    ],
)
def test_a_bad_cell_is_named_by_the_general_reader(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(HEADER + "2017-10-09 06:13:03,2951.0,8,0,b\n" + row + "\n")
    with pytest.raises(TraceError, match=message):
        load_philly(path)


def test_a_file_without_the_philly_columns_is_named_by_the_general_reader(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("submitted,seconds\n1,2\n")
    with pytest.raises(TraceError, match="column 'timestamp' named in the mapping is absent"):
        load_philly(path)
