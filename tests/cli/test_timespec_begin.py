"""``parse_begin``: a job's begin time as sbatch's ``--begin`` takes it, read at a fixed
``now`` in a fixed time zone (2027-03-01 14:30:00 UTC, a Monday)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aitc.cli.timespec import parse_begin

NOW = datetime(2027, 3, 1, 14, 30, tzinfo=UTC)


def at(*args: int, tz: timezone = UTC) -> float:
    return datetime(*args, tzinfo=tz).timestamp()  # type: ignore[misc]


def begin(text: str, tz: timezone = UTC) -> float:
    return parse_begin(text, NOW.timestamp(), tz)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16:00", at(2027, 3, 1, 16, 0)),  # later today
        ("16:00:30", at(2027, 3, 1, 16, 0, 30)),
        ("10:00", at(2027, 3, 2, 10, 0)),  # passed today: tomorrow, as Slurm takes it
        ("14:30", at(2027, 3, 1, 14, 30)),  # now is not past
        ("4pm", at(2027, 3, 1, 16, 0)),
        ("9:15AM", at(2027, 3, 2, 9, 15)),
        ("12am", at(2027, 3, 2, 0, 0)),
        ("midnight", at(2027, 3, 2, 0, 0)),
        ("elevenses", at(2027, 3, 2, 11, 0)),
        ("noon", at(2027, 3, 2, 12, 0)),
        ("fika", at(2027, 3, 1, 15, 0)),
        ("teatime", at(2027, 3, 1, 16, 0)),
        ("today", at(2027, 3, 1, 0, 0)),  # in the past: at once
        ("tomorrow", at(2027, 3, 2, 0, 0)),
        ("9:00 tomorrow", at(2027, 3, 2, 9, 0)),
        ("tomorrow noon", at(2027, 3, 2, 12, 0)),
        ("2027-03-05", at(2027, 3, 5, 0, 0)),
        ("2027-03-05T09:30", at(2027, 3, 5, 9, 30)),
        ("2027-03-05T09:30:15", at(2027, 3, 5, 9, 30, 15)),
        ("2020-01-01T00:00", at(2020, 1, 1, 0, 0)),  # in the past: kept, the job starts at once
        ("03/05", at(2027, 3, 5, 0, 0)),
        ("02/01", at(2028, 2, 1, 0, 0)),  # passed this year: next year's
        ("03/05/28", at(2028, 3, 5, 0, 0)),
        ("030528", at(2028, 3, 5, 0, 0)),
        ("now", NOW.timestamp()),
        ("now+60", NOW.timestamp() + 60),  # seconds by default
        ("now+90s", NOW.timestamp() + 90),
        ("now+10minutes", NOW.timestamp() + 600),
        ("now+1hour", NOW.timestamp() + 3600),
        ("now + 2 days", NOW.timestamp() + 2 * 86400),
        ("NOW+1WEEK", NOW.timestamp() + 7 * 86400),
    ],
)
def test_sbatch_begin_forms(text: str, expected: float) -> None:
    assert begin(text) == expected


def test_a_time_of_day_is_read_in_the_given_time_zone() -> None:
    stockholm = timezone(timedelta(hours=1))  # 15:30 there at NOW
    assert begin("16:00", stockholm) == at(2027, 3, 1, 16, 0, tz=stockholm)
    assert begin("15:00", stockholm) == at(2027, 3, 2, 15, 0, tz=stockholm)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "give HH:MM"),
        ("soon", "give HH:MM"),
        ("16", "give HH:MM"),  # a bare number is no time of day
        ("25:00", "no such time of day"),
        ("13pm", "1 to 12"),
        ("2027-02-30", "day is out of range"),
        ("now+1fortnight", "'fortnight' is not a unit"),
        ("noon noon", "give HH:MM"),
        ("now-5", "give HH:MM"),
    ],
)
def test_what_is_not_a_begin_time_is_refused_saying_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="is not a begin time|is not a unit") as caught:
        begin(text)
    assert why in str(caught.value)


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_a_time_of_day_is_the_next_such_time_within_a_day(h: int, m: int, s: int) -> None:
    got = datetime.fromtimestamp(begin(f"{h}:{m:02d}:{s:02d}"), UTC)
    assert (got.hour, got.minute, got.second) == (h, m, s)
    assert NOW <= got < NOW + timedelta(days=1)


@given(st.integers(0, 10**7), st.sampled_from([("", 1), ("minutes", 60), ("hours", 3600)]))
def test_now_plus_counts_from_now(n: int, unit: tuple[str, int]) -> None:
    assert begin(f"now+{n}{unit[0]}") == NOW.timestamp() + n * unit[1]
