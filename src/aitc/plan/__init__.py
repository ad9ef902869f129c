"""Planning: how big must the cluster be, and what would another policy have done?

``sweep`` runs the lab's generated workload through the twin on cluster sizes in the
reference architecture's steps, under several policies and seeds, in worker processes, and
finds the smallest size meeting every service target of lab.yaml (``targets``), bisecting
over sizes per policy; ``report`` writes the HTML and JSON. ``history`` reads what the
control plane recorded (read-only) and ``replay`` plays it again in the twin under the live
policy (a fidelity check) and under another. Planning drives the twin; it reads the store
only for recorded history.
"""

from aitc.plan.search import Point, SweepResult, sweep
from aitc.plan.sizes import size_ladder
from aitc.plan.targets import Figure

__all__ = ["Figure", "Point", "SweepResult", "size_ladder", "sweep"]
