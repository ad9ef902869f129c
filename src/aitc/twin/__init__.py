"""The digital twin: replay job traces on a simulated cluster with the real engine.

Loaders (``sources``, ``table``, ``generator``) stream ``TraceJob`` values in submit order; the
event loop (``loop.Twin``) drives ``aitc.engine`` and applies its actions; ``runner`` turns a run
into ``jobs.parquet``, ``summary.json`` and plots. Nothing here reads the wall clock.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aitc.twin.loop import Twin, TwinConfig
    from aitc.twin.runner import SimResult, simulate, write_comparison, write_run
    from aitc.twin.trace import JobSource, ListSource, TraceJob

__all__ = [
    "JobSource",
    "ListSource",
    "SimResult",
    "Twin",
    "TwinConfig",
    "TraceJob",
    "simulate",
    "write_comparison",
    "write_run",
]

# Where each name lives, imported on first use: a module of the twin that needs neither the
# loop nor the engine (the plots' process, ``painter``) does not load them.
_HOMES = {
    "JobSource": "aitc.twin.trace",
    "ListSource": "aitc.twin.trace",
    "SimResult": "aitc.twin.runner",
    "Twin": "aitc.twin.loop",
    "TwinConfig": "aitc.twin.loop",
    "TraceJob": "aitc.twin.trace",
    "simulate": "aitc.twin.runner",
    "write_comparison": "aitc.twin.runner",
    "write_run": "aitc.twin.runner",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
