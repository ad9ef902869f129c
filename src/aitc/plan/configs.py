"""What a sweep sizes besides node counts: the GPU generation and the MIG layout of the seats.

A *configuration* is a reference architecture of the catalog (its node model fixes the GPU
generation: DGX A100, H100, H200, B200) and a *MIG layout* of the course seats:

- ``lab``: each course's seats as lab.yaml writes them (its ``mig_profile``, else whole GPUs);
- ``whole``: every seat a whole GPU;
- ``1g``, ``2g``, ``3g``, ``4g``, ``7g``: every seat one MIG slice of that many compute slices
  (the generation's smallest-memory profile of that shape, ``1g.10gb`` on H100).

Across generations the same lab runs the same jobs, so two rules carry the workload over:

- **Speed.** The lab's runtimes are on the lab's own GPU (recorded runtimes: on the recorded
  cluster's). On another generation a job runs ``runtime / speed`` with
  ``speed = sqrt(bf16 TFLOPS ratio x memory bandwidth ratio)``: the geometric mean of a
  compute-bound and a memory-bound job, H100 to H200 1.20, to B200 2.29, to A100 0.44. Course
  seats last their session whatever the GPU.
- **MIG profiles** keep their shape: a profile becomes the one of the other generation with the
  same compute slices and memory slots (``1g.10gb`` on H100 is ``1g.18gb`` on H200), so seats
  pack the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from aitc.arch.builder import Design, build
from aitc.arch.catalog import REFERENCE_ARCHITECTURES, reference_architecture
from aitc.domain.cluster import Cluster
from aitc.domain.gpu import GpuModel
from aitc.domain.lab import Course, Lab
from aitc.errors import ConfigError

AS_WRITTEN = "lab"
WHOLE = "whole"
SLICES = ("1g", "2g", "3g", "4g", "7g")
LAYOUTS = (AS_WRITTEN, WHOLE, *SLICES)
ALL = "all"


@dataclass(frozen=True, order=True)
class Config:
    """One configuration of a sweep: a reference architecture and a MIG layout of the seats."""

    ra: str
    mig: str = AS_WRITTEN

    @property
    def gpu(self) -> GpuModel:
        return reference_architecture(self.ra).node_model.gpu

    @property
    def label(self) -> str:
        seats = {AS_WRITTEN: "seats as lab.yaml", WHOLE: "seats on whole GPUs"}.get(
            self.mig, f"seats on {self.mig} slices"
        )
        return f"{self.ra}, {seats}"


@lru_cache(maxsize=64)
def design_of(ra: str, nodes: int) -> Design:
    """The bill of materials of ``nodes`` nodes of ``ra`` (cached: sweeps ask often)."""
    return build(ra, nodes=nodes)


def describe(ladders: Mapping[Config, Sequence[int]]) -> str:
    """What a sweep sizes, in words: each RA's sizes once (its layouts share them), and the
    seat layouts when any is not lab.yaml's."""
    sizes = {c.ra: tuple(v) for c, v in ladders.items()}
    if len(sizes) == 1:
        ((ra, v),) = sizes.items()
        text = f"{ra}: sizes {', '.join(map(str, v))} nodes"
    else:
        text = ", ".join(f"{ra} ({v[0]}-{v[-1]} nodes)" for ra, v in sizes.items())
    layouts = list(dict.fromkeys(c.mig for c in ladders))
    return text if layouts == [AS_WRITTEN] else f"{text}; seats {', '.join(layouts)}"


def generations(ra: str) -> tuple[str, ...]:
    """Every reference architecture of the catalog of ``ra``'s kind (SuperPOD or BasePOD),
    one per GPU generation, in the catalog's order (oldest first)."""
    kind = ra.rsplit("-", 1)[-1]
    return tuple(name for name in REFERENCE_ARCHITECTURES if name.rsplit("-", 1)[-1] == kind)


