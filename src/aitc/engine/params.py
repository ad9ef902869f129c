"""Policy parameters: checked against the names and types a policy declares; and the one split
between the engine's parameters and the drivers' (``DriverParams``, ``split_params``).

An unknown name or a value of the wrong type is a ``ConfigError`` that names the policy, the
parameter and the known ones, so a typo in lab.yaml never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from aitc.errors import ConfigError, did_you_mean


class Params:
    """The parameters of one policy: declared defaults overridden by given values."""

    def __init__(
        self, policy: str, defaults: Mapping[str, object], given: Mapping[str, object]
    ) -> None:
        self.policy = policy
        unknown = unknown_params(policy, defaults, given)
        if unknown:
            raise unknown[0]
        self.values = {**defaults, **given}

    def _fail(self, name: str, why: str) -> ConfigError:
        return ConfigError(f"{why} (got {self.values[name]!r})", field=f"policy.params.{name}")

    def number(self, name: str, *, minimum: float | None = None) -> float:
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(name, "must be a number")
        if minimum is not None and value < minimum:
            raise self._fail(name, f"must be at least {minimum}")
        return float(value)

    def whole(self, name: str, *, minimum: int = 0) -> int:
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, "must be a whole number")
        if value < minimum:
            raise self._fail(name, f"must be at least {minimum}")
        return value

    def flag(self, name: str) -> bool:
        value = self.values[name]
        if not isinstance(value, bool):
            raise self._fail(name, "must be true or false")
        return value

    def choice(self, name: str, options: Mapping[str, object]) -> str:
        value = self.values[name]
        if value not in options:
            raise self._fail(name, f"must be one of {', '.join(options)}")
        return str(value)

    def numbers(self, name: str) -> tuple[float, ...]:
        value = self.values[name]
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise self._fail(name, "must be a list of numbers")
        out = tuple(float(v) for v in value)
        if list(out) != sorted(out) or any(v <= 0 for v in out):
            raise self._fail(name, "must be positive and increasing")
        return out


def unknown_params(
    policy: str, defaults: Mapping[str, object], given: Mapping[str, object]
) -> list[ConfigError]:
    """One error for each name in ``given`` that ``defaults`` does not declare, with the
    closest known name when one is close (``half_life`` → ``half_life_s``). The names listed
    as known are those a lab's ``policy.params`` may give: the policy's and the drivers'."""
    known = sorted(set(defaults) | DRIVER_PARAMS)
    return [
        ConfigError(
            f"unknown parameter {name!r} for policy {policy!r}{did_you_mean(name, known)} "
            f"(known: {', '.join(known)})",
            field=f"policy.params.{name}",
        )
        for name in sorted(set(given) - set(defaults))
    ]


# ---------------------------------------------------------------------------- engine vs driver
DEFAULT_HALF_LIFE_S = 7 * 86400.0
DEFAULT_LEAF_PENALTY = 0.05
DEFAULT_SU_PENALTY = 0.15


@dataclass(frozen=True, slots=True)
class DriverParams:
    """Lab policy parameters that belong to a driver, not to the policies, with their defaults.

    ``tick_s``: a pass at least this often while jobs wait and run (None: only on changes);
    ``leaf_penalty`` and ``su_penalty``: the twin's slowdown of jobs spread across leaves or
    scalable units. ``half_life_s`` (the ledger, in the driver's books) and
    ``preempt_overhead_s`` (weighed by the engine, applied by the twin) are engine parameters
    that drivers read too (``half_life``).
    """

    tick_s: float | None = None
    leaf_penalty: float = DEFAULT_LEAF_PENALTY
    su_penalty: float = DEFAULT_SU_PENALTY


DRIVER_PARAMS = frozenset(f.name for f in fields(DriverParams))


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``params`` split into the engine's (for ``Scheduler``) and the driver's (``DriverParams``
    names only, without defaults)."""
    engine = {k: v for k, v in params.items() if k not in DRIVER_PARAMS}
    driver = {k: v for k, v in params.items() if k in DRIVER_PARAMS}
    return engine, driver


def driver_param_errors(driver: Mapping[str, Any]) -> list[ConfigError]:
    """Every wrong value among the driver's parameters (``split_params``'s second half):
    ``tick_s`` a number > 0, the penalties numbers >= 0."""
    out = []
    for name, value in driver.items():
        if name == "tick_s" and value is None:
            continue  # a pass only on changes, as when not given
        number = isinstance(value, int | float) and not isinstance(value, bool)
        low_ok = number and (value > 0 if name == "tick_s" else value >= 0)
        if not low_ok:
            need = "a number > 0" if name == "tick_s" else "a number >= 0"
            out.append(
                ConfigError(f"must be {need} (got {value!r})", field=f"policy.params.{name}")
            )
    return out


def half_life(params: Mapping[str, Any]) -> float:
    """The usage ledger's half-life from ``half_life_s``, else ``DEFAULT_HALF_LIFE_S``."""
    value = params.get("half_life_s", DEFAULT_HALF_LIFE_S)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return DEFAULT_HALF_LIFE_S
