"""Where each value of a lab file came from, so that every error names file, line and field.

``read_yaml`` parses YAML and records the line of every mapping key and sequence item, keyed by
its path (``("organisations", 2, "share")``). A ``Source`` turns a path and a reason into a
``ConfigError`` such as ``lab.yaml:14: organisations[2].share: must be > 0``;
``pydantic_errors`` does the same for every error of a pydantic ``ValidationError``, translating
its messages into the same short style (an unknown key names the closest allowed one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from aitc.errors import ConfigError, did_you_mean

Loc = tuple[str | int, ...]


def field_name(loc: Loc) -> str:
    """``("organisations", 2, "share")`` → ``organisations[2].share``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class Source(Protocol):
    """Something that can point at a field of what it read."""

    def error(self, loc: Loc, reason: str) -> ConfigError: ...

    def place(self, loc: Loc) -> str:
        """``file:line`` of ``loc``, for messages that point at a second place."""
        ...


@dataclass(frozen=True)
class YamlSource:
    """A YAML file's name, its parsed data and the line of every path in it."""

    file: str
    data: Any
    lines: Mapping[Loc, int]

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of its nearest ancestor that the file has."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def error(self, loc: Loc, reason: str) -> ConfigError:
        return ConfigError(reason, file=self.file, line=self.line(loc), field=field_name(loc))

    def place(self, loc: Loc) -> str:
        line = self.line(loc)
        return f"{self.file}:{line}" if line else self.file


@dataclass(frozen=True)
class Within:
    """A part of another source: paths are relative to ``prefix`` (an inline member, say)."""

    parent: Source
    prefix: Loc

    def error(self, loc: Loc, reason: str) -> ConfigError:
        return self.parent.error(self.prefix + loc, reason)

    def place(self, loc: Loc) -> str:
        return self.parent.place(self.prefix + loc)


@dataclass(frozen=True)
class Renumbered:
    """``parent`` as seen through lists with items left out: item ``i`` of section ``s`` here
    is item ``kept[s][i]`` of the file (the lab's items that passed the schema)."""

    parent: Source
    kept: Mapping[str, Sequence[int]]

    def _loc(self, loc: Loc) -> Loc:
        if len(loc) > 1 and isinstance(loc[0], str) and isinstance(loc[1], int):
            kept = self.kept.get(loc[0])
            if kept is not None:
                return (loc[0], kept[loc[1]], *loc[2:])
        return loc

    def error(self, loc: Loc, reason: str) -> ConfigError:
        return self.parent.error(self._loc(loc), reason)

    def place(self, loc: Loc) -> str:
        return self.parent.place(self._loc(loc))


def read_yaml(path: Path, shown: str) -> YamlSource:
    """Parse ``path``; errors name ``shown`` (the path as the user wrote it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=shown) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", file=shown) from None
    loader = yaml.SafeLoader(text)
    lines: dict[Loc, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlSource(shown, None, lines)
        _record(node, (), lines, shown)  # before construction, which rewrites merge keys
        return YamlSource(shown, loader.construct_document(node), lines)
    except yaml.MarkedYAMLError as e:
        raise _yaml_error(e, shown) from None
    finally:
        loader.dispose()


def _yaml_error(e: yaml.MarkedYAMLError, shown: str) -> ConfigError:
    """A YAML syntax error at the line where the parser noticed it, with its context."""
    line = e.problem_mark.line + 1 if e.problem_mark else None
    text = f"not valid YAML: {e.problem}"
    if e.context and e.context_mark:
        text += f" ({e.context} at line {e.context_mark.line + 1})"
    return ConfigError(text, file=shown, line=line)


_MAX_DEPTH = 32  # far deeper than any lab file; stops a self-referencing alias


def _record(node: yaml.Node, loc: Loc, lines: dict[Loc, int], shown: str) -> None:
    """Note the line of ``loc`` and of everything under it; reject repeated keys."""
    lines[loc] = node.start_mark.line + 1
    if len(loc) > _MAX_DEPTH:
        raise ConfigError("nested too deeply", file=shown, line=lines[loc], field=field_name(loc))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _key(key_node)
            if loc + (key,) in lines:
                raise ConfigError(
                    f"duplicate key (first at line {lines[loc + (key,)]})",
                    file=shown,
                    line=key_node.start_mark.line + 1,
                    field=field_name(loc + (key,)),
                )
            _record(value_node, loc + (key,), lines, shown)
            lines[loc + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, loc + (i,), lines, shown)


def _key(node: yaml.Node) -> str | int:
    """Mapping keys as the constructed data holds them (integers stay integers)."""
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value)
        except ValueError:
            return str(node.value)
    return str(node.value)


def pydantic_errors(
    error: ValidationError, source: Source, data: Any, model: type[BaseModel]
) -> list[ConfigError]:
    """Every error of ``error`` as a ``ConfigError`` pointing into ``source``.

    ``model`` is the model that was validated; for an unknown key the message names the
    closest key allowed at that place, if one is close, and lists them all.
    """
    return [_one(d, source, data, model) for d in error.errors(include_url=False)]


def _one(detail: ErrorDetails, source: Source, data: Any, model: type[BaseModel]) -> ConfigError:
    text = reason(detail)
    if detail["type"] == "extra_forbidden":
        allowed = allowed_keys(model, detail["loc"][:-1])
        if allowed:
            text += (
                f"{did_you_mean(str(detail['loc'][-1]), allowed)} (allowed: {', '.join(allowed)})"
            )
    return source.error(data_loc(detail["loc"], data), text)


def allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model nested at ``loc`` accepts (empty if ``loc`` leads to no model)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        info = current.model_fields.get(part) if isinstance(part, str) else None
        if info is not None:
            current = _model_in(info.annotation)
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model inside an annotation (through Optional, list, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def data_loc(loc: tuple[str | int, ...], data: Any) -> Loc:
    """Pydantic's ``loc`` reduced to keys that exist in the data (plus a missing key's name).

    Pydantic inserts union tags and ``[key]`` markers into ``loc``; they are not keys of the
    file, so they are dropped.
    """
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        found, child = _child(cur, part)
        if found:
            cur = child
        elif not (i == len(loc) - 1 and isinstance(cur, dict) and part != "[key]"):
            continue  # a tag; a missing key (last, in a mapping) is named though absent
        out.append(part)
    return tuple(out)


def _child(data: Any, part: str | int) -> tuple[bool, Any]:
    """``(True, data[part])`` if ``data`` has ``part`` as key or index, else ``(False, None)``."""
    if isinstance(data, dict) and part in data:
        return True, data[part]
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return True, data[part]
    return False, None


_TYPES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def reason(detail: ErrorDetails) -> str:
    """A pydantic error as a short reason in the style of aitc's messages."""
    kind, ctx, got = detail["type"], detail.get("ctx", {}), detail.get("input")
    if kind in _TYPES:
        return f"must be {_TYPES[kind]} (got {_show(got)})"
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in bounds:
        op = bounds[kind]
        limit = next(iter(ctx.values()), "")
        return f"must be {op} {_number(limit)} (got {_show(got)})"
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')} (got {_show(got)})"
    if kind in ("too_short", "too_long"):
        return _length(kind, ctx)
    if kind == "value_error":
        return str(detail["msg"]).removeprefix("Value error, ")
    return str(detail["msg"])


def _length(kind: str, ctx: Mapping[str, Any]) -> str:
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    return f"takes at most {ctx.get('max_length')} item(s)"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
