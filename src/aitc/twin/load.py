"""Open a job source by format name, and split lab policy parameters between engine and twin.

With a lab, a trace's tenants that the lab knows take the lab's organisations (weights,
quotas, projects); tenants the lab does not know are added with weight 1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aitc.domain.lab import Lab
from aitc.domain.org import Organisation
from aitc.domain.reservation import Reservation
from aitc.engine.params import half_life, split_params
from aitc.errors import ConfigError
from aitc.twin.generator import generate
from aitc.twin.locality import LocalityModel
from aitc.twin.loop import TwinConfig
from aitc.twin.sources import load_philly, load_table
from aitc.twin.trace import JobSource, TraceJob, Wrapping


def open_source(
    fmt: str,
    path: Path | None,
    *,
    mapping: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    days: float = 7.0,
    lab: Lab | None = None,
    where: Sequence[str] = (),
    courses: bool = True,
) -> JobSource:
    """The jobs of ``path`` read as ``fmt`` (philly, csv, parquet), or generated (lab, with
    its course sessions unless ``courses`` is false); ``where`` filters the rows of a
    csv/parquet table (``COLUMN=VALUE[,VALUE]`` each)."""
    if where and fmt not in ("csv", "parquet"):
        raise ConfigError(f"filters rows of a csv or parquet table, not {fmt}", field="--where")
    if fmt == "lab":
        if lab is None:
            raise ConfigError("the lab format generates jobs from a lab file", field="--format")
        return generate(lab, days=days, seed=seed, limit=limit, courses=courses)
    if path is None:
        raise ConfigError(f"the {fmt} format needs a trace file", field="--trace")
    if fmt == "philly":
        source: JobSource = load_philly(path, limit=limit)
    elif fmt in ("csv", "parquet"):
        if not mapping:
            raise ConfigError(f"the {fmt} format needs a column mapping", field="--map")
        source = load_table(path, mapping, fmt=fmt, limit=limit, where=where)
    else:
        raise ConfigError(f"unknown format {fmt!r}", field="--format")
    return source if lab is None else WithLab(source, lab)


@dataclass(frozen=True)
class WithLab(Wrapping):
    """A trace whose tenants take the lab's organisations where the lab names them."""

    trace: JobSource
    lab: Lab

    def organisations(self) -> Sequence[Organisation]:
        known = {o.id: o for o in self.lab.organisations}
        extra = [replace(o, share=1.0) for o in self.trace.organisations() if o.id not in known]
        return (*self.lab.organisations, *extra)

    def reservations(self) -> Sequence[Reservation]:
        return self.trace.reservations()

    def jobs(self) -> Iterator[TraceJob]:
        return self.trace.jobs()


def settings(
    params: Mapping[str, Any],
    *,
    overhead_s: float | None = None,
    leaf_penalty: float | None = None,
    su_penalty: float | None = None,
    tick_s: float | None = None,
) -> tuple[dict[str, Any], TwinConfig]:
    """Split policy ``params`` into the engine's and a ``TwinConfig``; flags override."""
    engine, _ = split_params(params)  # the split both drivers use (``aitc.engine.params``)
    if overhead_s is not None:
        engine["preempt_overhead_s"] = overhead_s
    base, loc = TwinConfig(), LocalityModel()
    cfg = TwinConfig(
        locality=LocalityModel(
            float(_pick(leaf_penalty, params, "leaf_penalty", loc.leaf_penalty)),
            float(_pick(su_penalty, params, "su_penalty", loc.su_penalty)),
        ),
        preempt_overhead_s=float(
            _pick(overhead_s, params, "preempt_overhead_s", base.preempt_overhead_s)
        ),
        tick_s=_pick(tick_s, params, "tick_s", None),
        half_life_s=half_life(params),
    )
    return engine, cfg


def _pick(flag: Any, params: Mapping[str, Any], key: str, default: Any) -> Any:
    return flag if flag is not None else params.get(key, default)
