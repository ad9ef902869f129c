"""Usage errors in aitc's one style: ``aitc: <flag or argument>: <why>`` on stderr, exit 2.

Click (under typer) prints its own sentences in a box; ``AitcGroup`` catches them where the
command line is parsed and says the same in aitc's words, naming the flag or argument.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import ValidationError
from typer._click import exceptions as click  # typer's own copy of click's exceptions
from typer.core import TyperGroup
from typer.exceptions import Abort

from aitc.cli.output import safe


def describe(exc: click.UsageError) -> tuple[str, str]:
    """(what, why) of a usage error."""
    if isinstance(exc, click.NoSuchOption):
        hint = f"; did you mean {', '.join(exc.possibilities)}?" if exc.possibilities else ""
        return exc.option_name, f"no such option{hint} (see --help)"
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        return _name(exc.param), "missing (see --help)"
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        return _name(exc.param), _why(exc)
    if isinstance(exc, click.BadParameter) and exc.param_hint:
        hint = exc.param_hint
        names = hint if isinstance(hint, str) else " / ".join(hint)
        return names.strip("'\""), _why(exc)
    if isinstance(exc, click.BadOptionUsage):
        return exc.option_name, exc.message
    return "usage", f"{exc.message} (see --help)"


def _name(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "option":
        return str(max(param.opts, key=len))
    return str(getattr(param, "metavar", None) or param.name or "argument").upper()


def _why(exc: click.BadParameter) -> str:
    """The reason in aitc's words: typer checks types with pydantic, whose sentences we
    translate for the kinds a command line has (whole numbers, numbers, choices)."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        error = cause.errors()[0]
        got = error.get("input")
        kind = {
            "int_parsing": "a whole number",
            "int_from_float": "a whole number",
            "float_parsing": "a number",
            "bool_parsing": "true or false",
        }.get(error["type"])
        if kind:
            return f"must be {kind} (got {got!r})"
        return f"{error['msg'].lower()} (got {got!r})"
    return exc.message


class AitcGroup(TyperGroup):
    """The top-level command: usage errors of every sub-command in aitc's style."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            what, why = describe(exc)
            print(safe(f"aitc: {what}: {why}"), file=sys.stderr)
            sys.exit(2)
        except click.ClickException as exc:
            print(safe(f"aitc: {exc.format_message()}"), file=sys.stderr)
            sys.exit(exc.exit_code)
        except Abort:  # Ctrl-C at a prompt
            print("aitc: aborted", file=sys.stderr)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)
