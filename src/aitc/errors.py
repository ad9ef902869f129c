"""Errors that aitc raises to its users.

The tree::

    AitcError                      every error aitc raises on purpose
    ├── ConfigError                a lab.yaml, cluster file or CLI value is wrong
    │   │                          (the message names file, line, field and reason)
    │   └── ConfigErrors           several at once: every error of one lab.yaml
    ├── TraceError                 a trace file is missing or malformed (row/column, reason)
    ├── CatalogError               an unknown reference architecture, GPU, node or MIG profile
    ├── SchedulingError            a job can never run on this cluster (too large, unknown GPU)
    ├── StoreError                 the database refused or lost something
    │   ├── NotFoundError          the object does not exist or is not visible to the caller
    │   └── ConflictError          the request contradicts what is stored (a reused idempotency key)
    ├── AccessDeniedError          the caller may see the object but not do this to it
    └── ExecutorError              the executor (local processes, Slurm) failed to start/poll/cancel
        └── SlurmError             a Slurm command failed or Slurm is unreachable

Every message says what was wrong and, where possible, how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class AitcError(Exception):
    """Base of every error aitc raises on purpose."""


class ConfigError(AitcError):
    """A configuration value is wrong; the message names file, line, field and reason."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{message}")


class ConfigErrors(ConfigError):
    """Several configuration errors found in one pass, one line each (``errors``); ``file``,
    ``line``, ``field`` and ``reason`` are the first one's."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        first = errors[0]
        super().__init__(first.reason, file=first.file, line=first.line, field=first.field)
        self.errors = tuple(errors)
        self.args = (self.errors,)  # pickles (worker processes) as the list of errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def each_error(error: ConfigError) -> tuple[ConfigError, ...]:
    """The single errors inside ``error`` (itself, unless it is a ``ConfigErrors``)."""
    return error.errors if isinstance(error, ConfigErrors) else (error,)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` naming the choice closest to a misspelt ``word``, or ``""``
    when none is close (difflib's ratio of at least 0.6)."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class TraceError(AitcError):
    """A trace file is missing or malformed."""


class CatalogError(AitcError, KeyError):
    """An unknown name in one of the catalogs (RA, GPU, node model, MIG profile)."""

    def __str__(self) -> str:  # KeyError would add quotes
        return str(self.args[0]) if self.args else ""


class SchedulingError(AitcError):
    """A job can never be placed on this cluster."""


class StoreError(AitcError):
    """The store refused or could not complete an operation."""


class NotFoundError(StoreError):
    """The object does not exist, or the caller may not see it."""


class ConflictError(StoreError):
    """The request contradicts what is stored (an idempotency key reused for another job)."""


class AccessDeniedError(AitcError):
    """The caller may see the object, but their role does not allow this action."""


class ExecutorError(AitcError):
    """The executor failed to start, poll or cancel a job."""


class SlurmError(ExecutorError):
    """A Slurm command failed or the Slurm controller is unreachable."""
