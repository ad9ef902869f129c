"""Fat-tree fabrics derived from switch radix and ports per tier.

A fabric is a list of tiers (leaf, spine, core). For every switch of a tier we record the ports
it uses downwards and upwards, so the builder's totals (cables, transceivers) are sums over real
per-switch port counts, and tests can check that no switch exceeds its radix and that every cable
has a port at both ends.

The rules, used by every fabric of every reference architecture:

* Endpoints (nodes, UFM, storage, servers) plug into leaf ports; a leaf keeps ``leaf_up`` ports
  for uplinks. If all endpoint ports fit one switch, the fabric is that one switch (one tier).
* **Two tiers** while they suffice: the spine count is the smallest ``s`` that divides each
  leaf's uplinks evenly (every leaf reaches every spine with the same number of links) and whose
  ports carry all leaf uplinks (``s * radix >= leaves * leaf_up``). That exists while
  ``leaves <= radix``.
* **Three tiers** beyond: leaves form *pods* of ``pod_leaves``; a spine uses half its ports down
  and half up; spines per pod follow the two-tier rule on the spine's down half; spine ``j`` of
  every pod connects to core group ``j``, whose size is the smallest divisor of the spine's
  uplinks whose ports carry every pod's spine ``j``. Beyond ``radix`` pods no design exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aitc.arch.catalog import SwitchModel


class FabricTooLarge(ValueError):
    """No fabric of at most three tiers of this switch connects this many leaves."""


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of switches: ports used down and up, per switch."""

    name: str
    down: tuple[int, ...]
    up: tuple[int, ...]

    @property
    def switches(self) -> int:
        return len(self.down)

    def ports_used(self) -> tuple[int, ...]:
        return tuple(d + u for d, u in zip(self.down, self.up, strict=True))

    def transceivers(self, links_per_transceiver: int) -> int:
        """Transceivers in this tier's cages: down and up links never share a cage."""
        per = links_per_transceiver
        return sum(
            math.ceil(d / per) + math.ceil(u / per) for d, u in zip(self.down, self.up, strict=True)
        )


@dataclass(frozen=True, slots=True)
class Fabric:
    """A fat tree of one switch model: its tiers from leaf upwards (empty if no switch)."""

    switch: SwitchModel
    tiers: tuple[Tier, ...]

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)

    def switch_count(self, name: str | None = None) -> int:
        """Switches in tier ``name`` (all tiers when ``None``)."""
        return sum(t.switches for t in self.tiers if name in (None, t.name))

    def cables_into(self, name: str) -> int:
        """Cables arriving from below at tier ``name`` (0 if the tier does not exist)."""
        t = self.tier(name)
        return sum(t.down) if t else 0

    @property
    def switch_transceivers(self) -> int:
        if not self.switch.optical:
            return 0
        return sum(t.transceivers(self.switch.links_per_transceiver) for t in self.tiers)

    @property
    def power_kw(self) -> float:
        return self.switch_count() * self.switch.max_power_kw

    @property
    def rack_units(self) -> int:
        return self.switch_count() * self.switch.rack_units


def smallest_divisor_at_least(n: int, need: int) -> int | None:
    """The smallest divisor of ``n`` that is ``>= need`` (``None`` if ``need > n``)."""
    return next((d for d in range(max(1, need), n + 1) if n % d == 0), None)


def fat_tree(
    switch: SwitchModel, leaf_down: Sequence[int], leaf_up: int, pod_leaves: int
) -> Fabric:
    """The fat tree over leaves whose endpoint ports used are ``leaf_down``.

    Every leaf cables all ``leaf_up`` uplinks (the fabric is built for full leaves, as the RAs
    require for partial SUs). Raises :class:`FabricTooLarge` past three tiers.
    """
    leaves = Tier("leaf", tuple(leaf_down), (leaf_up,) * len(leaf_down))
    if len(leaf_down) <= 1:
        return Fabric(switch, (Tier("leaf", tuple(leaf_down), (0,) * len(leaf_down)),))
    radix = switch.ports
    spines = smallest_divisor_at_least(leaf_up, math.ceil(len(leaf_down) * leaf_up / radix))
    if spines is not None:
        per_spine = len(leaf_down) * leaf_up // spines
        return Fabric(switch, (leaves, Tier("spine", (per_spine,) * spines, (0,) * spines)))
    return _three_tier(switch, leaves, leaf_up, pod_leaves)


def _three_tier(switch: SwitchModel, leaves: Tier, leaf_up: int, pod_leaves: int) -> Fabric:
    half = switch.ports // 2
    per_pod = smallest_divisor_at_least(leaf_up, math.ceil(pod_leaves * leaf_up / half))
    pods = math.ceil(leaves.switches / pod_leaves)
    group = smallest_divisor_at_least(half, math.ceil(pods * half / switch.ports))
    if per_pod is None or group is None:
        raise FabricTooLarge(
            f"{leaves.switches} leaves need more than three tiers of "
            f"{switch.name} ({switch.ports} ports)"
        )
    spine_down: list[int] = []
    for pod in range(pods):
        in_pod = min(pod_leaves, leaves.switches - pod * pod_leaves)
        spine_down += [in_pod * leaf_up // per_pod] * per_pod
    spines = Tier("spine", tuple(spine_down), (half,) * len(spine_down))
    cores = per_pod * group
    core = Tier("core", (pods * half // group,) * cores, (0,) * cores)
    return Fabric(switch, (leaves, spines, core))


def edge_fabric(switch: SwitchModel, endpoints: int, down: int, up: int) -> Fabric:
    """A fabric for ``endpoints`` ports on leaves of ``down`` endpoint ports and ``up`` uplinks.

    One switch when every endpoint fits its radix; otherwise the endpoints fill leaves in
    order and a fat tree joins them (pods of half a radix of leaves).
    """
    if endpoints <= 0:
        return Fabric(switch, ())
    if endpoints <= switch.ports:
        return fat_tree(switch, (endpoints,), 0, 1)
    count = math.ceil(endpoints / down)
    leaf_down = [down] * (count - 1) + [endpoints - down * (count - 1)]
    return fat_tree(switch, leaf_down, up, max(1, switch.ports // 2))


def leaf_only(switch: SwitchModel, endpoints: int) -> Fabric:
    """Stand-alone access switches (out-of-band): as many as the endpoints need, no uplink tier."""
    count = math.ceil(endpoints / switch.ports)
    down = [switch.ports] * (count - 1) + [endpoints - switch.ports * (count - 1)] if count else []
    return Fabric(switch, (Tier("leaf", tuple(down), (0,) * count),) if count else ())
