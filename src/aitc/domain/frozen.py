"""``quick_init``: a faster ``__init__`` for the frozen dataclasses made once per job.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``
(looked up as a global, then called), which costs about twice a plain class's construction.
Jobs, placements, actions and running jobs are made several times per job start, hundreds of
thousands of times in a long replay, so that cost shows. ``quick_init`` replaces the generated
``__init__`` of a frozen class with ``slots`` by one that sets each field through its slot's
descriptor: the same arguments, defaults, ``default_factory`` and ``__post_init__``, the same
instance (still frozen: assigning a field afterwards raises ``FrozenInstanceError``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` the faster ``__init__`` (see the module)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init is for frozen dataclasses with slots")
    namespace: dict[str, Any] = {"MISSING": dataclasses.MISSING}
    args: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: quick_init takes no keyword-only fields")
        if not f.init:  # (set by ``__post_init__``, or to its default as dataclass does)
            if f.default is not dataclasses.MISSING:
                namespace[f"default_{f.name}"] = f.default
                namespace[f"set_{f.name}"] = cls.__dict__[f.name].__set__
                body.append(f"    set_{f.name}(self, default_{f.name})")
            elif f.default_factory is not dataclasses.MISSING:
                namespace[f"factory_{f.name}"] = f.default_factory
                namespace[f"set_{f.name}"] = cls.__dict__[f.name].__set__
                body.append(f"    set_{f.name}(self, factory_{f.name}())")
            continue
        namespace[f"set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            namespace[f"default_{f.name}"] = f.default
            args.append(f"{f.name}=default_{f.name}")
            body.append(f"    set_{f.name}(self, {f.name})")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"factory_{f.name}"] = f.default_factory
            args.append(f"{f.name}=MISSING")
            body.append(
                f"    set_{f.name}(self, factory_{f.name}() if {f.name} is MISSING else {f.name})"
            )
        else:
            args.append(f.name)
            body.append(f"    set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(args)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # noqa: S102 (the source is built above from field names)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 (replacing the generated one)
    return cls
