"""GPU usage sampling: aggregates of recorded samples; virtual GPUs report nothing."""

from __future__ import annotations

import pytest

from aitc.control.executors.gpus import virtual_gpus
from aitc.control.gpuusage.nvml import NvmlReader
from aitc.control.gpuusage.sampler import GpuSampler, device_uuids, interval_option
from aitc.control.gpuusage.samples import GpuSample, UsageAccumulator
from aitc.control.store import Store
from aitc.control.store.gpu_usage import gpu_usage_of, record_gpu_usage
from aitc.errors import ConfigError

UUID = "GPU-4b4d16a3-9f3c-fafa-3f6b-b8f0ed26c747"


def recorded(utils: list[float | None], memory: float = 1000.0) -> UsageAccumulator:
    acc = UsageAccumulator()
    for u in utils:
        acc.add(GpuSample(UUID, u, memory, None if u is None else 300.0))
    return acc


def test_the_aggregate_of_recorded_samples_has_mean_p95_and_idle_share() -> None:
    # 20 samples: 4 idle (0 %), 15 at 50 %, one at 100 %.
    a = recorded([0.0] * 4 + [50.0] * 15 + [100.0]).aggregate()
    assert a is not None
    assert a.samples == 20 and a.devices == 1
    assert a.util_mean_pct == pytest.approx((15 * 50 + 100) / 20)
    assert a.util_p95_pct == 50.0  # rank ceil(0.95 * 20) = 19: still a 50 % sample
    assert a.idle_share == pytest.approx(4 / 20)
    assert a.memory_mean_mib == 1000.0 and a.power_mean_w == 300.0


def test_the_p95_is_the_nearest_rank_of_the_samples() -> None:
    a = recorded([float(i) for i in range(1, 101)]).aggregate()
    assert a is not None and a.util_p95_pct == 95.0 and a.idle_share == 0.0


def test_a_mig_slice_without_utilisation_reports_memory_only_not_zeros() -> None:
    a = recorded([None, None], memory=512.0).aggregate()
    assert a is not None
    assert a.util_mean_pct is None and a.util_p95_pct is None and a.idle_share is None
    assert a.power_mean_w is None and a.memory_max_mib == 512.0


def test_no_samples_is_no_aggregate() -> None:
    assert UsageAccumulator().aggregate() is None


def test_virtual_gpus_report_nothing() -> None:
    gpus = virtual_gpus(2, host="node0")
    reader = NvmlReader()
    assert all(reader.read(g.uuid) is None for g in gpus)
    sampler = GpuSampler(reader, interval_s=1)
    sampler.sample(10.0, {(1, 1): device_uuids("0,1", gpus)})
    assert sampler.take() == {} and sampler.latest == {}


class Recorded:
    """A device reader replaying recorded utilisation per UUID."""

    def __init__(self, utils: dict[str, list[float]]) -> None:
        self.utils = {k: list(v) for k, v in utils.items()}

    def read(self, uuid: str) -> GpuSample | None:
        return GpuSample(uuid, self.utils[uuid].pop(0), 100.0, 70.0)


def test_the_sampler_reads_once_per_interval_and_hands_over_ended_attempts_once() -> None:
    sampler = GpuSampler(Recorded({"GPU-a": [0, 0, 80, 90]}), interval_s=10)
    for now in (0.0, 5.0, 10.0, 15.0, 20.0):  # reads at 0, 10 and 20
        sampler.sample(now, {(7, 1): ("GPU-a",)})
    first = sampler.take()
    assert first[(7, 1)].samples == 3 and first[(7, 1)].idle_share == pytest.approx(2 / 3)
    sampler.sample(30.0, {(7, 1): ("GPU-a",)})
    sampler.sample(31.0, {})  # the attempt ended before its last sample was taken
    last = sampler.take()
    assert last[(7, 1)].samples == 4 and sampler.take() == {}


def test_visible_devices_map_to_uuids() -> None:
    gpus = virtual_gpus(4, host="h")
    assert device_uuids("1,3", gpus) == (gpus[1].uuid, gpus[3].uuid)
    assert device_uuids("MIG-abc", gpus) == ("MIG-abc",)


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf"])
def test_a_bad_sampling_interval_names_the_option(value: str) -> None:
    with pytest.raises(ConfigError) as e:
        interval_option(value)
    assert e.value.field == "gpu_sample_s"


def test_aggregates_are_stored_per_attempt_and_replaced(store: Store) -> None:
    from seed import seed

    from aitc.control.clock import FakeClock
    from aitc.control.store import JobSpec, create_job, load_caller

    clock = FakeClock()
    seed(store, clock)
    with store.session() as s:
        job, _ = create_job(
            session=s,
            spec=JobSpec(command=("true",)),
            now=clock.now(),
            caller=load_caller(session=s, member_id="alice"),
        )
        job_id = job.id
    for utils in ([0.0, 50.0], [0.0, 50.0, 100.0]):
        aggregate = recorded(utils).aggregate()
        assert aggregate is not None
        with store.session() as s:
            record_gpu_usage(session=s, usage={(job_id, 1): aggregate}, now=clock.now())
    with store.session(readonly=True) as s:
        rows = gpu_usage_of(session=s, job_id=job_id)
        assert [(r.attempt, r.samples, r.idle_share) for r in rows] == [
            (1, 3, pytest.approx(1 / 3))
        ]
