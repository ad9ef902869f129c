"""Executors by name: the one place that knows which executors exist.

Built-ins register like third parties (Datasette's ``DEFAULT_PLUGINS``): each entry maps a name
to ``"module:function"``, a factory taking ``ExecutorSettings`` and returning an ``Executor``.
Modules load only when their executor is asked for, so ``aitc serve --executor local`` never
imports the Slurm adapter. Add an executor with ``register_executor(name, factory)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from aitc.control.executors.base import Executor
from aitc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    """What ``aitc serve`` knows that an executor may need.

    ``state_dir`` holds the executor's own records (attempt directories, logs). ``options`` carries
    executor-specific strings (for example the path of a ``slurm.conf``).
    """

    state_dir: Path
    virtual_gpus: int | None = None
    virtual_model: str = "H100-80GB"
    node_name: str | None = None
    grace_s: float = 10.0
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


Factory = Callable[[ExecutorSettings], Executor]

_BUILTIN: dict[str, str] = {
    "local": "aitc.control.executors.local:from_settings",
    "fake": "aitc.control.executors.fake:from_settings",
    "slurm": "aitc.control.executors.slurm:from_settings",
}
_registered: dict[str, Factory | str] = dict(_BUILTIN)


def register_executor(name: str, factory: Factory | str) -> None:
    """Make ``factory`` (a callable or ``"module:function"``) available as executor ``name``."""
    _registered[name] = factory


def executor_names() -> tuple[str, ...]:
    return tuple(sorted(_registered))


def create_executor(name: str, settings: ExecutorSettings) -> Executor:
    """Build executor ``name`` (``ConfigError`` naming the known ones if unknown)."""
    try:
        factory = _registered[name]
    except KeyError:
        raise ConfigError(
            f"unknown executor {name!r} (known: {', '.join(executor_names())})", field="executor"
        ) from None
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory(settings)
