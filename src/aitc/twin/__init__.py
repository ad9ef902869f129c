"""The digital twin: replay job traces on a simulated cluster with the real engine.

Loaders (``sources``, ``table``, ``generator``) stream ``TraceJob`` values in submit order; the
event loop (``loop.Twin``) drives ``aitc.engine`` and applies its actions; ``runner`` turns a run
into ``jobs.parquet``, ``summary.json`` and plots. Nothing here reads the wall clock.
"""

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