def parse_ras(text: str | None, default: str) -> tuple[str, ...]:
    """``--ra A,B`` (or ``all``: every generation of ``default``'s kind), each checked."""
    if not text:
        return (default,)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == [ALL]:
        return generations(default)
    for name in names:
        if name not in REFERENCE_ARCHITECTURES:
            known = ", ".join(REFERENCE_ARCHITECTURES)
            raise ConfigError(
                f"unknown reference architecture {name!r} (known: {known})", field="ra"
            )
    if not names:
        raise ConfigError("name at least one reference architecture", field="ra")
    return tuple(dict.fromkeys(names))


def parse_layouts(text: str | None) -> tuple[str, ...]:
    """``--mig lab,whole,1g`` (or ``all``), each checked."""
    if not text:
        return (AS_WRITTEN,)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == [ALL]:
        return LAYOUTS
    bad = [n for n in names if n not in LAYOUTS]
    if bad or not names:
        raise ConfigError(
            f"{', '.join(bad) or 'nothing'}: choose from {', '.join(LAYOUTS)} or all", field="mig"
        )
    return tuple(dict.fromkeys(names))


def cluster_gpu(cluster: Cluster) -> GpuModel:
    """The GPU model most of ``cluster``'s GPUs are (what its runtimes were measured on)."""
    count: dict[str, tuple[int, GpuModel]] = {}
    for node in cluster:
        n, _ = count.get(node.gpu_model, (0, node.model.gpu))
        count[node.gpu_model] = (n + node.gpus, node.model.gpu)
    return max(count.values(), key=lambda v: v[0])[1]


def speed(source: GpuModel, target: GpuModel) -> float:
    """How much faster a job runs on ``target`` than on ``source`` (see the module docstring);
    1 for the same model or a model without figures."""
    if source.name == target.name:
        return 1.0
    flops = target.tflops.get("bf16", 0.0) / (source.tflops.get("bf16", 0.0) or math.inf)
    bandwidth = target.memory_bw_tbs / (source.memory_bw_tbs or math.inf)
    return math.sqrt(flops * bandwidth) if flops > 0 and bandwidth > 0 else 1.0


def translate(profile: str | None, source: GpuModel, target: GpuModel) -> str | None:
    """``profile`` of ``source`` as the profile of ``target`` with the same shape (compute
    slices and memory slots); unchanged where either GPU does not know it."""
    if profile is None or source.name == target.name:
        return profile
    shape = next((p for p in source.mig_profiles if p.name == profile), None)
    if shape is None:
        return profile
    for p in target.mig_profiles:
        if (p.compute_slices, p.size) == (shape.compute_slices, shape.size):
            return p.name
    return profile


def slice_profile(layout: str, gpu: GpuModel) -> str:
    """The smallest-memory profile of ``gpu`` with the compute slices ``layout`` names."""
    compute = int(layout.removesuffix("g"))
    fits = [p for p in gpu.mig_profiles if p.compute_slices == compute]
    if not fits:
        raise ConfigError(f"{gpu.name} has no MIG profile of {compute} compute slices", field="mig")
    return min(fits, key=lambda p: (p.size, p.memory_gb)).name


def seat_profile(course: Course, layout: str, source: GpuModel, target: GpuModel) -> str | None:
    """The MIG profile of a course's seats under ``layout`` on ``target`` (None: whole GPUs)."""
    if layout == WHOLE:
        return None
    if layout == AS_WRITTEN:
        return translate(course.mig_profile, source, target)
    return slice_profile(layout, target)


def laid_out(lab: Lab, config: Config) -> Lab:
    """``lab`` with its course seats in ``config``'s layout on ``config``'s GPU."""
    source, target = cluster_gpu(lab.cluster), config.gpu
    courses: Sequence[Course] = tuple(
        replace(c, mig_profile=seat_profile(c, config.mig, source, target)) for c in lab.courses
    )
    return replace(lab, courses=tuple(courses))
