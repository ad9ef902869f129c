"""GPU discovery for the local executor: NVML when the host has GPUs, virtual GPUs otherwise.

``nvml_gpus()`` asks the NVIDIA driver (through ``nvidia-ml-py``) for every GPU: index, UUID,
name, memory and, on a GPU in MIG mode, the UUID of each MIG slice keyed by
``"gpu:profile:start"`` (the same key the engine's ``MigSlot`` gives). ``virtual_gpus(n)``
declares ``n`` GPUs of a catalog model with stable fake UUIDs (``GPU-virtual-…``), and every MIG
slot of each, so a laptop or a CI runner behaves like a DGX node: jobs get the same
``CUDA_VISIBLE_DEVICES`` they would get there.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from aitc.control.executors.base import GpuInfo
from aitc.domain.gpu import GPU_MODELS, gpu_model
from aitc.domain.job import NodeAlloc
from aitc.errors import ExecutorError

DEFAULT_VIRTUAL_MODEL = "H100-80GB"
_NAMESPACE = uuid.UUID("6f1c2a52-8f1e-4c55-9d0e-6a1f3c0b7a11")


def mig_key(gpu: int, profile: str, start: int) -> str:
    return f"{gpu}:{profile}:{start}"


def virtual_gpus(
    count: int, model: str = DEFAULT_VIRTUAL_MODEL, host: str = ""
) -> tuple[GpuInfo, ...]:
    """``count`` declared GPUs of catalog ``model``, with fake but stable GPU and MIG UUIDs."""
    if count < 0:
        raise ExecutorError(f"virtual_gpus: must be 0 or more, got {count}")
    spec = gpu_model(model)
    return tuple(
        GpuInfo(
            index=i,
            uuid=f"GPU-virtual-{_uuid(host, i)}",
            model=spec.name,
            memory_mb=spec.memory_gb * 1024,
            mig_uuids=_virtual_migs(host, i, model),
        )
        for i in range(count)
    )


def _uuid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts))


def _virtual_migs(host: str, index: int, model: str) -> dict[str, str]:
    out = {}
    for profile in gpu_model(model).mig_profiles:
        for start in profile.placements:
            out[mig_key(index, profile.name, start)] = (
                f"MIG-virtual-{_uuid(host, index, profile.name, start)}"
            )
    return out


def catalog_model(nvml_name: str, memory_mb: int) -> str:
    """The catalog name of the GPU NVML calls ``nvml_name`` ("NVIDIA H100 80GB HBM3": "H100-80GB").

    A GPU the catalog does not know keeps NVML's name (spaces become dashes).
    """
    upper = nvml_name.upper()
    for family in ("B200", "H200", "H100", "A100"):
        if family in upper:
            candidates = [m for m in GPU_MODELS.values() if m.name.startswith(family)]
            return min(candidates, key=lambda m: abs(m.memory_gb * 1024 - memory_mb)).name
    return nvml_name.removeprefix("NVIDIA ").replace(" ", "-")


def nvml_gpus() -> tuple[GpuInfo, ...]:
    """Every GPU the NVIDIA driver reports, or ``()`` when there is no driver or no GPU."""
    try:
        import pynvml
    except ImportError:
        return ()
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return ()
    try:
        return tuple(_nvml_gpu(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount()))
    finally:
        pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _nvml_gpu(nvml: object, index: int) -> GpuInfo:
    n = nvml  # pynvml is untyped; one alias keeps the calls readable
    handle = n.nvmlDeviceGetHandleByIndex(index)  # type: ignore[attr-defined]
    name = _text(n.nvmlDeviceGetName(handle))  # type: ignore[attr-defined]
    memory_mb = int(n.nvmlDeviceGetMemoryInfo(handle).total // (1024 * 1024))  # type: ignore[attr-defined]
    return GpuInfo(
        index=index,
        uuid=_text(n.nvmlDeviceGetUUID(handle)),  # type: ignore[attr-defined]
        model=catalog_model(name, memory_mb),
        memory_mb=memory_mb,
        mig_uuids=_nvml_migs(n, handle, index),
        minor=_nvml_minor(n, handle),
    )


def _nvml_minor(n: object, handle: object) -> int | None:
    try:
        return int(n.nvmlDeviceGetMinorNumber(handle))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - not every NVML build answers; the index is the fallback
        return None


def _nvml_migs(n: object, handle: object, index: int) -> dict[str, str]:
    """The MIG slices of one GPU keyed by ``"gpu:profile:start"``; empty when MIG is off."""
    out: dict[str, str] = {}
    try:
        current, _pending = n.nvmlDeviceGetMigMode(handle)  # type: ignore[attr-defined]
        if not current:
            return out
        for i in range(n.nvmlDeviceGetMaxMigDeviceCount(handle)):  # type: ignore[attr-defined]
            try:
                mig = n.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)  # type: ignore[attr-defined]
            except n.NVMLError:  # type: ignore[attr-defined]
                continue  # an empty slot
            profile = _text(n.nvmlDeviceGetName(mig)).rsplit(" ", 1)[-1]  # type: ignore[attr-defined]
            gi = n.nvmlDeviceGetGpuInstanceById(handle, n.nvmlDeviceGetGpuInstanceId(mig))  # type: ignore[attr-defined]
            start = int(n.nvmlGpuInstanceGetInfo(gi).placement.start)  # type: ignore[attr-defined]
            out[mig_key(index, profile, start)] = _text(n.nvmlDeviceGetUUID(mig))  # type: ignore[attr-defined]
    except n.NVMLError:  # type: ignore[attr-defined]
        return out  # MIG not supported on this GPU or driver
    return out


def visible_devices(alloc: NodeAlloc, gpus: Sequence[GpuInfo]) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` value for ``alloc``: GPU indices, or the MIG slice's UUID."""
    by_index = {g.index: g for g in gpus}
    if alloc.mig is not None:
        slot = alloc.mig
        gpu = by_index.get(slot.gpu)
        key = mig_key(slot.gpu, slot.profile, slot.start)
        if gpu is None or key not in gpu.mig_uuids:
            raise ExecutorError(
                f"placement: no MIG slice {slot.profile} at slot {slot.start} on GPU {slot.gpu} of "
                f"{alloc.node}; create it with nvidia-smi mig or change the lab's MIG layout"
            )
        return gpu.mig_uuids[key]
    missing = [i for i in alloc.gpus if i not in by_index]
    if missing:
        raise ExecutorError(f"placement: GPU indices {missing} do not exist on {alloc.node}")
    return ",".join(str(i) for i in alloc.gpus)
