"""The cluster sizes a sweep tries: the reference architecture's own steps.

With ``step="su"`` the sizes are whole scalable units (31, 63, 95, … nodes of a DGX H100
SuperPOD, whose first SU gives one slot to UFM); with a number ``N`` they are N, 2N, 3N, …
nodes. Without an upper bound the ladder stops at eight SUs (the largest two-tier fabric of a
SuperPOD) or at the RA's own cap, whichever is smaller.
"""

from __future__ import annotations

from aitc.arch.builder import max_nodes, max_sus, size
from aitc.arch.catalog import reference_architecture
from aitc.errors import ConfigError

DEFAULT_MAX_SUS = 8


def size_ladder(
    ra_name: str, *, step: str = "su", min_nodes: int | None = None, most: int | None = None
) -> tuple[int, ...]:
    """Node counts to try, ascending, between ``min_nodes`` and ``most``."""
    ra = reference_architecture(ra_name)
    default_most = size(ra, min(DEFAULT_MAX_SUS, max_sus(ra)), None)[0]
    top = min(max_nodes(ra), most or default_most)
    if step == "su":
        ladder = [size(ra, k, None)[0] for k in range(1, max_sus(ra) + 1)]
    else:
        nodes = _step_nodes(step)
        ladder = list(range(nodes, top + 1, nodes))
    chosen = sorted({n for n in ladder if (min_nodes or 1) <= n <= top})
    if not chosen:
        raise ConfigError(
            f"no size of {ra_name} between {min_nodes or 1} and {top} nodes in steps of {step}",
            field="max_nodes",
        )
    return tuple(chosen)


def _step_nodes(step: str) -> int:
    try:
        nodes = int(step)
    except ValueError:
        raise ConfigError(
            f"must be 'su' or a number of nodes, got {step!r}", field="step"
        ) from None
    if nodes < 1:
        raise ConfigError(f"must be at least 1, got {nodes}", field="step")
    return nodes
