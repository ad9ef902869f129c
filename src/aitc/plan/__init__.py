"""Planning: how big must the cluster be, and what would another policy have done?

``sweep`` runs the lab's generated workload through the twin on cluster sizes in the
reference architecture's steps, under several policies and seeds, in worker processes, and
finds the smallest size meeting every service target of lab.yaml (``targets``), bisecting
over sizes per policy; ``report`` writes the HTML and JSON. ``history`` reads what the
control plane recorded (read-only) and ``replay`` plays it again in the twin under the live
policy (a fidelity check) and under another. Planning drives the twin; it reads the store
only for recorded history. ``lab`` reads lab.yaml for every command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aitc.plan.search import Point, SweepResult, sweep
    from aitc.plan.sizes import size_ladder
    from aitc.plan.targets import Figure

__all__ = ["Figure", "Point", "SweepResult", "size_ladder", "sweep"]

# Where each name lives, imported on first use: reading a lab (``aitc.plan.lab``, for
# ``aitc serve`` and ``aitc lab check``) does not load the twin and numpy.
_HOMES = {
    "Figure": "aitc.plan.targets",
    "Point": "aitc.plan.search",
    "SweepResult": "aitc.plan.search",
    "size_ladder": "aitc.plan.sizes",
    "sweep": "aitc.plan.search",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
