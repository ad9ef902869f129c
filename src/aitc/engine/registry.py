"""Policies and placements by name: one registry that built-ins and third parties register
with alike.

``register`` (policies) and ``register_placement`` (placements) are class decorators; the
built-ins are modules listed in ``DEFAULT_POLICIES`` and ``DEFAULT_PLACEMENTS`` and loaded the
first time the registry is read, as Datasette loads its own features as plugins. A policy
picks its placement by name with its ``placement`` parameter.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from aitc.domain.org import Organisation
from aitc.errors import ConfigError

if TYPE_CHECKING:
    from aitc.engine.placement import PlacementPolicy
    from aitc.engine.policy import Policy
    from aitc.engine.scheduler import Scheduler

DEFAULT_POLICIES = (
    "aitc.engine.policies.fifo",
    "aitc.engine.policies.backfill",
    "aitc.engine.policies.fairshare",
    "aitc.engine.policies.tiresias",
    "aitc.engine.policies.quota",
    "aitc.engine.policies.sjf",
)
DEFAULT_PLACEMENTS = ("aitc.engine.placement", "aitc.engine.pooled")

POLICIES: dict[str, type[Policy]] = {}

PLACEMENTS: dict[str, type[PlacementPolicy]] = {}

P = TypeVar("P", bound="type[Policy]")
L = TypeVar("L", bound="type[PlacementPolicy]")


def register(cls: P) -> P:
    """Make a policy class known by its ``name``."""
    if not cls.name:
        raise ConfigError(f"policy class {cls.__name__} has no name")
    POLICIES[cls.name] = cls
    return cls


def register_placement(cls: L) -> L:
    """Make a placement class known by its ``name``."""
    if not cls.name:
        raise ConfigError(f"placement class {cls.__name__} has no name")
    PLACEMENTS[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in (*DEFAULT_PLACEMENTS, *DEFAULT_POLICIES):
        importlib.import_module(module)


def policy_class(name: str) -> type[Policy]:
    """The policy registered as ``name`` (``ConfigError`` naming the known ones if none)."""
    if name not in POLICIES:
        raise ConfigError(
            f"unknown scheduling policy {name!r} (known: {', '.join(POLICIES)})",
            field="policy.name",
        )
    return POLICIES[name]


def placement_class(name: str) -> type[PlacementPolicy]:
    """The placement registered as ``name`` (``ConfigError`` naming the known ones if none)."""
    if name not in PLACEMENTS:
        raise ConfigError(
            f"unknown placement {name!r} (known: {', '.join(PLACEMENTS)})",
            field="policy.params.placement",
        )
    return PLACEMENTS[name]


def make_scheduler(
    name: str, *, organisations: Sequence[Organisation] = (), **params: object
) -> Scheduler:
    """A ``Scheduler`` running policy ``name`` with ``params``."""
    from aitc.engine.scheduler import Scheduler

    return Scheduler(name, params=params, organisations=organisations)


_load_builtins()
