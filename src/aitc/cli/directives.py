"""A batch script's directives: ``aitc submit job.sh`` reads its header as sbatch does.

- The header is the lines after the ``#!`` line up to the first that is neither blank nor a
  comment. A directive starts its line: ``#AITC`` takes ``aitc submit``'s own flags, parsed by
  the very same option definitions as the command line; ``#SBATCH`` takes sbatch's, which
  ``SBATCH`` (one table) turns into those flags, or ignores with a warning when they mean
  nothing here. A line is split as a shell splits words and may end in a ``# comment``;
  ``##SBATCH`` is a comment.
- Later lines override earlier ones; flags on the command line override the script's. A
  repeatable flag (``--env``) adds instead, and a GPU request (``--gpus``, ``--mig``, Slurm's
  GPUs per node) is one: a later one replaces it whole. Slurm counts ``--gres=gpu:N`` and
  ``--gpus-per-node`` per node, so they are multiplied by the job's final ``--nodes``.
- The job runs the script file with the interpreter of its ``#!`` line, as Linux reads that
  line, so the script need not be executable.

Pure but for ``read_script``, which reads the script's first lines. Errors are
``ConfigError``s that name the line (``line``) and say why (``reason``).
"""

from __future__ import annotations

import copy
import os
import re
import shlex
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from typer._click import exceptions as click  # typer's own copy of click
from typer._click.core import Command, ParameterSource
from typer.core import TyperOption

from aitc.cli.usage import describe
from aitc.errors import ConfigError, did_you_mean

DOCS = "see docs/users.md#batch-scripts"
DIRECTIVE = re.compile(r"(#SBATCH|#AITC)(?:[ \t](.*))?")
SHEBANG = re.compile(r"#![ \t]*(\S+)[ \t]*(.*?)\s*")
GPU_REQUEST = ("gpus", "mig")  # one request: whoever gives a part of it replaces all of it
_COUNT = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Directive:
    """One ``#SBATCH`` or ``#AITC`` line: its number in the script, its prefix, its words."""

    line: int
    prefix: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Script:
    """A batch script: its absolute path, its ``#!`` interpreter and its header's directives."""

    path: Path
    interpreter: tuple[str, ...]
    directives: tuple[Directive, ...]

    def command(self, args: Sequence[str]) -> list[str]:
        """The job's command: the interpreter, the script, its arguments."""
        return [*self.interpreter, str(self.path), *args]


def read_script(word: str) -> Script | None:
    """The script that a command's first ``word`` names: an existing regular file (a relative
    path is taken from the current directory) whose first line starts with ``#!``; None for
    anything else (a program on the PATH, a binary, a file it cannot read)."""
    path = Path(os.path.abspath(word))
    try:
        if not path.is_file():
            return None
        with path.open("rb") as file:
            if file.read(2) != b"#!":
                return None
            file.seek(0)
            lines = (raw.decode("utf-8", "replace") for raw in file)
            return Script(path, interpreter(next(lines)), parse_header(lines))
    except OSError:
        return None


def interpreter(line: str) -> tuple[str, ...]:
    """The program of a ``#!`` line and its one optional argument, as Linux reads the line:
    the rest after the program is a single argument (``#!/usr/bin/env -S python3 -u``)."""
    found = SHEBANG.fullmatch(line.rstrip("\r\n"))
    if found is None:
        raise ConfigError("the #! line names no interpreter", line=1)
    return tuple(word for word in found.groups() if word)


def parse_header(lines: Iterable[str], first: int = 2) -> tuple[Directive, ...]:
    """The directives of a script's header, read as sbatch reads it: ``lines`` follow the
    ``#!`` line (``first`` is the first one's number); the header ends at the first line that
    is neither blank nor a comment, and nothing after it is read."""
    found = []
    for number, raw in enumerate(lines, start=first):
        text = raw.rstrip("\r\n")
        if text.strip() and not text.lstrip().startswith("#"):
            break
        directive = DIRECTIVE.fullmatch(text)
        if directive is not None:
            found.append(_directive(number, directive[1], directive[2] or ""))
    return tuple(found)


def _directive(number: int, prefix: str, text: str) -> Directive:
    try:
        words = shlex.split(_uncommented(text))
    except ValueError as exc:  # an unclosed quote
        raise ConfigError(f"{prefix}: {str(exc).lower()}", line=number) from None
    return Directive(number, prefix, tuple(words))


