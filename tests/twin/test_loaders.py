"""Loaders: generic CSV/Parquet tables through a column mapping, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aitc.errors import ConfigError, TraceError
from aitc.twin.colmap import parse_column_map
from aitc.twin.sources import load_table


def write_csv(tmp_path: Path, rows: list[dict[str, object]], name: str = "jobs.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


K8S_MAP = "submit=creation_time,end=deletion_time,gpus=num_gpu,tenant=qos"


def test_rows_stream_in_submit_order_with_runtime_end_minus_submit(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            {
                "creation_time": "2024-01-01 00:10:00",
                "deletion_time": "2024-01-01 01:10:00",
                "num_gpu": 2,
                "qos": "b",
            },
            {
                "creation_time": "2024-01-01 00:00:00",
                "deletion_time": "2024-01-01 00:00:30",
                "num_gpu": 1,
                "qos": "a",
            },
        ],
    )
    jobs = list(load_table(path, K8S_MAP, fmt="csv").jobs())
    assert [
        (j.request.id, j.request.org, j.request.gpus, j.request.submit, j.runtime) for j in jobs
    ] == [(1, "a", 1, 0.0, 30.0), (2, "b", 2, 600.0, 3600.0)]


def test_epoch_milliseconds_are_detected_and_start_column_gives_runtime(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            {"sub": 1_700_000_000_000, "beg": 1_700_000_005_000, "fin": 1_700_000_065_000, "g": 8},
        ],
    )
    (job,) = load_table(path, "submit=sub,start=beg,end=fin,gpus=g", fmt="csv").jobs()
    assert (job.request.submit, job.runtime, job.request.org) == (0.0, 60.0, "default")


def test_duration_column_with_explicit_unit(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"t": 5, "d_ms": 2500, "g": 1}, {"t": 7, "d_ms": 1000, "g": 4}])
    jobs = list(load_table(path, "submit=t,duration=d_ms:ms,gpus=g", fmt="csv").jobs())
    assert [(j.request.submit, j.runtime) for j in jobs] == [(0.0, 2.5), (2.0, 1.0)]


def test_time_limit_is_a_standard_request_above_the_runtime(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"t": 0, "d": 2880, "g": 1}, {"t": 1, "d": 2881, "g": 1}])
    jobs = list(load_table(path, "submit=t,duration=d,gpus=g", fmt="csv").jobs())
    assert [j.request.time_limit for j in jobs] == [3600.0, 7200.0]


def test_parquet_reads_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "jobs.parquet"
    pd.DataFrame({"t": [3.0, 1.0], "d": [10.0, 20.0], "g": [1, 2], "org": ["x", "y"]}).to_parquet(
        path
    )
    src = load_table(path, "submit=t,duration=d,gpus=g,tenant=org", fmt="parquet")
    assert [(j.request.org, j.runtime) for j in src.jobs()] == [("y", 20.0), ("x", 10.0)]
    assert [o.id for o in src.organisations()] == ["x", "y"]


def test_limit_keeps_the_earliest_submissions(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"t": t, "d": 1, "g": 1} for t in (9, 3, 5, 1)])
    jobs = list(load_table(path, "submit=t,duration=d,gpus=g", fmt="csv", limit=2).jobs())
    assert [j.request.submit for j in jobs] == [0.0, 2.0]


def test_cpu_only_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"t": 0, "d": 1, "g": 0}, {"t": 1, "d": 1, "g": 1}])
    src = load_table(path, "submit=t,duration=d,gpus=g", fmt="csv")
    assert (len(list(src.jobs())), src.skipped) == (1, 1)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"nope\.csv: no such trace file"):
        load_table(tmp_path / "nope.csv", K8S_MAP, fmt="csv")


def test_absent_mapped_column_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"creation_time": 0, "deletion_time": 1, "num_gpu": 1}])
    with pytest.raises(TraceError, match=r"column 'qos' named in the mapping is absent"):
        load_table(path, K8S_MAP, fmt="csv")


def test_negative_duration_names_row_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"t": 0, "d": 5, "g": 1}, {"t": 1, "d": -3, "g": 1}])
    with pytest.raises(TraceError, match=r"row 2: column 'd': negative duration"):
        load_table(path, "submit=t,duration=d,gpus=g", fmt="csv")


def test_end_before_submit_is_a_negative_duration(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"s": 100, "e": 50, "g": 1}])
    with pytest.raises(TraceError, match=r"row 1: end - submit \(column 'e'\): negative"):
        load_table(path, "submit=s,end=e,gpus=g", fmt="csv")


def test_unparsable_time_names_row_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [{"c": "2024-01-01 00:00:00", "d": 1, "g": 1}, {"c": "yesterday-ish", "d": 1, "g": 1}],
    )
    with pytest.raises(TraceError, match=r"row 2: column 'c': cannot read 'yesterday-ish'"):
        load_table(path, "submit=c,duration=d,gpus=g", fmt="csv")


def test_negative_gpus_names_row_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [{"t": 0, "d": 1, "g": -2}])
    with pytest.raises(TraceError, match=r"row 1: column 'g': -2 is below 0"):
        load_table(path, "submit=t,duration=d,gpus=g", fmt="csv")


def test_unreadable_parquet_is_a_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet at all")
    with pytest.raises(TraceError, match=r"broken\.parquet: cannot read as parquet"):
        load_table(path, "submit=t,duration=d,gpus=g", fmt="parquet")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("submit=a,gpus=b", "needs duration=COLUMN or end=COLUMN"),
        ("submit=a,duration=d", "needs gpus=COLUMN"),
        ("submit=a,gpus=b,end=c,colour=d", "unknown field 'colour'"),
        ("submit=a,gpus=b,end=c:fortnights", "unknown unit 'fortnights'"),
        ("submit=a,gpus", "entry 'gpus' is not field=column"),
    ],
)
def test_bad_mappings_name_the_flag_and_the_entry(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_column_map(text)
    assert err.value.field == "--map"
