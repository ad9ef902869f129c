"""Slurm 22.05 (OpenAPI v0.0.38): parse ``sinfo --json``, ``squeue --json`` and ``sacct --json``
(the jobs' states, and their steps' TRES usage).

What this release does that later ones change:
- ``scontrol show … --json`` does not exist yet; node data comes from ``sinfo --json``.
- ``squeue --json`` ignores its filters (``--name``, ``-j``): it always lists every job.
- ``exit_code`` in ``squeue`` is the raw wait status (``768`` is exit code 3).
- GRES are strings: a node's ``gres`` is ``gpu:h100:8``, ``gres_used`` is
  ``gpu:h100:5(IDX:0-4)``; a job's ``gres_detail`` holds one such string per allocated node, in
  the order of ``job_resources.allocated_nodes``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aitc.arch.hostlist import expand
from aitc.control.executors.slurm_cli import UNREACHABLE_HINT, SlurmJob, SlurmNode
from aitc.control.gpuusage.tres import StepUsage, TresUsage, tres_map
from aitc.errors import SlurmError

OPENAPI = "v0.0.38"


def _load(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SlurmError(f"`{what}` printed something that is not JSON ({e})") from None
    if not isinstance(data, dict):
        raise SlurmError(f"`{what}` printed JSON that is not an object")
    errors = data.get("errors") or []
    if errors:
        # 22.05 exits 0 and reports "Unspecified error" here when slurmctld does not answer.
        raise SlurmError(f"`{what}` reported errors: {errors}. Hint: {UNREACHABLE_HINT}")
    return data


def parse_nodes(text: str) -> list[SlurmNode]:
    return [_node(n) for n in _load(text, "sinfo --json").get("nodes", [])]


def _node(n: Mapping[str, Any]) -> SlurmNode:
    gpu_type, total = _gres_total(str(n.get("gres") or ""))
    return SlurmNode(
        name=str(n["name"]),
        state=str(n.get("state", "unknown")).lower(),
        flags=tuple(str(f).upper() for f in n.get("state_flags") or ()),
        reason=str(n.get("reason") or ""),
        cpus=int(n.get("cpus") or 0),
        memory_mb=int(n.get("real_memory") or 0),
        gpu_type=gpu_type,
        gpus=total,
        gpus_used=sum(len(ix) for ix in gres_indices(str(n.get("gres_used") or "")).values()),
    )


def _gres_total(gres: str) -> tuple[str, int]:
    """The first GPU type and the total GPU count of a node's ``gres`` string."""
    first, total = "", 0
    for item in split_gres(gres):
        parts = item.split("(", 1)[0].split(":")
        if parts[0] != "gpu" or not parts[-1].isdigit():
            continue
        total += int(parts[-1])
        if not first and len(parts) == 3:
            first = parts[1]
    return first, total


def split_gres(gres: str) -> list[str]:
    """Split a GRES string at the commas outside parentheses."""
    items, depth, cur = [], 0, ""
    for ch in gres:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    return [i for i in [*items, cur] if i and i != "(null)"]


def gres_indices(gres: str) -> dict[str, tuple[int, ...]]:
    """``gpu:h100:3(IDX:0-2)`` -> ``{"h100": (0, 1, 2)}`` (GPU entries only)."""
    out: dict[str, tuple[int, ...]] = {}
    for item in split_gres(gres):
        head, _, rest = item.partition("(IDX:")
        parts = head.split(":")
        if parts[0] != "gpu" or not rest:
            continue
        kind = parts[1] if len(parts) == 3 else ""
        out[kind] = out.get(kind, ()) + _indices(rest.rstrip(")"))
    return out


