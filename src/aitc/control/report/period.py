"""The period a report covers: ``--period 2w`` (ending now) or ``--from``/``--to`` dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aitc.errors import ConfigError

_UNITS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_LENGTH = re.compile(r"(\d+(?:\.\d+)?)([hdw])")


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in seconds since the epoch."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def label(self) -> str:
        return f"{iso(self.start)} to {iso(self.end)}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_length(text: str) -> float:
    """``2w``, ``14d``, ``36h`` in seconds (``ConfigError`` on ``period``)."""
    m = _LENGTH.fullmatch(text.strip())
    if m is None or float(m[1]) <= 0:
        raise ConfigError(
            f"{text!r} is not a length like 2w, 14d or 36h (a positive number of weeks, days "
            "or hours)",
            field="period",
        )
    return float(m[1]) * _UNITS[m[2]]


def parse_time(text: str, field: str) -> float:
    """An ISO 8601 date or date-time (UTC unless it says otherwise) in epoch seconds."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{text!r} is not a date like 2026-11-02 or 2026-11-02T08:00", field=field
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def resolve_period(
    *, now: float, period: str | None = None, start: str | None = None, end: str | None = None
) -> Period:
    """The period from the options: ``--from``/``--to`` (``--to`` defaults to now), or
    ``--period`` ending at ``--to``/now; two weeks when nothing is given."""
    stop = parse_time(end, "to") if end else now
    if start and period:
        raise ConfigError("give --period or --from, not both", field="period")
    begin = parse_time(start, "from") if start else stop - parse_length(period or "2w")
    if begin >= stop:
        raise ConfigError(f"must be before --to ({iso(stop)})", field="from")
    return Period(begin, stop)
