"""``aitc update``: change pending jobs, and running jobs' time limits, as ``scontrol update
JobId=...``.

Flags as ``aitc submit`` takes them (``--time`` in Slurm's formats, ``--dependency`` in Slurm's
syntax), or Slurm's own words for people who type them from habit:
``aitc update 7 TimeLimit=1:00:00 JobName=x NumNodes=2``. An array's number changes every
pending task (Slurm's rule), ``ARRAY_TASK`` one of them. What changed is printed, old and new.
A running job's time limit may be lowered by its member, raised too by an administrator
(Slurm's rule), counted from its start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import echo, usage
from aitc.cli.submit import BeginOpt, DependencyOpt, _time, begin_at
from aitc.cli.timespec import parse_time_limit

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

# Slurm's ``scontrol update`` keys (case-insensitive) and the API field each sets.
SLURM_KEYS: Mapping[str, str] = {
    "timelimit": "time_limit",
    "jobname": "name",
    "name": "name",
    "numnodes": "nodes",
    "dependency": "dependency",
    "account": "project",
    "arraytaskthrottle": "array_throttle",
    "starttime": "begin_at",
    "begintime": "begin_at",
    "gres": "gpus",
    "jobid": "job",
}
KNOWN = "JobId, TimeLimit, JobName (Name), NumNodes, Gres=gpu[:MODEL]:N, Dependency, Account, "
KNOWN += "StartTime, ArrayTaskThrottle"
# Keys Slurm knows that aitc does not change, and why.
UNSUPPORTED: Mapping[str, str] = {
    "priority": "aitc jobs keep the priority they were submitted with",
    "partition": "aitc has one pool of nodes, no partitions",
}
# How errors name each field: the flag, or the Slurm key that gave it.
FLAGS = {
    "time_limit": "--time",
    "name": "--name",
    "gpus": "--gpus",
    "nodes": "--nodes",
    "gpu_model": "--gpu-model",
    "dependency": "--dependency",
    "begin_at": "--begin",
    "project": "--project",
    "array_throttle": "--array-throttle",
}
SHOWN = {
    "time_limit": "time limit",
    "name": "name",
    "gpus": "gpus",
    "nodes": "nodes",
    "gpu_model": "gpu model",
    "dependency": "dependency",
    "begin_at": "begin",
    "project": "project",
    "array_throttle": "array throttle",
}


def update(
    words: list[str] = typer.Argument(
        ...,
        help="Job numbers (an array's number: all its pending tasks; ARRAY_TASK: one), and "
        "Slurm's KEY=VALUE words if you like: " + KNOWN + ".",
        metavar="JOBS",
        show_default=False,
    ),
    time: str | None = typer.Option(
        None, "--time", "-t", help="New time limit: minutes, HH:MM:SS, D-HH:MM, 2h, 90m."
    ),
    name: str | None = typer.Option(None, "--name", "-J", "--job-name", help="New name."),
    gpus: int | None = typer.Option(None, "--gpus", "-g", help="New number of whole GPUs."),
    nodes: int | None = typer.Option(None, "--nodes", "-N", help="New number of nodes."),
    gpu_model: str | None = typer.Option(
        None, "--gpu-model", help='New GPU model, e.g. H100-80GB ("" for any).'
    ),
    dependency: str | None = DependencyOpt,
    begin: str | None = BeginOpt,
    project: str | None = typer.Option(
        None, "--project", "-p", "--account", "-A", help="New project to charge."
    ),
    array_throttle: int | None = typer.Option(
        None,
        "--array-throttle",
        help="At most this many tasks of the array run at once (0: no limit), as %N.",
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Change pending jobs, or a running job's time limit, as scontrol update: only what
    you give changes.

    Pending and held jobs: time limit, name, GPUs, nodes, GPU model, dependency, begin
    time, project.

    Checked as at submission; nothing changes unless all of it is valid.

    --dependency "" removes a dependency; --array-throttle changes the whole array's.

    Running jobs: the time limit only, counted from the start; you may lower it, an
    administrator may also raise it. A limit already passed ends the job at once.

    Example: aitc update 7 --time 1:00:00 --gpus 2

    Example: aitc update 7 TimeLimit=1:00:00 JobName=short
    """
    refs, slurm, names = _split(words)
    flags = {
        "time_limit": None if time is None else _time(time, "--time"),
        "name": name,
        "gpus": gpus,
        "nodes": nodes,
        "gpu_model": gpu_model,
        "dependency": dependency,
        "begin_at": begin_at(begin, "--begin"),
        "project": project,
        "array_throttle": array_throttle,
    }
    body = {k: v for k, v in flags.items() if v is not None}
    for key, value in slurm.items():
        if key in body:
            usage(names[key], f"given twice (also as {FLAGS[key]})")
        body[key] = value
    if not refs:
        usage("JOBS", "name the jobs to change (aitc update 7 --time 1:00:00)")
    if not body:
        usage("--time", "give something to change: " + ", ".join(FLAGS.values()))
    fields = {**FLAGS, **names}
    run(url, token, lambda client: _each(client, refs, body), fields=fields)


