"""Times and durations as users type them: Slurm's time limits, aitc's ``2h``/``90m``, and
points in the past for ``aitc history --since``.

Each parser raises ``ValueError`` with a message for people; commands turn it into
``aitc: --flag: message`` (exit 2).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

DURATION = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Slurm's --time formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
_SLURM = re.compile(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?")


def parse_duration(text: str) -> float:
    """Seconds in ``2h``, ``90m``, ``1h30m``, ``45s``, ``1d`` or a plain number of seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or DURATION.sub("", text):
        raise ValueError(f"{text!r} is not a duration like 2h, 90m or 1h30m")
    return sum(float(n) * UNITS[u] for n, u in DURATION.findall(text))


def parse_time_limit(text: str) -> float:
    """Seconds in a time limit as Slurm's ``--time`` takes it, or as aitc's ``2h``/``90m``.

    Slurm: ``MM`` (a bare number means minutes), ``MM:SS``, ``HH:MM:SS``, ``D-HH``,
    ``D-HH:MM``, ``D-HH:MM:SS``; aitc: ``2h``, ``90m``, ``1h30m``, ``45s``, ``1d``.
    """
    text = text.strip().lower()
    m = _SLURM.fullmatch(text)
    if m is None:
        if text and text[-1] in UNITS and not DURATION.sub("", text):
            return parse_duration(text)
        raise ValueError(
            f"{text!r} is not a time limit: give minutes (90), MM:SS, HH:MM:SS, D-HH, "
            "D-HH:MM, D-HH:MM:SS, or 2h, 90m, 45s"
        )
    days, a, b, c = m.groups()
    n = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        h, mi, s = (n + [0, 0])[:3]
        return float(int(days) * 86400 + h * 3600 + mi * 60 + s)
    if len(n) == 1:  # MM
        return float(n[0] * 60)
    if len(n) == 2:  # MM:SS
        return float(n[0] * 60 + n[1])
    return float(n[0] * 3600 + n[1] * 60 + n[2])  # HH:MM:SS


def parse_since(text: str, now: float) -> float:
    """Epoch seconds of ``--since``: a date (``2026-11-26``), a date and time
    (``2026-11-26T14:00``, local time) or a duration back from now (``2h``, ``7d``)."""
    text = text.strip()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date (2026-11-26, 2026-11-26T14:00) nor a duration back "
            "from now (2h, 7d)"
        ) from None


