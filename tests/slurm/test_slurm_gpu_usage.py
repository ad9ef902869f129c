"""GPU usage of Slurm jobs from accounting (``sacct --json``'s TRES usage per step).

On a cluster with accounting (``AccountedRig``: slurmdbd and MariaDB of its own) the executor
reads each ended attempt's usage once. The test cluster's GPUs are device files without a
driver, so Slurm gathers no GPU figures: sacct reports the steps' cpu, mem, disk and vmem
usage and no ``gres/gpuutil`` or ``gres/gpumem``, and such an attempt gets no aggregate
(nothing, never zeros). ``tests/data/slurm/sacct-22.05-rig.json`` is ``sacct --json -j 1`` as
this cluster printed it for a 2-GPU job; the arithmetic on GPU figures is tested on that output
with ``gres/gpuutil`` and ``gres/gpumem`` entries added to its step in the layout of its other
TRES entries.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_accounting import AccountedRig
from slurm_fixtures import rig_cluster, shared_root
from slurm_helpers import job, placement, wait_report

from aitc.control.executors.base import ExecStatus
from aitc.control.executors.slurm import SlurmExecutor
from aitc.control.executors.slurm_cli import v2205
from aitc.control.gpuusage.tres import aggregate
from aitc.errors import SlurmError

CAPTURED = Path(__file__).resolve().parents[1] / "data" / "slurm" / "sacct-22.05-rig.json"
ENDED = {ExecStatus.EXITED, ExecStatus.TIMEOUT, ExecStatus.CANCELLED, ExecStatus.LOST}


def test_the_parser_reads_each_steps_tres_usage_from_real_sacct_output() -> None:
    (usage,) = v2205.parse_sacct_usage(CAPTURED.read_text())
    assert (usage.job_id, usage.state, usage.gpus) == (1, "COMPLETED", 2)
    (step,) = usage.steps
    assert step.name == "batch" and step.tasks == 1
    assert step.average["cpu"] > 0 and step.maximum["mem"] > 0 and "fs/disk" in step.total
    assert aggregate(usage) is None  # no GPU figures: nothing, not zeros


def test_gpu_figures_become_a_per_gpu_aggregate() -> None:
    doc = json.loads(CAPTURED.read_text())
    step = doc["jobs"][0]["steps"][0]["tres"]["requested"]
    gib = 2**30
    added = {"average": (150, 30 * gib), "max": (150, 40 * gib), "total": (150, 30 * gib)}
    for kind, (util, mem) in added.items():
        step[kind] += [
            {"type": "gres", "name": "gpuutil", "id": 1003, "count": util},
            {"type": "gres", "name": "gpumem", "id": 1002, "count": mem},
        ]
    (usage,) = v2205.parse_sacct_usage(json.dumps(doc))
    figures = aggregate(usage)
    assert figures is not None
    assert (figures.samples, figures.devices) == (1, 2)  # one task holding both GPUs
    assert figures.util_mean_pct == pytest.approx(75.0)
    assert figures.memory_mean_mib == pytest.approx(15 * 1024)
    assert figures.memory_max_mib == pytest.approx(20 * 1024)
    assert figures.util_p95_pct is None and figures.idle_share is None
    assert figures.power_mean_w is None


def test_a_step_that_used_no_gpu_does_not_hide_the_one_that_did() -> None:
    doc = json.loads(CAPTURED.read_text())
    job_ = doc["jobs"][0]
    work = copy.deepcopy(job_["steps"][0])
    work["step"]["name"], work["tasks"]["count"] = "0", 2
    for kind, util in (("average", 80), ("max", 90), ("total", 160)):
        job_["steps"][0]["tres"]["requested"][kind].append(
            {"type": "gres", "name": "gpuutil", "id": 1003, "count": 0}
        )
        work["tres"]["requested"][kind].append(
            {"type": "gres", "name": "gpuutil", "id": 1003, "count": util}
        )
    job_["steps"].append(work)
    (usage,) = v2205.parse_sacct_usage(json.dumps(doc))
    figures = aggregate(usage)
    assert figures is not None and figures.samples == 2  # the srun step, one GPU per task
    assert figures.util_mean_pct == pytest.approx(80.0)


@pytest.fixture(scope="module")
def accounted(request: pytest.FixtureRequest) -> Iterator[AccountedRig]:
    directory = shared_root(request.config) / "accounted-rig"
    directory.mkdir()
    directory.chmod(0o755)
    rig = AccountedRig(rig_cluster(), directory)
    try:
        rig.start(wait_s=60)
    except (SlurmError, OSError) as e:
        rig.stop()
        pytest.fail(f"the Slurm test cluster with accounting did not start: {e}", pytrace=False)
    yield rig
    rig.stop()


@pytest.mark.slurm
def test_an_ended_attempt_is_read_from_accounting_once(
    accounted: AccountedRig, tmp_path: Path
) -> None:
    ex = SlurmExecutor(tmp_path / "state", env=accounted.env, accounting=True, name_prefix="acct")
    ex.usage_every_s = 0.0
    try:
        handle = ex.start(job(1, ["sleep", "2"], placement(node02=2)))
        report = wait_report(ex, 1, until=ENDED)
        assert (report.status, report.exit_code) == (ExecStatus.EXITED, 0)
        assert ex.usage_pending == 1
        deadline = time.monotonic() + 30
        while ex.usage_pending and time.monotonic() < deadline:
            assert ex.gpu_usage() == {}  # the rig's GPUs report nothing: no aggregate
            time.sleep(0.5)
        assert ex.usage_pending == 0  # accounting had the attempt: it is not asked again
        (usage,) = ex.cli.accounted_usage([int(handle)])
        assert usage.gpus == 2 and usage.state == "COMPLETED"
        assert any(s.average.get("cpu") is not None for s in usage.steps)
        assert aggregate(usage) is None
    finally:
        ex.close()
