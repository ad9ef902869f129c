"""Traces that ship inside the package, found by name (``aitc sim --trace philly``).

A newcomer needs a real workload without downloading one: the Philly trace (0.6 MB) is part of
the package, with its source and licence note beside it (``aitc/twin/data/philly/README.md``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# name -> (file inside aitc/twin/data, the loader format that reads it)
BUNDLED: dict[str, tuple[str, str]] = {
    "philly": ("philly/philly_jobs.csv.gz", "philly"),
}


def bundled_trace(name: str) -> tuple[Path, str] | None:
    """The path and format of the bundled trace ``name``; None when there is none by that name."""
    entry = BUNDLED.get(name)
    if entry is None:
        return None
    path = Path(str(resources.files("aitc.twin").joinpath("data", *entry[0].split("/"))))
    return (path, entry[1]) if path.is_file() else None
