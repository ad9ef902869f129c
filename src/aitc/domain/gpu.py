"""GPU models and their MIG profiles.

Figures are NVIDIA's published datasheet values for the SXM parts. FLOPS are *dense*
(without structured sparsity), in TFLOPS, per precision: ``fp64_tensor``, ``tf32``, ``bf16``,
``fp16``, ``fp8`` (Hopper and later) and ``fp4`` (Blackwell).

MIG geometry is the same on A100, H100, H200 and B200: 7 compute slices and 8 memory slices
per GPU. A profile may start only at certain memory slots (its *placements*) and covers
``size`` consecutive memory slots from there. Two slices on one GPU conflict when their memory
ranges overlap; the compute slices of all slices on a GPU add up to at most 7.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aitc.errors import CatalogError

PRECISIONS: tuple[str, ...] = ("fp64_tensor", "tf32", "bf16", "fp16", "fp8", "fp4")
MIG_MEMORY_SLOTS = 8
MIG_COMPUTE_SLICES = 7


@dataclass(frozen=True, slots=True)
class MigProfile:
    """One MIG profile of one GPU model, e.g. ``3g.40gb`` on H100 80 GB."""

    name: str
    compute_slices: int
    memory_gb: int
    placements: tuple[int, ...]
    size: int

    def slots(self, start: int) -> range:
        """Memory slots covered when placed at ``start``."""
        return range(start, start + self.size)

    @property
    def per_gpu(self) -> int:
        """The most slices of this profile one GPU holds at once (placements that overlap
        exclude each other)."""
        count, end = 0, -1
        for start in sorted(self.placements):
            if start > end:
                count, end = count + 1, start + self.size - 1
        return count


@dataclass(frozen=True, slots=True)
class GpuModel:
    """A GPU model with the figures the designer and the scheduler need."""

    name: str
    memory_gb: int
    memory_bw_tbs: float
    nvlink_gbs: int
    tdp_w: int
    tflops: Mapping[str, float]
    mig_profiles: tuple[MigProfile, ...] = field(default=())

    def mig(self, profile: str) -> MigProfile:
        """The MIG profile called ``profile`` on this GPU (``CatalogError`` if unknown)."""
        for p in self.mig_profiles:
            if p.name == profile:
                return p
        known = ", ".join(p.name for p in self.mig_profiles) or "none"
        raise CatalogError(f"unknown MIG profile {profile!r} for {self.name} (known: {known})")


# (compute slices, memory slots, placements) of the six MIG profile shapes, in the order of
# the profile names given per GPU model below.
_MIG_SHAPES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (1, 1, (0, 1, 2, 3, 4, 5, 6)),
    (1, 2, (0, 2, 4, 6)),
    (2, 2, (0, 2, 4)),
    (3, 4, (0, 4)),
    (4, 4, (0,)),
    (7, 8, (0,)),
)


def _mig(names: tuple[str, ...]) -> tuple[MigProfile, ...]:
    out = []
    for name, (compute, size, placements) in zip(names, _MIG_SHAPES, strict=True):
        memory = int(name.split(".")[1].removesuffix("gb"))
        out.append(MigProfile(name, compute, memory, placements, size))
    return tuple(out)


def _tflops(**values: float) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


_AMPERE = _tflops(fp64_tensor=19.5, tf32=156.0, bf16=312.0, fp16=312.0)
_HOPPER = _tflops(fp64_tensor=67.0, tf32=494.5, bf16=989.5, fp16=989.5, fp8=1979.0)
_BLACKWELL = _tflops(
    fp64_tensor=37.0, tf32=1100.0, bf16=2250.0, fp16=2250.0, fp8=4500.0, fp4=9000.0
)

GPU_MODELS: Mapping[str, GpuModel] = MappingProxyType(
    {
        g.name: g
        for g in (
            GpuModel(
                "A100-40GB",
                40,
                1.555,
                600,
                400,
                _AMPERE,
                _mig(("1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")),
            ),
            GpuModel(
                "A100-80GB",
                80,
                2.039,
                600,
                400,
                _AMPERE,
                _mig(("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")),
            ),
            GpuModel(
                "H100-80GB",
                80,
                3.35,
                900,
                700,
                _HOPPER,
                _mig(("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")),
            ),
            GpuModel(
                "H200-141GB",
                141,
                4.8,
                900,
                700,
                _HOPPER,
                _mig(("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb")),
            ),
            GpuModel(
                "B200-180GB",
                180,
                7.7,
                1800,
                1000,
                _BLACKWELL,
                _mig(("1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb")),
            ),
        )
    }
)


def gpu_model(name: str) -> GpuModel:
    """Look a GPU model up by name (``CatalogError`` naming the known ones if unknown)."""
    try:
        return GPU_MODELS[name]
    except KeyError:
        raise CatalogError(f"unknown GPU model {name!r} (known: {', '.join(GPU_MODELS)})") from None


def match_gpu_model(
    label: str, known: Collection[str], *, memory_gb: float | None = None
) -> str | None:
    """The name in ``known`` that ``label`` means: the same name in any case, or a family
    (``A100`` for ``A100-80GB``) that only one known name has, or only one of that memory
    when ``memory_gb`` is given. None when nothing matches; ``CatalogError`` when a family
    matches several names and ``memory_gb`` does not settle it.
    """
    wanted = label.strip().lower()
    for name in known:
        if name.lower() == wanted:
            return name
    family = [n for n in known if n.split("-", 1)[0].lower() == wanted]
    if memory_gb is not None and len(family) > 1:
        family = [n for n in family if n.lower().endswith(f"-{memory_gb:g}gb")]
    if len(family) > 1:
        raise CatalogError(
            f"GPU model {label!r} could be {', '.join(family)}: give the full name or its memory"
        )
    return family[0] if family else None
