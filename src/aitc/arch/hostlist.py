"""Slurm host lists: ``node[01-03,07]`` <-> ``["node01", "node02", "node03", "node07"]``.

Slurm writes sets of names (nodes, switches) in this compressed form in its configuration files
and in its command output. ``compress`` keeps the order it is given (a port range in
``slurm.conf`` is matched to the names in that order); ``expand`` is its inverse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from aitc.errors import ConfigError

_NUMBERED = re.compile(r"^(.*?)(\d+)$")
_BRACKET = re.compile(r"^(.*?)\[([^\]]+)\](.*)$")


def compress(names: Iterable[str]) -> str:
    """Names as a Slurm host list, grouping runs of one prefix and number width."""
    groups: list[tuple[str, int, list[int]]] = []  # width -1: a name without a number
    for name in names:
        m = _NUMBERED.match(name)
        if m is None:
            groups.append((name, -1, []))
            continue
        prefix, digits = m.group(1), m.group(2)
        last = groups[-1] if groups else None
        if last is not None and last[0] == prefix and last[1] == len(digits):
            last[2].append(int(digits))
        else:
            groups.append((prefix, len(digits), [int(digits)]))
    return ",".join(g[0] if g[1] < 0 else _group(*g) for g in groups)


def _group(prefix: str, width: int, numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return f"{prefix}{numbers[0]:0{width}d}"
    return f"{prefix}[{','.join(_ranges(numbers, width))}]"


def _ranges(numbers: Sequence[int], width: int) -> list[str]:
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start:0{width}d}" if start == prev else f"{start:0{width}d}-{prev:0{width}d}")
        if n is not None:
            start = prev = n
    return out


def expand(hostlist: str) -> list[str]:
    """The names of a Slurm host list, in order (``ConfigError`` for a malformed range)."""
    out: list[str] = []
    for part in _split_top(hostlist):
        m = _BRACKET.match(part)
        if m is None:
            out.append(part)
            continue
        prefix, ranges, suffix = m.groups()
        for r in ranges.split(","):
            lo, _, hi = r.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                raise ConfigError(f"malformed host range {r!r} in {hostlist!r}", field="hostlist")
            for n in range(int(lo), int(hi or lo) + 1):
                out.append(f"{prefix}{n:0{len(lo)}d}{suffix}")
    return out


def _split_top(hostlist: str) -> list[str]:
    """Split at the commas that are not inside brackets."""
    parts, depth, current = [], 0, ""
    for ch in hostlist:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current:
        parts.append(current)
    return [p for p in parts if p]