def _indices(spec: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit():
            out.extend(range(int(lo), int(hi or lo) + 1))
    return tuple(out)


def parse_jobs(text: str) -> list[SlurmJob]:
    return [_job(j) for j in _load(text, "squeue --json").get("jobs", [])]


def _job(j: Mapping[str, Any]) -> SlurmJob:
    nodes = tuple(
        str(a["nodename"]) for a in (j.get("job_resources") or {}).get("allocated_nodes", [])
    )
    status = j.get("exit_code")
    code, sig = decode_status(status if isinstance(status, int) else None)
    return SlurmJob(
        job_id=int(j["job_id"]),
        name=str(j.get("name") or ""),
        state=str(j.get("job_state") or "").upper(),
        reason=str(j.get("state_reason") or ""),
        nodes=nodes,
        gpus=_job_gpus(nodes, j.get("gres_detail") or []),
        exit_code=code,
        signal=sig,
        submit_time=int(j.get("submit_time") or 0),
        start_time=int(j.get("start_time") or 0),
        required=tuple(expand(str(j.get("required_nodes") or ""))),
        comment=str(j.get("comment") or ""),
    )


def _job_gpus(nodes: Sequence[str], detail: Sequence[str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for node, gres in zip(nodes, detail, strict=False):
        out[node] = tuple(i for ix in gres_indices(str(gres)).values() for i in ix)
    return out


def decode_status(status: int | None) -> tuple[int | None, int | None]:
    """A raw wait status as (exit code, signal)."""
    if status is None:
        return None, None
    if status & 0x7F:
        return None, status & 0x7F
    return (status >> 8) & 0xFF, None


def parse_sacct(text: str) -> list[SlurmJob]:
    """Jobs from ``sacct --json`` (v0.0.38: ``state.current``, ``exit_code.return_code``)."""
    out = []
    for j in _load(text, "sacct --json").get("jobs", []):
        state = j.get("state") or {}
        code = j.get("exit_code") or {}
        sig = (code.get("signal") or {}).get("signal_id")
        out.append(
            SlurmJob(
                job_id=int(j["job_id"]),
                name=str(j.get("name") or ""),
                state=str(state.get("current") or "").upper(),
                reason=str(state.get("reason") or ""),
                exit_code=code.get("return_code"),
                signal=sig if isinstance(sig, int) and sig > 0 else None,
            )
        )
    return out


def parse_sacct_usage(text: str) -> list[TresUsage]:
    """Each job's TRES usage from ``sacct --json`` (v0.0.38: ``tres.allocated`` of the job,
    ``tres.requested.{average,max,total}`` and ``tasks.count`` of each step)."""
    out = []
    for j in _load(text, "sacct --json").get("jobs", []):
        allocated = tres_map((j.get("tres") or {}).get("allocated"))
        steps = tuple(_step_usage(st) for st in j.get("steps") or ())
        state = str((j.get("state") or {}).get("current") or "").upper()
        out.append(TresUsage(int(j["job_id"]), state, int(allocated.get("gres/gpu", 0)), steps))
    return out


def _step_usage(st: Mapping[str, Any]) -> StepUsage:
    usage = (st.get("tres") or {}).get("requested") or {}
    return StepUsage(
        name=str((st.get("step") or {}).get("name") or ""),
        tasks=int((st.get("tasks") or {}).get("count") or 0),
        average=tres_map(usage.get("average")),
        maximum=tres_map(usage.get("max")),
        total=tres_map(usage.get("total")),
    )


def parse_topology(text: str) -> dict[str, tuple[int, int]]:
    """``scontrol show topology`` (text): level-0 switches are leaves, level-1 switches SUs."""
    switches: list[tuple[int, list[str]]] = []
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "Level" in fields and "Nodes" in fields:
            switches.append((int(fields["Level"]), expand(fields["Nodes"])))
    out: dict[str, tuple[int, int]] = {}
    for leaf, (_, nodes) in enumerate(s for s in switches if s[0] == 0):
        out.update({n: (leaf, 0) for n in nodes})
    for su, (_, nodes) in enumerate(s for s in switches if s[0] == 1):
        out.update({n: (out.get(n, (0, 0))[0], su) for n in nodes})
    return out
