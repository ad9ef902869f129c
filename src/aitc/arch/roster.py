"""The member roster: a CSV file of the people of a lab, one row per member.

Columns ``id``, ``name``, ``email``, ``organisation`` and ``role`` are required; ``projects``
(project ids separated by ``;``), ``unix_user``, ``uid`` and ``gid`` are optional. Each row is
checked with the same model as an inline member of lab.yaml; errors name the CSV file, the row's
line and the column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from aitc.arch.labschema import MemberSpec
from aitc.arch.labsource import Loc, pydantic_error
from aitc.errors import ConfigError

REQUIRED_COLUMNS = ("id", "name", "email", "organisation", "role")
OPTIONAL_COLUMNS = ("projects", "unix_user", "uid", "gid")
_MEMBER = TypeAdapter(MemberSpec)
_EXTRA = "\0extra"  # where DictReader puts values beyond the header's columns


@dataclass(frozen=True)
class RowSource:
    """One row of a CSV file: errors name the file, the row's line and the column."""

    file: str
    line: int

    def error(self, loc: Loc, reason: str) -> ConfigError:
        column = next((p for p in reversed(loc) if isinstance(p, str)), None)
        return ConfigError(reason, file=self.file, line=self.line, field=column)

    def place(self, loc: Loc) -> str:
        return f"{self.file}:{self.line}"


def read_roster(path: Path, shown: str) -> list[tuple[MemberSpec, RowSource]]:
    """The members of the CSV at ``path`` with the row each came from; ``shown`` names it."""
    text = _read_text(path, shown)
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    _check_header(reader.fieldnames, shown)
    out: list[tuple[MemberSpec, RowSource]] = []
    for row in reader:
        # The line the row ends on: rows here never span lines, so it is the row's line.
        source = RowSource(shown, reader.line_num)
        out.append((_member(row, source), source))
    return out


def _read_text(path: Path, shown: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=shown) from None
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=shown) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text", file=shown, line=line) from None


def _check_header(header: Sequence[str] | None, shown: str) -> None:
    if not header:
        raise ConfigError("empty roster: the first line must name the columns", file=shown)
    allowed = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    for column in header:
        if column not in allowed:
            raise ConfigError(
                f"unknown column (allowed: {', '.join(allowed)})",
                file=shown,
                line=1,
                field=column,
            )
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise ConfigError("required column is missing", file=shown, line=1, field=column)


def _member(row: dict[str, Any], source: RowSource) -> MemberSpec:
    extra = row.pop(_EXTRA, None)
    if extra:
        raise source.error(
            (), f"{len(row) + len(extra)} values, but the header names {len(row)} columns"
        )
    missing = [k for k, v in row.items() if v is None]
    if missing:
        raise source.error((missing[0],), "value is missing (the row has too few values)")
    values: dict[str, object] = {k: (v or "").strip() for k, v in row.items()}
    projects = str(values.pop("projects", ""))
    values["projects"] = [p.strip() for p in projects.split(";") if p.strip()]
    for key in ("unix_user", "uid", "gid"):  # optional: an empty cell means the default
        if values.get(key) == "":
            del values[key]
        elif key != "unix_user" and str(values.get(key, "x")).isdigit():
            values[key] = int(str(values[key]))
    try:
        return _MEMBER.validate_python(values)
    except ValidationError as e:
        raise pydantic_error(e, source, values, MemberSpec) from None
