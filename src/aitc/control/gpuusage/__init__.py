"""GPU usage of running attempts: NVML samples, aggregated per attempt (see ``samples``)."""

from aitc.control.gpuusage.samples import GpuSample, UsageAccumulator, UsageAggregate

__all__ = ["GpuSample", "UsageAccumulator", "UsageAggregate"]
