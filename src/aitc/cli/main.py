"""The ``aitc`` command: thin typer commands that parse, call a package and render with rich.

Each command's module is imported when the command runs (or when ``aitc --help`` lists them
all), not with ``aitc`` itself: ``aitc queue`` does not wait for the imports of the twin, the
planner and the server.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import typer
import typer.main

from aitc import __version__
from aitc.cli.usage import AitcGroup

# Each top-level command and the module whose ``register(app)`` adds it (with the others of
# that module), in the order ``aitc --help`` lists them.
COMMANDS: Mapping[str, str] = {
    "sim": "aitc.cli.sim",
    "serve": "aitc.cli.serve",
    **dict.fromkeys(
        (
            "submit",
            "run",
            "notebook",
            "queue",
            "show",
            "cancel",
            "logs",
            "hold",
            "release",
            "requeue",
            "history",
            "nodes",
            "share",
        ),
        "aitc.cli.client",
    ),
    "update": "aitc.cli.update",
    "report": "aitc.cli.report",
    "arch": "aitc.cli.arch",
    "lab": "aitc.cli.lab",
    "plan": "aitc.cli.plan",
    "token": "aitc.cli.client",
    "member": "aitc.cli.client",
    "node": "aitc.cli.client",
    "course": "aitc.cli.course",
    "reservation": "aitc.cli.reservation",
}


@functools.cache
def registered(module: str) -> dict[str, Any]:
    """The click commands that ``module``'s ``register`` adds, by name (imported once)."""
    app = typer.Typer()
    importlib.import_module(module).register(app)
    return dict(typer.main.get_group(app).commands)


class _Commands(MutableMapping[str, Any]):
    """The top-level commands by name: every name at once, a command's module imported when
    the command itself is first looked up."""

    def __init__(self, loaded: Mapping[str, Any]) -> None:
        self._loaded = dict(loaded)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded and name in COMMANDS:
            self._loaded.update(registered(COMMANDS[name]))
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*COMMANDS, *self._loaded]))

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]


class _Group(AitcGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands(self.commands)


app = typer.Typer(
    name="aitc",
    help="Design, simulate, plan and operate a shared AI supercomputer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Group,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aitc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """aitc: design, twin, plan, operate, teach and report on a shared GPU cluster."""