def parse_moment(text: str) -> datetime:
    """A point in time in ISO 8601 (``2027-03-01T09:00``; local time without a UTC offset),
    with its offset, as the API takes it."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time (ISO 8601: 2027-03-01T09:00, or with +01:00)"
        ) from None
    return t if t.tzinfo else t.astimezone()


# --- a job's begin time, as sbatch's --begin takes it ------------------------------------------

BEGIN_FORMS = (
    "HH:MM[:SS] (the next such time), 4pm, YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], "
    "now+N[seconds|minutes|hours|days|weeks], midnight, noon, elevenses, fika, teatime, "
    "today, tomorrow"
)
_NOW = re.compile(r"now(?:\+(\d+)([a-z]*))?")
_BEGIN_UNITS = {
    **dict.fromkeys(("", "s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86400),
}
# sbatch's names for times of day (Slurm's parse_time)
_TIMES_OF_DAY = {
    "midnight": (0, 0, 0),
    "elevenses": (11, 0, 0),
    "noon": (12, 0, 0),
    "fika": (15, 0, 0),
    "teatime": (16, 0, 0),
}
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?(am|pm)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?")
_MMDDYY = re.compile(r"(\d{2})(\d{2})(\d{2})")


def parse_begin(text: str, now: float, tz: tzinfo | None = None) -> float:
    """Epoch seconds of a job's begin time as sbatch's ``--begin`` takes it, at ``now``
    (epoch seconds) in the time zone ``tz`` (None: this machine's local time).

    A time of day alone (``16:00``, ``4pm``, ``noon``, ``fika``) is the next such time: today,
    or tomorrow if it has passed. A date alone (``2027-03-01``, ``03/01``, ``tomorrow``)
    means its midnight; a date without a year is this year's unless it has passed. A date
    and a time go together as ``2027-03-01T09:00`` or as two words (``9:00 tomorrow``).
    ``now+N`` counts seconds, or the unit after N (``now+2hours``). A time in the past is
    returned as it is: the job may start at once."""
    words = text.strip().lower().split()
    if not words:
        raise ValueError(f"{text!r} is not a begin time: give {BEGIN_FORMS}")
    relative = _NOW.fullmatch("".join(words))
    if relative is not None:
        count, unit = relative.groups()
        unit = unit or ""
        if unit not in _BEGIN_UNITS:
            raise ValueError(
                f"{text!r}: {unit!r} is not a unit of now+N (seconds, minutes, hours, days, weeks)"
            )
        return now + int(count or 0) * _BEGIN_UNITS[unit]
    if len(words) == 1 and "t" in words[0] and _ISO_DATE.match(words[0]):
        words = words[0].split("t", 1)
    try:
        return _begin_of(words, now, tz)
    except ValueError as exc:
        why = str(exc) or f"give {BEGIN_FORMS}"
        raise ValueError(f"{text!r} is not a begin time: {why}") from None


def _begin_of(words: list[str], now: float, tz: tzinfo | None) -> float:
    today = datetime.fromtimestamp(now, tz).date()
    day: date | None = None
    clock: tuple[int, int, int] | None = None
    yearless = False
    for word in words:
        if clock is None and (found := _time_of_day(word)) is not None:
            clock = found
        elif day is None and (found_day := _date(word, today)) is not None:
            day, yearless = found_day
        else:
            raise ValueError("")
    when = _moment(day or today, clock or (0, 0, 0), tz)
    if when < now and day is None:  # a time of day that has passed today: tomorrow's
        when = _moment(today + timedelta(days=1), clock or (0, 0, 0), tz)
    elif when < now and yearless and day is not None and not (day.month == 2 and day.day == 29):
        when = _moment(day.replace(year=day.year + 1), clock or (0, 0, 0), tz)  # next year's
    return when


def _time_of_day(word: str) -> tuple[int, int, int] | None:
    if word in _TIMES_OF_DAY:
        return _TIMES_OF_DAY[word]
    found = _CLOCK.fullmatch(word)
    if found is None:
        return None
    hour, minute, second, half = found.groups()
    if minute is None and half is None:
        return None  # a bare number is no time of day
    h, m, s = int(hour), int(minute or 0), int(second or 0)
    if half is not None:
        if not 1 <= h <= 12:
            raise ValueError(f"{word}: the hour of {half.upper()} is 1 to 12")
        h = h % 12 + (12 if half == "pm" else 0)
    if h > 23 or m > 59 or s > 59:
        raise ValueError(f"{word}: no such time of day")
    return h, m, s


def _date(word: str, today: date) -> tuple[date, bool] | None:
    """The date ``word`` names, and whether it left out the year."""
    if word in ("today", "tomorrow"):
        return today + timedelta(days=word == "tomorrow"), False
    year: str | int | None
    if m := _ISO_DATE.fullmatch(word):
        year, month, day = m.groups()
    elif (m := _US_DATE.fullmatch(word)) or (m := _MMDDYY.fullmatch(word)):
        month, day, year = m.groups()
    else:
        return None
    yearless = year is None
    number = today.year if year is None else int(year) + (2000 if len(year) == 2 else 0)
    try:
        return date(number, int(month), int(day)), yearless
    except ValueError as exc:
        raise ValueError(f"{word}: {exc}") from None


def _moment(day: date, clock: tuple[int, int, int], tz: tzinfo | None) -> float:
    """Epoch seconds of ``clock`` on ``day`` in ``tz`` (None: local time, with its DST)."""
    at = datetime.combine(day, time(*clock))
    return (at.replace(tzinfo=tz) if tz is not None else at).timestamp()
