"""A number of seconds as Slurm prints time limits and elapsed times: ``HH:MM:SS``, with
``D-`` in front from a day on (``1-02:00:00``), to the nearest second. One spelling for the CLI,
the web pages and the job's history."""

from __future__ import annotations


def slurm_duration(seconds: float) -> str:
    """``D-HH:MM:SS`` (days only when there are some), rounded to the second."""
    s = max(0, int(round(seconds)))
    days, rest = divmod(s, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text
