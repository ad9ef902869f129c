"""``GpuSampler``: samples the GPUs of every running attempt at most once per interval.

The executor tells it which device UUIDs each running attempt holds (``sample(now,
attempts)`` at every poll); the sampler reads each device when ``interval_s`` has passed and
folds the reading into the attempt's ``UsageAccumulator``. ``take()`` hands the controller the
aggregates that changed since the last ``take`` (ended attempts included, once), which it writes
to the store's ``job_gpu_usage``. A reader that returns ``None`` (virtual GPUs, no driver)
leaves no trace: such attempts have no aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from aitc.control.executors.base import GpuInfo
from aitc.control.gpuusage.samples import GpuSample, UsageAccumulator, UsageAggregate
from aitc.errors import ConfigError

Key = tuple[int, int]  # (job id, attempt)
DEFAULT_INTERVAL_S = 10.0


class DeviceReader(Protocol):
    def read(self, uuid: str) -> GpuSample | None: ...


@runtime_checkable
class SamplesGpus(Protocol):
    """An executor that samples its attempts' GPUs (the local executor)."""

    def gpu_usage(self) -> Mapping[Key, UsageAggregate]: ...


class GpuSampler:
    def __init__(self, reader: DeviceReader, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if interval_s <= 0:
            raise ConfigError(
                f"must be more than 0 seconds, got {interval_s}", field="gpu_sample_s"
            )
        self.reader, self.interval_s = reader, interval_s
        self._acc: dict[Key, UsageAccumulator] = {}
        self._changed: set[Key] = set()
        self._final: dict[Key, UsageAggregate] = {}  # ended, changed, not yet taken
        self._next = 0.0
        self.latest: dict[str, tuple[Key, GpuSample]] = {}  # uuid -> last reading (metrics)

    def sample(self, now: float, attempts: Mapping[Key, Sequence[str]]) -> None:
        """Read every device of ``attempts`` (the running ones) if the interval has passed."""
        for key in [k for k in self._acc if k not in attempts]:
            aggregate = self._acc.pop(key).aggregate()
            if key in self._changed and aggregate is not None:
                self._final[key] = aggregate  # ended before its last change was taken
        if now < self._next:
            return
        self._next = now + self.interval_s
        self.latest = {}
        for key, uuids in attempts.items():
            for uuid in uuids:
                reading = self.reader.read(uuid)
                if reading is None:
                    continue
                self._acc.setdefault(key, UsageAccumulator()).add(reading)
                self._changed.add(key)
                self.latest[uuid] = (key, reading)

    def take(self) -> dict[Key, UsageAggregate]:
        """The aggregates changed since the last ``take``."""
        out: dict[Key, UsageAggregate] = {}
        for key in self._changed:
            acc = self._acc.get(key)
            aggregate = acc.aggregate() if acc is not None else self._final.pop(key, None)
            if aggregate is not None:
                out[key] = aggregate
        self._changed = set()
        return out


def device_uuids(visible: str, gpus: Sequence[GpuInfo]) -> tuple[str, ...]:
    """The UUIDs behind an attempt's ``CUDA_VISIBLE_DEVICES`` (GPU indices or a MIG UUID)."""
    if visible.startswith("MIG-"):
        return (visible,)
    by_index = {str(g.index): g.uuid for g in gpus}
    return tuple(by_index[i] for i in visible.split(",") if i in by_index)


def interval_option(value: str | None) -> float:
    """``--executor-option gpu_sample_s=S``: seconds between samples, more than 0."""
    if value is None:
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(
            f"must be a number of seconds more than 0, got {value!r}", field="gpu_sample_s"
        )
    return seconds
