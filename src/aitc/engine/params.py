"""Policy parameters: checked against the names and types a policy declares.

An unknown name or a value of the wrong type is a ``ConfigError`` that names the policy, the
parameter and the known ones, so a typo in lab.yaml never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping

from aitc.errors import ConfigError


class Params:
    """The parameters of one policy: declared defaults overridden by given values."""

    def __init__(
        self, policy: str, defaults: Mapping[str, object], given: Mapping[str, object]
    ) -> None:
        self.policy = policy
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            known = ", ".join(sorted(defaults))
            raise ConfigError(
                f"unknown parameter {unknown[0]!r} for policy {policy!r} (known: {known})",
                field=f"policy.params.{unknown[0]}",
            )
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