def _uncommented(text: str) -> str:
    """``text`` without its trailing comment: a ``#`` that starts a word outside quotes, as
    a shell reads it (``--job-name=run#3`` keeps its ``#``)."""
    quote, escaped = "", False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


# --- sbatch's options, and what aitc makes of them ---------------------------------------------


@dataclass(frozen=True)
class Translation:
    """What an sbatch option's value becomes: ``aitc submit`` flags, and GPUs on each node."""

    words: tuple[str, ...] = ()
    gpus_per_node: int | None = None


Translate = Callable[[str], Translation]


class Takes(Enum):
    NOTHING = "no value"
    VALUE = "a value"
    MAYBE = "an optional value"  # getopt's optional argument: only as --option=value


@dataclass(frozen=True)
class Sbatch:
    """An sbatch option, and the ``aitc submit`` flag that takes its value, or the translation
    of its value, or (``becomes`` None) why aitc ignores it."""

    long: str
    short: str
    takes: Takes
    becomes: str | Translate | None
    ignored: str = ""


def _typed(text: str, *, default: int | None) -> tuple[str, int]:
    """Slurm's ``[TYPE:]N`` of GPUs as (TYPE or "", N); with a ``default`` N may be left out."""
    parts = text.split(":") if text else []
    count = int(parts.pop()) if parts and _COUNT.fullmatch(parts[-1]) else default
    if count is None or len(parts) > 1:
        raise ValueError(f"{text!r} is not [TYPE:]N, a number of GPUs")
    return (parts[0] if parts else ""), count


def _model(kind: str) -> tuple[str, ...]:
    """``--gpu-model`` for Slurm's GPU type ``kind`` (``h100``), as aitc's Slurm configuration
    names the GPU models of its catalog."""
    if not kind:
        return ()
    from aitc.arch.slurmconf import gpu_model_of, gres_type  # only a typed request needs them
    from aitc.domain.gpu import GPU_MODELS

    model = gpu_model_of(kind.lower())
    if model is None:
        known = ", ".join(sorted(gres_type(name) for name in GPU_MODELS))
        raise ValueError(f"aitc knows no GPU type {kind!r} (known: {known})")
    return ("--gpu-model", model)


def _gres(value: str) -> Translation:
    name, _, rest = value.partition(":")
    if name != "gpu" or "," in value:
        raise ValueError("aitc's only generic resource is GPUs: give gpu[:TYPE][:N]")
    kind, count = _typed(rest, default=1)
    return Translation(_model(kind), gpus_per_node=count)


def _gpus(value: str) -> Translation:
    kind, count = _typed(value, default=None)
    return Translation(("--gpus", str(count), *_model(kind)))


def _gpus_per_node(value: str) -> Translation:
    kind, count = _typed(value, default=None)
    return Translation(_model(kind), gpus_per_node=count)


# Each option as getopt writes it: `s|long`, then `=` when it takes a value and `=?` when the
# value is optional.
TRANSLATED: Mapping[str, str | Translate] = {
    "t|time=": "--time",
    "J|job-name=": "--name",
    "A|account=": "--project",
    "D|chdir=": "--chdir",
    "a|array=": "--array",
    "d|dependency=": "--dependency",
    "b|begin=": "--begin",
    "H|hold": "--hold",
    "export=": "--export",
    "N|nodes=": "--nodes",
    "gres=": _gres,  # per node
    "G|gpus=": _gpus,  # in all
    "gpus-per-node=": _gpus_per_node,
    "signal=": "--signal",
    "W|wait": "--wait",
    "o|output=": "--output",
    "e|error=": "--error",
    "open-mode=": "--open-mode",
    "mail-type=": "--mail-type",
    "mail-user=": "--mail-user",
}
IGNORED: Mapping[str, str] = {
    "aitc gives a job whole GPUs, each with its share of the node's CPUs and memory": (
        "mem= mem-per-cpu= mem-per-gpu= c|cpus-per-task= cpus-per-gpu= n|ntasks= "
        "ntasks-per-node= ntasks-per-core= ntasks-per-socket= ntasks-per-gpu= mincpus= tmp= "
        "B|extra-node-info= sockets-per-node= cores-per-socket= threads-per-core= hint= "
        "exclusive=? s|oversubscribe O|overcommit spread-job use-min-nodes m|distribution= "
        "gres-flags= gpu-bind= gpu-freq= cpu-freq= mem-bind= S|core-spec= thread-spec="
    ),
    "aitc's scheduler chooses the nodes (a GPU model: --gres=gpu:TYPE:N)": (
        "p|partition= C|constraint= w|nodelist= x|exclude= F|nodefile= reservation= "
        "M|clusters= cluster-constraint= prefer= switches= contiguous"
    ),
    "aitc orders jobs by its policy and --priority (guaranteed, standard, preemptible)": (
        "q|qos= nice=? priority="
    ),
    "aitc starts a job once it fits and stops it at its --time": "deadline= time-min=",
    "aitc requeues a job itself when it is preempted or its processes are lost": (
        "requeue no-requeue"
    ),
    "aitc always cancels a job whose dependency can never hold": "kill-on-invalid-dep=",
    "aitc records no such field": "comment= wckey= acctg-freq= profile= L|licenses=",
    "the job's environment is --export's": "get-user-env=? propagate=?",
    "it changes how sbatch itself runs; aitc submit prints the job's number and returns": (
        "parsable Q|quiet v|verbose"
    ),
}


