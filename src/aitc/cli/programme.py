"""``aitc sim --courses``: the lab's course programme simulated, left out, or both compared.

With ``compare`` each policy runs twice on the same generated jobs, with the lab's course
sessions (their reservations and their seats' jobs) and without them, and the table says what
the programme costs research: the wait of every job but the seats (``summary.json``'s
``research``), with and without.
"""

from __future__ import annotations

from typing import Any

import typer

from aitc.cli.output import Rows

MODES = ("with", "without", "compare")


def mode_of(value: str, fmt: str) -> str:
    """``--courses`` checked: one of ``MODES``; other than ``with`` only for generated jobs."""
    if value not in MODES:
        raise typer.BadParameter(
            f"{value!r} is not one of {', '.join(MODES)}", param_hint="'--courses'"
        )
    if value != "with" and fmt != "lab":
        raise typer.BadParameter(
            "course sessions come from the lab's generator: use it with --lab FILE --format lab",
            param_hint="'--courses'",
        )
    return value


def _h(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f}"


def render(with_courses: list[dict[str, Any]], without: list[dict[str, Any]]) -> None:
    """Per policy: research jobs and their mean and p90 wait with and without the programme."""
    columns = (
        "policy",
        "research jobs",
        "wait h",
        "without h",
        "change h",
        "p90 h",
        "p90 without h",
    )
    table = Rows(
        columns, title="research wait with and without the course programme",
        right=frozenset(columns[1:]),
    )  # fmt: skip
    for a, b in zip(with_courses, without, strict=True):
        ra, rb = a["research"], b["research"]
        change = (
            None
            if ra["avg_wait_s"] is None or rb["avg_wait_s"] is None
            else ra["avg_wait_s"] - rb["avg_wait_s"]
        )
        table.add(
            a["policy"], f"{ra['jobs']:,}", _h(ra["avg_wait_s"]), _h(rb["avg_wait_s"]),
            "-" if change is None else f"{change / 3600:+.2f}", _h(ra["p90_wait_s"]),
            _h(rb["p90_wait_s"]),
        )  # fmt: skip
    table.print()