def _split(words: list[str]) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """The job references and Slurm's ``KEY=VALUE`` words among ``words``: the fields they
    set (parsed once) and how errors name each (by the key as typed)."""
    from aitc.cli.client import job_or_task

    refs: list[str] = []
    body: dict[str, Any] = {}
    names: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            refs.append(_ref(word, job_or_task))
            continue
        field = SLURM_KEYS.get(key.lower())
        if field is None:
            why = UNSUPPORTED.get(key.lower())
            usage(key, why or f"unknown key; aitc update knows {KNOWN}")
        if field == "job":
            refs.append(_ref(value, job_or_task))
            continue
        if field in body:
            usage(key, "given twice")
        body[field], names[field] = _slurm_value(field, key, value), key
    if "gpus" in body:  # Gres: per node, as Slurm counts it
        model, per_node = body["gpus"]
        body["gpus"] = per_node * int(body.get("nodes") or 1)
        if model is not None:
            body["gpu_model"], names["gpu_model"] = model, names["gpus"]
    return refs, body, names


def _ref(text: str, parse: Any) -> str:
    try:
        return str(parse(text))
    except typer.BadParameter as exc:
        usage("JOBS", str(exc))


def _slurm_value(field: str, key: str, value: str) -> Any:
    """A Slurm word's value as the API takes it (``usage`` naming ``key`` if it is wrong)."""
    try:
        if field == "time_limit":
            return parse_time_limit(value)
        if field in ("nodes", "array_throttle"):
            return _count(value)
        if field == "gpus":
            return _gres(value)
        if field == "begin_at":
            return begin_at(value, key)
    except ValueError as exc:
        usage(key, str(exc))
    return value


def _count(value: str) -> int:
    if not value.strip().isdigit():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def _gres(value: str) -> tuple[str | None, int]:
    """``gpu:N`` or ``gpu:MODEL:N`` (N GPUs on each node) as (model, N)."""
    parts = value.split(":")
    if parts[0] != "gpu" or len(parts) not in (2, 3):
        raise ValueError(f"{value!r} is not gpu:N or gpu:MODEL:N")
    return (parts[1] if len(parts) == 3 else None), _count(parts[-1])


def _each(client: ApiClient, refs: list[str], body: dict[str, Any]) -> None:
    """Change each job, array or task, and print what changed."""
    from aitc.cli.submit import _array_tasks

    for ref in refs:
        array, _, task = ref.partition("_")
        if not task:
            job = client.request("GET", f"/jobs/{array}", subject=f"job {array}")
            if job.get("array_job_id") != job["id"]:  # a job, not an array
                after = client.request("PATCH", f"/jobs/{array}", json=body, subject=f"job {array}")
                _print({job["id"]: job}, [after])
                continue
        before = {j["id"]: j for j in _array_tasks(client, int(array))}
        params = {"task": int(task)} if task else {}
        subject = f"array {ref}" if not task else f"task {ref}"
        done = client.request(
            "PATCH", f"/jobs/arrays/{array}", params=params, json=body, subject=subject
        )
        _print(before, done["data"])


def _print(before: Mapping[int, dict[str, Any]], after: list[dict[str, Any]]) -> None:
    from aitc.cli.client import _array, _duration
    from aitc.cli.output import when

    for job in after:
        old = before.get(job["id"], {})
        changes = []
        for key, label in SHOWN.items():
            if key in old and old[key] != job[key]:
                was, now = old[key], job[key]
                if key == "time_limit":
                    was, now = _duration(was), _duration(now)
                if key == "begin_at":
                    was, now = when(was), when(now)
                changes.append(f"{label} {_value(was)} -> {_value(now)}")
        asked = job.get("time_limit_request")
        if asked is not None and asked != old.get("time_limit_request"):
            was, now = _duration(job["time_limit"]), _duration(asked)
            changes.append(f"time limit {was} -> {now} (once its executor takes it)")
        task = "" if job.get("array_job_id") is None else f" ({_array(job)})"
        echo(f"job {job['id']}{task}: " + ("; ".join(changes) or "unchanged"))


def _value(value: object) -> str:
    return "none" if value is None or value == "-" else str(value)


def register(app: typer.Typer) -> None:
    app.command("update")(update)
