"""How the client commands print: one error style, tables that fit, JSON for machines.

- Errors: one line on stderr, ``aitc: <what>: <why>``, where *what* names the flag, field or
  object (``--time``, ``job 12``); exit 2 for a usage error, 1 for a failure (``fail``).
- Tables: on a terminal, a rich table as wide as the terminal; piped or redirected, plain
  columns separated by two spaces with every cell in full (nothing cut to 80 columns), for
  ``grep``, ``awk`` and ``cut``. ``--json`` prints what the API answered instead.
- Every string a member chose (job names, commands, causes, reasons, token names) is shown
  through ``safe``: control characters are printed escaped (``\\x1b``) and rich markup is inert,
  so a job name cannot move the cursor, clear an admin's screen or plant a terminal hyperlink.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aitc.errors import ConfigError, each_error

console = Console()
# C0 controls (ESC, BEL, ...), DEL, C1 controls (CSI, OSC as single code points) and the
# bidirectional overrides that make text read other than it is.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
USAGE, FAILURE = 2, 1


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object, *, markup: bool = False) -> str:
    """``text`` harmless for a terminal: control characters escaped and, for rich output
    (``markup``), rich markup escaped too."""
    plain = _UNSAFE.sub(_escaped, str(text))
    return escape(plain) if markup else plain


def echo(text: str, *, err: bool = False) -> None:
    typer.echo(safe(text), err=err)


def fail(what: str, why: str, code: int = FAILURE) -> NoReturn:
    """Print ``aitc: what: why`` on stderr and exit with ``code`` (2: usage, 1: failure)."""
    echo(f"aitc: {what}: {why}", err=True)
    raise typer.Exit(code)


def usage(what: str, why: str) -> NoReturn:
    fail(what, why, USAGE)


def config_failure(error: ConfigError, code: int = USAGE) -> NoReturn:
    """Every error of a configuration file, one line each (``aitc: lab.yaml:14: field: why``)
    on stderr, then exit with ``code``."""
    for one in each_error(error):
        echo(f"aitc: {one}", err=True)
    raise typer.Exit(code)


def when(value: str | None) -> str:
    """An API time (ISO 8601, UTC) in local time, to the second; ``-`` when absent."""
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@dataclass
class Rows:
    """A table to print: column names, rows of plain (unescaped) cells, an optional title."""

    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    title: str = ""
    right: frozenset[str] = frozenset()
    show_header: bool = True

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def print(self) -> None:
        if console.is_terminal:
            console.print(self._rich())
        else:
            typer.echo(self._plain())

    def _rich(self) -> Table:
        """The table as wide as the terminal: a cell that does not fit wraps onto more lines,
        never cut (the first column, which names the row, is never wrapped)."""
        title = safe(self.title, markup=True) or None
        table = Table(title=title, title_justify="left", show_header=self.show_header)
        for i, col in enumerate(self.columns):
            justify = "right" if col in self.right else "left"
            table.add_column(col, justify=justify, overflow="fold", no_wrap=i == 0)
        for row in self.rows:
            table.add_row(*(safe(c, markup=True) for c in row))
        return table

    def _plain(self) -> str:
        lines = [list(self.columns)] if self.show_header else []
        lines += [[safe(c) for c in row] for row in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(self.columns))]
        out = [safe(self.title)] if self.title else []
        for line in lines:
            cells = [c.ljust(w) for c, w in zip(line[:-1], widths, strict=False)] + [line[-1]]
            out.append("  ".join(cells).rstrip())
        return "\n".join(out)
