"""Policies and placements by name: one registry that built-ins and third parties register
with alike.

``register`` (policies) and ``register_placement`` (placements) are class decorators; the
built-ins are modules listed in ``DEFAULT_POLICIES`` and ``DEFAULT_PLACEMENTS`` and loaded the
first time the registry is read, as Datasette loads its own features as plugins. A policy
picks its placement by name with its ``placement`` parameter.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from aitc.domain.org import Organisation
from aitc.errors import ConfigError, did_you_mean

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
        raise policy_error(name)
    return POLICIES[name]


def placement_class(name: str) -> type[PlacementPolicy]:
    """The placement registered as ``name`` (``ConfigError`` naming the known ones if none)."""
    if name not in PLACEMENTS:
        raise ConfigError(
            f"unknown placement {name!r} (known: {', '.join(PLACEMENTS)})",
            field="policy.params.placement",
        )
    return PLACEMENTS[name]


def policy_errors(name: str, params: Mapping[str, object]) -> list[ConfigError]:
    """Every problem of a lab's ``policy`` section, each naming its field: an unknown policy,
    each unknown parameter, each value the policy or the driver refuses. Empty means that
    ``Scheduler(name, params=split_params(params)[0])`` and both drivers accept them: this is
    the check ``aitc lab check``, ``aitc serve`` and ``aitc sim --lab`` share."""
    from aitc.engine.params import driver_param_errors, split_params, unknown_params
    from aitc.engine.policy import COMMON

    if name not in POLICIES:
        return [policy_error(name)]
    cls = POLICIES[name]
    engine, driver = split_params(params)
    declared = {**COMMON, **cls.PARAMS}
    errors = driver_param_errors(driver) + unknown_params(name, declared, engine)
    known = {k: v for k, v in engine.items() if k in declared}
    for key, value in known.items():  # each value alone, so that every bad one is named
        try:
            cls({key: value})
        except ConfigError as e:
            errors.append(e)
    if not errors:
        try:
            cls(known)  # and together, for rules that join several
        except ConfigError as e:
            errors.append(e)
    return errors


def policy_error(name: str) -> ConfigError:
    """The error for an unknown policy name, naming the known ones."""
    return ConfigError(
        f"unknown scheduling policy {name!r}{did_you_mean(name, POLICIES)} "
        f"(known: {', '.join(POLICIES)})",
        field="policy.name",
    )


def make_scheduler(
    name: str, *, organisations: Sequence[Organisation] = (), **params: object
) -> Scheduler:
    """A ``Scheduler`` running policy ``name`` with ``params``."""
    from aitc.engine.scheduler import Scheduler

    return Scheduler(name, params=params, organisations=organisations)


_load_builtins()
