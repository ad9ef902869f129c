"""The column mapping of a generic job table: ``submit=creation_time,end=deletion_time,...``.

Each entry says which column of the file holds one field of a job. A time column may carry a
unit after a colon (``end=stop_ms:ms``); without one, numbers are read as seconds, or as
milliseconds/microseconds/nanoseconds when they are as large as epoch times in those units,
and text is parsed as a date-time.

Resource fields carry units of their own: ``cpus`` and ``gpu_fraction`` may be given in
thousandths (``cpus=cpu_milli:milli``, ``gpu_fraction=gpu_milli:milli``; the fields
``cpu_milli`` and ``gpu_milli`` say the same) or percent (``:pct``), ``memory`` in ``b``,
``kib``, ``mib``, ``gib`` (binary) or ``kb``, ``mb``, ``gb`` (decimal; the default).
``--where COLUMN=VALUE[,VALUE]`` keeps only the rows whose column holds one of the values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from aitc.errors import ConfigError

UNITS: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}
COUNT_UNITS: dict[str, float] = {"milli": 1e-3, "pct": 1e-2, "one": 1.0}
MEMORY_UNITS: dict[str, float] = {  # to GB (10**9 bytes, as GPU and node datasheets count)
    "b": 1e-9,
    "kb": 1e-6,
    "mb": 1e-3,
    "gb": 1.0,
    "kib": 1024 / 1e9,
    "mib": 1024**2 / 1e9,
    "gib": 1024**3 / 1e9,
}
# fields whose unit is not a time unit, and fields that are another field with a fixed unit
_UNITS_OF: dict[str, dict[str, float]] = {
    "cpus": COUNT_UNITS,
    "gpu_fraction": COUNT_UNITS,
    "memory": MEMORY_UNITS,
    "gpus": {},
    "gpu_model": {},
    "tenant": {},
    "project": {},
    "member": {},
    "nodes": {},
}
_ALIASES: dict[str, tuple[str, str]] = {
    "cpu_milli": ("cpus", "milli"),
    "gpu_milli": ("gpu_fraction", "milli"),
}
FLAG = "--map"
WHERE_FLAG = "--where"


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
    cpus: ColumnRef | None = None
    memory: ColumnRef | None = None
    gpu_model: ColumnRef | None = None
    gpu_fraction: ColumnRef | None = None

    def columns(self) -> list[str]:
        """The distinct file columns this mapping reads, in field order."""
        out: list[str] = []
        for f in fields(self):
            ref = getattr(self, f.name)
            if ref is not None and ref.column not in out:
                out.append(ref.column)
        return out


FIELDS = tuple(f.name for f in fields(ColumnMap))
KNOWN_FIELDS = (*FIELDS, *_ALIASES)
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
        if key not in KNOWN_FIELDS:
            known = ", ".join(KNOWN_FIELDS)
            raise ConfigError(f"unknown field {key!r} (known: {known})", field=FLAG)
        field, ref = _ref(key, value.strip())
        if field in refs:
            raise ConfigError(f"{field} is mapped twice (as {key!r} too)", field=FLAG)
        refs[field] = ref
    return _complete(refs)


def _ref(key: str, value: str) -> tuple[str, ColumnRef]:
    column, _, unit = value.partition(":")
    field, fixed = _ALIASES.get(key, (key, ""))
    if fixed:
        if unit:
            raise ConfigError(f"{key}: takes no unit ({key} is {field}:{fixed})", field=FLAG)
        return field, ColumnRef(column, fixed)
    units = _UNITS_OF.get(field, UNITS)
    if unit and unit not in units:
        known = ", ".join(units) or "none"
        raise ConfigError(f"{key}: unknown unit {unit!r} (known: {known})", field=FLAG)
    return field, ColumnRef(column, unit or None)


def _complete(refs: dict[str, ColumnRef]) -> ColumnMap:
    for required in ("submit", "gpus"):
        if required not in refs:
            raise ConfigError(f"the mapping needs {required}=COLUMN", field=FLAG)
    if "duration" not in refs and "end" not in refs:
        raise ConfigError("the mapping needs duration=COLUMN or end=COLUMN", field=FLAG)
    return ColumnMap(**refs)


@dataclass(frozen=True, slots=True)
class RowFilter:
    """``--where COLUMN=VALUE[,VALUE]``: keep the rows whose ``column`` holds one of ``values``
    (compared as text, or as numbers when both sides are numbers)."""

    column: str
    values: tuple[str, ...]


def parse_where(text: str) -> RowFilter:
    """Parse ``COLUMN=VALUE[,VALUE...]``; a ``ConfigError`` names ``--where``."""
    column, sep, values = text.partition("=")
    kept = tuple(v.strip() for v in values.split(",") if v.strip())
    if not sep or not column.strip() or not kept:
        raise ConfigError(f"{text!r} is not COLUMN=VALUE[,VALUE...]", field=WHERE_FLAG)
    return RowFilter(column.strip(), kept)