def _option(spec: str, becomes: str | Translate | None, ignored: str = "") -> Sbatch:
    names, _, value = spec.partition("=")
    short, _, long = names.rpartition("|")
    takes = Takes.MAYBE if value == "?" else Takes.VALUE if "=" in spec else Takes.NOTHING
    return Sbatch(long, short, takes, becomes, ignored)


SBATCH: Mapping[str, Sbatch] = {
    o.long: o
    for o in [
        *(_option(spec, becomes) for spec, becomes in TRANSLATED.items()),
        *(_option(s, None, why) for why, specs in IGNORED.items() for s in specs.split()),
    ]
}
SHORT: Mapping[str, Sbatch] = {o.short: o for o in SBATCH.values() if o.short}


def sbatch_options(words: Sequence[str]) -> Iterator[tuple[Sbatch, str, str]]:
    """The options of an ``#SBATCH`` line as getopt reads them: (option, value or "", the
    option as written). Long ones as ``--opt=value`` or ``--opt value``, short ones as
    ``-t 10`` or ``-t10``, switches bundled (``-Ht10``). ``ValueError`` names what is wrong."""
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word.startswith("--") and len(word) > 2:
            yield _long(word, rest)
        elif word.startswith("-") and len(word) > 1:
            yield from _shorts(word, rest)
        else:
            raise ValueError(f"{word}: not an option (#SBATCH takes sbatch's options)")


def _long(word: str, rest: list[str]) -> tuple[Sbatch, str, str]:
    name, eq, value = word[2:].partition("=")
    option = SBATCH.get(name)
    if option is None:
        hint = did_you_mean(f"--{name}", [f"--{n}" for n in SBATCH])
        raise ValueError(f"--{name}: not an sbatch option aitc takes{hint} ({DOCS})")
    if option.takes is Takes.NOTHING and eq:
        raise ValueError(f"{word}: --{name} takes no value")
    if option.takes is Takes.VALUE and not eq:
        if not rest:
            raise ValueError(f"{word}: needs a value")
        value = rest.pop(0)
        return option, value, f"{word} {value}"
    return option, value, word


def _shorts(word: str, rest: list[str]) -> Iterator[tuple[Sbatch, str, str]]:
    for i, char in enumerate(word[1:], start=1):
        option = SHORT.get(char)
        if option is None:
            raise ValueError(f"-{char}: not an sbatch option aitc takes ({DOCS})")
        if option.takes is Takes.NOTHING:
            yield option, "", f"-{char}"
            continue
        value = word[i + 1 :]
        if value:
            yield option, value, f"-{char}{value}"
        elif rest:
            value = rest.pop(0)
            yield option, value, f"-{char} {value}"
        else:
            raise ValueError(f"-{char}: needs a value")
        return


# --- what a header asks for --------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What a script's directives ask for, later lines over earlier ones."""

    values: Mapping[str, Any]  # submit's parameters by name, as its options parse them
    lines: Mapping[str, int]  # the line that set each (``gpus``: GPUs per node too)
    gpus_per_node: int | None  # Slurm's GPUs on each node, times the job's nodes
    repeatable: frozenset[str]  # the parameters whose flag adds (--env)
    warnings: tuple[tuple[int, str], ...]  # (line, what it ignores and why)


def flags_of(command: Command) -> Command:
    """``command`` (aitc submit) with its flags alone, the very same option objects, without
    its COMMAND argument and --help: what parses a directive's words."""
    flags = copy.copy(command)
    flags.params = [p for p in command.params if isinstance(p, TyperOption)]
    flags.add_help_option = False
    return flags


