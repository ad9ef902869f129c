"""Policies by name: one registry that built-ins and third parties register with alike.

``register`` is a class decorator; the built-in policies are modules listed in
``DEFAULT_POLICIES`` and loaded the first time the registry is read, as Datasette loads its
own features as plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from aitc.domain.org import Organisation
from aitc.errors import ConfigError

if TYPE_CHECKING:
    from aitc.engine.policy import Policy
    from aitc.engine.scheduler import Scheduler

DEFAULT_POLICIES = (
    "aitc.engine.policies.fifo",
    "aitc.engine.policies.backfill",
    "aitc.engine.policies.fairshare",
    "aitc.engine.policies.tiresias",
    "aitc.engine.policies.quota",
)

POLICIES: dict[str, type[Policy]] = {}

P = TypeVar("P", bound="type[Policy]")


def register(cls: P) -> P:
    """Make a policy class known by its ``name``."""
    if not cls.name:
        raise ConfigError(f"policy class {cls.__name__} has no name")
    POLICIES[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in DEFAULT_POLICIES:
        importlib.import_module(module)


def policy_class(name: str) -> type[Policy]:
    """The policy registered as ``name`` (``ConfigError`` naming the known ones if none)."""
    if name not in POLICIES:
        raise ConfigError(
            f"unknown scheduling policy {name!r} (known: {', '.join(POLICIES)})",
            field="policy.name",
        )
    return POLICIES[name]


def make_scheduler(
    name: str, *, organisations: Sequence[Organisation] = (), **params: object
) -> Scheduler:
    """A ``Scheduler`` running policy ``name`` with ``params``."""
    from aitc.engine.scheduler import Scheduler

    return Scheduler(name, params=params, organisations=organisations)


_load_builtins()
