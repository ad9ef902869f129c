"""Reading one device's utilisation, memory and power through NVML (``nvidia-ml-py``).

Only real devices are read: a virtual GPU (``GPU-virtual-…``, ``MIG-virtual-…``) reports
nothing, so a job on virtual GPUs gets no usage row at all rather than a row of zeros. A MIG
slice reports its memory; NVML has no utilisation or power per slice on most drivers, and what
it does not support is ``None``.
"""

from __future__ import annotations

import logging
from typing import Any

from aitc.control.gpuusage.samples import GpuSample

log = logging.getLogger(__name__)
VIRTUAL_PREFIXES = ("GPU-virtual-", "MIG-virtual-")


def is_virtual(uuid: str) -> bool:
    return uuid.startswith(VIRTUAL_PREFIXES)


class NvmlReader:
    """Samples devices by UUID; ``read`` returns ``None`` for what cannot be read."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: dict[str, Any] = {}
        self._failed = False

    def _open(self) -> Any:
        if self._nvml is None and not self._failed:
            try:
                import pynvml

                pynvml.nvmlInit()
                self._nvml = pynvml
            except Exception as exc:  # noqa: BLE001 - no driver: nothing is sampled
                log.info("NVML unavailable, GPU usage is not sampled: %s", exc)
                self._failed = True
        return self._nvml

    def read(self, uuid: str) -> GpuSample | None:
        if is_virtual(uuid):
            return None
        n = self._open()
        if n is None:
            return None
        try:
            handle = self._handles.get(uuid) or n.nvmlDeviceGetHandleByUUID(uuid)
            self._handles[uuid] = handle
            memory = n.nvmlDeviceGetMemoryInfo(handle).used / 2**20
        except n.NVMLError as exc:
            log.debug("cannot read %s: %s", uuid, exc)
            return None
        return GpuSample(
            uuid=uuid,
            util_pct=_optional(n, lambda: float(n.nvmlDeviceGetUtilizationRates(handle).gpu)),
            memory_used_mib=float(memory),
            power_w=_optional(n, lambda: n.nvmlDeviceGetPowerUsage(handle) / 1000.0),
        )

    def close(self) -> None:
        if self._nvml is not None:
            self._nvml.nvmlShutdown()
            self._nvml = None


def _optional(n: Any, read: Any) -> float | None:
    """A figure the device may not support (a MIG slice's utilisation or power)."""
    try:
        return float(read())
    except n.NVMLError:
        return None