def read_header(directives: Iterable[Directive], command: Command) -> Header:
    """What ``directives``, in order, ask of ``command`` (aitc submit's click command)."""
    flags = flags_of(command)
    adds = frozenset(str(p.name) for p in flags.params if p.multiple)
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    per_node: int | None = None
    warnings = []
    for directive in directives:
        found, gpus, ignored = _settings(directive, flags)
        if gpus is not None or not found.keys().isdisjoint(GPU_REQUEST):
            values = {k: v for k, v in values.items() if k not in GPU_REQUEST}
            per_node, lines["gpus"] = gpus, directive.line
        for name, value in found.items():
            values[name] = [*values.get(name, []), *value] if name in adds else value
            lines[name] = directive.line
        if ignored:
            warnings.append((directive.line, ignored))
    return Header(values, lines, per_node, adds, tuple(warnings))


def _settings(directive: Directive, flags: Command) -> tuple[dict[str, Any], int | None, str]:
    """What one directive sets (submit's parameters by name), the GPUs per node it asks for,
    and what it ignores and why ("" for nothing)."""
    try:
        if directive.prefix == "#AITC":
            return _parsed(flags, directive.words), None, ""
        values: dict[str, Any] = {}
        per_node, ignored = None, []
        for option, value, written in sbatch_options(directive.words):
            if option.becomes is None:
                ignored.append((written, option.ignored))
                continue
            translation = _translated(option, value, written)
            values.update(_parsed(flags, translation.words, written))
            per_node = per_node if translation.gpus_per_node is None else translation.gpus_per_node
        return values, per_node, _ignoring(ignored)
    except ValueError as exc:
        raise ConfigError(f"{directive.prefix} {exc}", line=directive.line) from None


def _translated(option: Sbatch, value: str, written: str) -> Translation:
    if isinstance(option.becomes, str):
        return Translation((option.becomes,) + ((value,) if option.takes is Takes.VALUE else ()))
    assert option.becomes is not None
    try:
        return option.becomes(value)
    except ValueError as exc:
        raise ValueError(f"{written}: {exc}") from None


def _parsed(flags: Command, words: Sequence[str], written: str = "") -> dict[str, Any]:
    """The parameters ``words`` give, parsed by submit's own options (``ValueError`` says why
    not, after ``written``, the sbatch option they translate, if any)."""
    try:
        ctx = flags.make_context("submit", list(words))
    except click.UsageError as exc:
        what, why = describe(exc)
        why = why.replace("(see --help)", "(see aitc submit --help)")
        if what == "usage":  # not about one flag: name what was written
            raise ValueError(f"{written or ' '.join(words)}: {why}") from None
        raise ValueError(f"{written}: {what}: {why}" if written else f"{what}: {why}") from None
    given = ParameterSource.COMMANDLINE
    return {k: v for k, v in ctx.params.items() if ctx.get_parameter_source(k) is given}


def _ignoring(ignored: Sequence[tuple[str, str]]) -> str:
    """One warning for a line's ignored options, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for written, why in ignored:
        by_reason.setdefault(why, []).append(written)
    if not by_reason:
        return ""
    said = "; ".join(f"{' '.join(opts)} ignored: {why}" for why, opts in by_reason.items())
    return f"#SBATCH {said} ({DOCS})"


def apply(
    header: Header, params: Mapping[str, Any], given: Collection[str]
) -> tuple[dict[str, Any], dict[str, int]]:
    """``params`` (submit's, from its command line) with the script's values where the command
    line gave none (``given``: the parameters it gave), and the line each value still taken
    from the script comes from. A repeatable flag takes both, the script's first; a GPU
    request on the command line replaces the script's whole; GPUs per node are multiplied by
    the final ``nodes``."""
    out, lines = dict(params), {}
    gpus_given = not set(given).isdisjoint(GPU_REQUEST)
    for name, value in header.values.items():
        overridden = name in given or (name in GPU_REQUEST and gpus_given)
        if name in header.repeatable:
            out[name] = [*value, *params.get(name, [])]
        elif not overridden:
            out[name] = value
        if not overridden:
            lines[name] = header.lines[name]
    if header.gpus_per_node is not None and not gpus_given:
        out["gpus"] = header.gpus_per_node * (out.get("nodes") or 1)
        lines["gpus"] = header.lines["gpus"]
    return out, lines
