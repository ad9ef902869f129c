"""The member roster: a CSV file of the people of a lab, one row per member.

Columns ``id``, ``name``, ``email``, ``organisation`` and ``role`` are required; ``projects``
(project ids separated by ``;``), ``unix_user``, ``uid`` and ``gid`` are optional. Each row is
checked with the same model as an inline member of lab.yaml; errors name the CSV file, the row's
line and the column. Every bad row is reported, not only the first.
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
from aitc.arch.labsource import Loc, pydantic_errors
from aitc.errors import ConfigError, ConfigErrors, did_you_mean

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


@dataclass(frozen=True)
class Roster:
    """The rows of a roster that are valid members, every error of the others, and the ids
    those others give (the checks across keys take them as existing, so that one bad row
    is reported once, not again by every reference to its member)."""

    members: list[tuple[MemberSpec, RowSource]]
    errors: list[ConfigError]
    unresolved: frozenset[str]


def read_roster(path: Path, shown: str) -> Roster:
    """The members of the CSV at ``path`` with the row each came from; ``shown`` names it.

    A file that cannot be read raises ``ConfigError``; a bad header makes every header error
    the roster's errors; a bad row is one or more errors and is left out.
    """
    text = _read_text(path, shown)
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    header = _header_errors(reader.fieldnames, shown)
    if header:
        return Roster([], header, frozenset())
    out: list[tuple[MemberSpec, RowSource]] = []
    errors: list[ConfigError] = []
    unresolved: set[str] = set()
    for row in reader:
        # The line the row ends on: rows here never span lines, so it is the row's line.
        source = RowSource(shown, reader.line_num)
        given_id = str(row.get("id") or "").strip()
        try:
            out.append((_member(row, source), source))
        except ConfigErrors as e:
            errors.extend(e.errors)
            unresolved.add(given_id)
    return Roster(out, errors, frozenset(unresolved))


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


def _header_errors(header: Sequence[str] | None, shown: str) -> list[ConfigError]:
    if not header:
        return [ConfigError("empty roster: the first line must name the columns", file=shown)]
    allowed = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    errors = [
        ConfigError(
            f"unknown column{did_you_mean(column, allowed)} (allowed: {', '.join(allowed)})",
            file=shown,
            line=1,
            field=column,
        )
        for column in header
        if column not in allowed
    ]
    errors += [
        ConfigError("required column is missing", file=shown, line=1, field=column)
        for column in REQUIRED_COLUMNS
        if column not in header
    ]
    return errors


def _member(row: dict[str, Any], source: RowSource) -> MemberSpec:
    """The row as a member (``ConfigErrors`` with every problem of the row)."""
    extra = row.pop(_EXTRA, None)
    if extra:
        raise ConfigErrors(
            [
                source.error(
                    (), f"{len(row) + len(extra)} values, but the header names {len(row)} columns"
                )
            ]
        )
    missing = [k for k, v in row.items() if v is None]
    if missing:
        raise ConfigErrors(
            [source.error((missing[0],), "value is missing (the row has too few values)")]
        )
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
        raise ConfigErrors(pydantic_errors(e, source, values, MemberSpec)) from None
