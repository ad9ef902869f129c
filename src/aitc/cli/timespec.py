"""Times and durations as users type them: Slurm's time limits, aitc's ``2h``/``90m``, and
points in the past for ``aitc history --since``.

Each parser raises ``ValueError`` with a message for people; commands turn it into
``aitc: --flag: message`` (exit 2).
"""

from __future__ import annotations

import re
from datetime import datetime

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
