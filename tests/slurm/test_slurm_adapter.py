"""The Slurm 22.05 adapter reads the JSON layout Slurm prints (samples taken from the rig)."""

from __future__ import annotations

import json

import pytest

from aitc.control.executors.base import NodeState
from aitc.control.executors.slurm import node_state
from aitc.control.executors.slurm_cli import adapter_for, v2205
from aitc.errors import SlurmError

NODE = {
    "name": "node01",
    "state": "mixed",
    "state_flags": [],
    "reason": "",
    "cpus": 224,
    "real_memory": 1992294,
    "gres": "gpu:h100:8",
    "gres_used": "gpu:h100:5(IDX:0-3,6)",
}
JOB = {
    "job_id": 7,
    "name": "aitc-3-1",
    "job_state": "RUNNING",
    "state_reason": "None",
    "exit_code": 0,
    "submit_time": 100,
    "start_time": 101,
    "required_nodes": "node[01-02]",
    "gres_detail": ["gpu:h100:3(IDX:0-2)", "gpu:h100:3(IDX:4-6)"],
    "job_resources": {"allocated_nodes": [{"nodename": "node01"}, {"nodename": "node02"}]},
}


def _doc(key: str, items: list[dict[str, object]]) -> str:
    return json.dumps({"meta": {"plugin": {"type": "openapi/v0.0.38"}}, "errors": [], key: items})


def test_nodes_count_gpus_and_gpus_in_use() -> None:
    [node] = v2205.parse_nodes(_doc("nodes", [NODE]))
    assert (node.name, node.gpu_type, node.gpus, node.gpus_used) == ("node01", "h100", 8, 5)
    assert (node.cpus, node.memory_mb) == (224, 1992294)


def test_jobs_map_each_node_to_the_gpu_indices_slurm_chose() -> None:
    [job] = v2205.parse_jobs(_doc("jobs", [JOB]))
    assert job.nodes == job.required == ("node01", "node02")
    assert dict(job.gpus) == {"node01": (0, 1, 2), "node02": (4, 5, 6)}


@pytest.mark.parametrize(
    "status, decoded", [(0, (0, None)), (768, (3, None)), (9, (None, 9)), (None, (None, None))]
)
def test_exit_code_is_decoded_from_the_wait_status(
    status: int | None, decoded: tuple[int | None, ...]
) -> None:
    assert v2205.decode_status(status) == decoded


@pytest.mark.parametrize(
    "state, flags, want",
    [
        ("idle", [], NodeState.UP),
        ("allocated", ["NOT_RESPONDING"], NodeState.UP),
        ("down", ["NOT_RESPONDING"], NodeState.DOWN),
        ("idle", ["DRAIN"], NodeState.DRAIN),
        ("mixed", ["DRAIN"], NodeState.DRAIN),
        ("unknown", [], NodeState.DOWN),
    ],
)
def test_node_states_map_to_up_down_and_drain(
    state: str, flags: list[str], want: NodeState
) -> None:
    [node] = v2205.parse_nodes(_doc("nodes", [{**NODE, "state": state, "state_flags": flags}]))
    assert node_state(node) == want


def test_topology_gives_each_node_its_leaf_and_scalable_unit() -> None:
    text = (
        "SwitchName=su0-leaf0 Level=0 LinkSpeed=1 Nodes=n[1-2]\n"
        "SwitchName=su1-leaf1 Level=0 LinkSpeed=1 Nodes=n3\n"
        "SwitchName=su0 Level=1 LinkSpeed=1 Nodes=n[1-2] Switches=su0-leaf0\n"
        "SwitchName=su1 Level=1 LinkSpeed=1 Nodes=n3 Switches=su1-leaf1\n"
        "SwitchName=top Level=2 LinkSpeed=1 Nodes=n[1-3] Switches=su[0-1]\n"
    )
    assert v2205.parse_topology(text) == {"n1": (0, 0), "n2": (0, 0), "n3": (1, 1)}


def test_errors_in_the_json_and_unsupported_releases_are_slurm_errors() -> None:
    with pytest.raises(SlurmError, match="not JSON"):
        v2205.parse_jobs("sinfo: error")
    with pytest.raises(SlurmError, match="reported errors"):
        v2205.parse_jobs(json.dumps({"errors": [{"error": "bad"}], "jobs": []}))
    with pytest.raises(SlurmError, match=r"Slurm 24\.11\.1 has no aitc adapter.*22\.05"):
        adapter_for((24, 11, 1))
    assert adapter_for((22, 5, 8)) is v2205
