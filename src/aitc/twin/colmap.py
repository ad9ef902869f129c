"""The column mapping of a generic job table: ``submit=creation_time,end=deletion_time,...``.

Each entry says which column of the file holds one field of a job. A time column may carry a
unit after a colon (``end=stop_ms:ms``); without one, numbers are read as seconds, or as
milliseconds/microseconds/nanoseconds when they are as large as epoch times in those units,
and text is parsed as a date-time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from aitc.errors import ConfigError

UNITS: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}
FLAG = "--map"


@dataclass(frozen=True, slots=True)
class ColumnRef:
    """A column name and, for times and durations, its unit (``None``: detect)."""

    column: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which file column holds each job field. ``submit`` and ``gpus`` are required, and
    either ``duration`` or ``end`` (runtime = end - start, or end - submit without start)."""

    submit: ColumnRef
    gpus: ColumnRef
    duration: ColumnRef | None = None
    end: ColumnRef | None = None
    start: ColumnRef | None = None
    tenant: ColumnRef | None = None
    project: ColumnRef | None = None
    member: ColumnRef | None = None
    nodes: ColumnRef | None = None
    time_limit: ColumnRef | None = None

    def columns(self) -> list[str]:
        """The distinct file columns this mapping reads, in field order."""
        out: list[str] = []
        for f in fields(self):
            ref = getattr(self, f.name)
            if ref is not None and ref.column not in out:
                out.append(ref.column)
        return out


FIELDS = tuple(f.name for f in fields(ColumnMap))
PHILLY_MAP = "submit=timestamp,duration=duration:s,gpus=num_gpus,tenant=cluster"


def parse_column_map(text: str) -> ColumnMap:
    """Parse ``field=column[:unit],...``; a ``ConfigError`` names the bad entry."""
    refs: dict[str, ColumnRef] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        key = key.strip()
        if not sep or not value.strip():
            raise ConfigError(f"entry {entry!r} is not field=column", field=FLAG)
        if key not in FIELDS:
            raise ConfigError(f"unknown field {key!r} (known: {', '.join(FIELDS)})", field=FLAG)
        refs[key] = _ref(key, value.strip())
    return _complete(refs)


def _ref(key: str, value: str) -> ColumnRef:
    column, _, unit = value.partition(":")
    if unit and unit not in UNITS:
        known = ", ".join(UNITS)
        raise ConfigError(f"{key}: unknown unit {unit!r} (known: {known})", field=FLAG)
    return ColumnRef(column, unit or None)


def _complete(refs: dict[str, ColumnRef]) -> ColumnMap:
    for required in ("submit", "gpus"):
        if required not in refs:
            raise ConfigError(f"the mapping needs {required}=COLUMN", field=FLAG)
    if "duration" not in refs and "end" not in refs:
        raise ConfigError("the mapping needs duration=COLUMN or end=COLUMN", field=FLAG)
    return ColumnMap(**refs)
