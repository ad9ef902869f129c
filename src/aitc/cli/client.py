"""The API client commands on jobs and nodes: `aitc queue`, `show`, `cancel`, `logs`, `hold`,
`release`, `requeue`, `history`, `nodes` and `share` (`aitc submit` is in ``submit.py``; `token`
and `member` in ``admin.py``).

Thin: parse, call ``aitc.control.apiclient``, render with ``aitc.cli.output`` (one error style,
tables that fit the terminal or, piped, print full cells; ``--json`` on every listing).
``aitc logs`` prints the job's output as it is, like ``cat``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli import admin, interactive, notebook, submit
from aitc.cli.apicall import TokenOpt, UrlOpt, run, say
from aitc.cli.output import Rows, echo, print_json, safe, usage, when
from aitc.cli.timespec import parse_duration, parse_since
from aitc.domain.durations import slurm_duration
from aitc.domain.timesignal import signal_now

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

__all__ = ["parse_duration", "register"]


def job_number(value: str) -> int:
    """A job's number, refused in aitc's words rather than click's."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise typer.BadParameter(f"{value!r} is not a job number (see aitc queue)")
    return int(text)


JsonOpt = typer.Option(False, "--json", help="Print the API's JSON instead of a table.")
ENDED = ("completed", "failed", "cancelled", "timeout")


def _job_id() -> Any:
    return typer.Argument(..., help="The job's number.", parser=job_number)


def _gpus(job: dict[str, Any]) -> str:
    return f"mig {job['mig']}" if job.get("mig") else str(job["gpus"])


def _state(job: dict[str, Any]) -> str:
    stopping = job["cancel_requested"] and job["state"] in ("starting", "running")
    held = job.get("held") and job["state"] == "pending"
    return job["state"] + (" (cancel requested)" if stopping else "") + (" (held)" if held else "")


def _array(job: dict[str, Any]) -> str:
    if job.get("array_job_id") is None:
        return "-"
    return f"{job['array_job_id']}_{job['array_task_id']}"


def _duration(seconds: float | None) -> str:
    """``D-HH:MM:SS`` as Slurm prints elapsed times and limits; ``-`` when unknown."""
    return "-" if seconds is None else slurm_duration(seconds)


def _elapsed(job: dict[str, Any]) -> float | None:
    if not job.get("started_at"):
        return None
    start = _epoch(job["started_at"])
    end = _epoch(job["ended_at"]) if job.get("ended_at") else time.time()
    return max(0.0, end - start)


def _epoch(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


def queue(
    me: bool = typer.Option(False, "--me", help="Only your own jobs."),
    state: str | None = typer.Option(
        None, "--state", help="Only jobs in these states: pending, running (comma-separated)."
    ),
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
    start: bool = typer.Option(
        False, "--start", help="The pending jobs with when each is expected to start."
    ),
    as_json: bool = JsonOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """The running jobs, then the pending ones in order, with why they wait."""
    wanted = _states("pending" if start else state, ("pending", "starting", "running"))

    def call(client: ApiClient) -> None:
        params = {"project": project} if project else {}
        if me:
            params["member"] = client.request("GET", "/me")["id"]
        q = client.request("GET", "/queue", params=params)
        jobs = [j for j in q["running"] + q["pending"] if j["state"] in wanted]
        if as_json:
            print_json({"data": jobs, "count": len(jobs)})
            return
        if start:
            _starts(jobs).print()
            return
        table = Rows(
            ("id", "name", "member", "project", "gpus", "state", "since / why waiting"),
            title="Queue",
            right=frozenset({"id", "gpus"}),
        )
        for job in jobs:
            reasons = " ".join(r["message"] for r in job["pending_reasons"]) or "-"
            last = reasons if job["state"] == "pending" else when(job["started_at"])
            table.add(*_who(job), last)
        table.print()

    run(url, token, call)


def _starts(jobs: list[dict[str, Any]]) -> Rows:
    """The pending jobs with their expected start (``squeue --start``): the controller's
    estimate from the running jobs' time limits, ``-`` where it has none (a job ahead has no
    limit, or it is held)."""
    table = Rows(
        ("id", "name", "member", "project", "gpus", "state", "expected start", "why waiting"),
        title="Expected starts",
        right=frozenset({"id", "gpus"}),
    )
    for job in jobs:
        reasons = " ".join(r["message"] for r in job["pending_reasons"]) or "-"
        table.add(*_who(job), when(job["estimated_start"]), reasons)
    return table


def _states(text: str | None, allowed: tuple[str, ...]) -> set[str]:
    if text is None:
        return set(allowed)
    states = {s.strip().lower() for s in text.split(",") if s.strip()}
    if "running" in states:
        states.add("starting")
    unknown = sorted(states - set(allowed))
    if unknown or not states:
        usage("--state", f"unknown state {', '.join(unknown)!r} (known: {', '.join(allowed)})")
    return states


def _who(job: dict[str, Any]) -> tuple[str, ...]:
    """The id, name, member, project, GPUs and state columns of a job row."""
    return (str(job["id"]), job["name"], job["member"], job["project"], _gpus(job), _state(job))


def show(
    job_id: int = _job_id(),
    as_json: bool = JsonOpt,
    script: bool = typer.Option(
        False, "--script", help="Print the batch script it runs, as submitted, instead."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """One job: every field of its request, where it runs, why it waits, and its history."""

    def call(client: ApiClient) -> None:
        if script:
            sys.stdout.write(client.text(f"/jobs/{job_id}/script", subject=f"job {job_id}"))
            return
        job = client.request("GET", f"/jobs/{job_id}", subject=f"job {job_id}")
        events = client.request("GET", f"/jobs/{job_id}/events", subject=f"job {job_id}")["data"]
        usage = client.request("GET", f"/jobs/{job_id}/gpu-usage", subject=f"job {job_id}")
        if as_json:
            print_json({**job, "events": events, "gpu_usage": usage["data"]})
            return
        _job_rows(job).print()
        for r in job["pending_reasons"]:
            echo(f"waiting: {r['message']}")
        if job["estimated_start"]:
            echo(f"estimated start: {when(job['estimated_start'])}")
        history = Rows(("time", "from", "to", "attempt", "cause"), title="History")
        for e in events:
            history.add(
                when(e["at"]), e["from_state"] or "-", e["to_state"], e["attempt"], e["cause"]
            )
        history.print()
        if usage["data"]:
            _usage_rows(usage["data"]).print()

    run(url, token, call)


def _usage_rows(attempts: list[dict[str, Any]]) -> Rows:
    """What each attempt's GPUs did (as seff): utilisation, idle share, memory, power."""
    rows = Rows(
        (
            "attempt",
            "GPUs",
            "samples",
            "util mean",
            "util p95",
            "idle",
            "memory mean / peak",
            "power",
        ),
        title="GPU usage",
        right=frozenset({"attempt", "GPUs", "samples", "util mean", "util p95", "idle", "power"}),
    )
    for a in attempts:
        memory = f"{a['memory_mean_mib'] / 1024:.1f} / {a['memory_max_mib'] / 1024:.1f} GiB"
        rows.add(
            a["attempt"],
            a["devices"],
            a["samples"],
            _pct(a["util_mean_pct"]),
            _pct(a["util_p95_pct"]),
            _pct(_share(a["idle_share"])),
            memory,
            "-" if a["power_mean_w"] is None else f"{a['power_mean_w']:.0f} W",
        )
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} %"


def _share(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _gib(mib: float | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.1f} GiB"


def _last_usage(job: dict[str, Any], key: str) -> Any:
    """A figure of the job's last sampled attempt (None: never sampled)."""
    attempts = job.get("gpu_usage") or []
    return attempts[-1][key] if attempts else None


def _job_rows(job: dict[str, Any]) -> Rows:
    placement = ", ".join(
        f"{a['node']}:{a['mig'] or ','.join(map(str, a['gpus']))}" for a in job["placement"] or []
    )
    rows = Rows(("field", "value"), title=f"Job {job['id']}: {job['name']}", show_header=False)
    begin = (("begin", when(job["begin_at"])),) if job.get("begin_at") else ()
    for key, value in (
        ("state", _state(job)),
        ("member", job["member"]),
        ("project", f"{job['project']} ({job['organisation']})"),
        ("command", " ".join(job["command"])),
        ("gpus", _gpus(job)),
        ("nodes", job["nodes"] or "-"),
        ("gpu model", job["gpu_model"] or "-"),
        ("time limit", _duration(job["time_limit"]) if job["time_limit"] else "none"),
        ("priority", job["priority"]),
        ("working dir", job["workdir"] or "-"),
        ("held", "yes" if job.get("held") else "no"),
        ("array", _array(job)),
        ("array throttle", job.get("array_throttle") or "-"),
        ("dependency", job.get("dependency") or "-"),
        *begin,
        ("signal", job.get("signal") or "-"),
        ("placement", placement or "-"),
        ("submitted", when(job["submitted_at"])),
        ("started", when(job["started_at"])),
        ("ended", when(job["ended_at"])),
        ("elapsed", _duration(_elapsed(job))),
        ("exit code", "-" if job["exit_code"] is None else job["exit_code"]),
        ("attempts", job["attempt"]),
        ("cause", job["cause"] or "-"),
    ):
        rows.add(key, value)
    if job.get("output") or job.get("error"):  # the job's own files (patterns, as submitted)
        rows.add("output file", job.get("output") or "- (aitc keeps it)")
        rows.add("error file", job.get("error") or "- (with the output)")
        rows.add("open mode", job.get("open_mode") or "truncate, append when requeued")
    if job.get("notebook_port"):  # its URL carries its token: its member's and admins' only
        rows.add("notebook", job.get("notebook_url") or _notebook_state(job))
    for key, value in sorted(job.get("env", {}).items()):
        rows.add(f"env {key}", value)
    return rows


def _notebook_state(job: dict[str, Any]) -> str:
    if job["state"] in ("running", "starting"):
        return f"port {job['notebook_port']} (its URL, with its token, is its member's)"
    return f"port {job['notebook_port']} ({job['state']})"


def job_or_task(value: str) -> str:
    """A job number, an array's (all its tasks) or ``ARRAY_TASK``, refused in aitc's words."""
    text = str(value).strip()
    array, sep, task = text.partition("_")
    job_number(array)
    if sep and (not task.isdigit() or int(task) > 10**6):
        raise typer.BadParameter(f"{value!r} is not a job, array or ARRAY_TASK (12, 12_3)")
    return text


def _jobs_arg() -> Any:
    return typer.Argument(
        ...,
        help="Job numbers; an array's number means all its tasks, ARRAY_TASK one of them.",
        parser=job_or_task,
    )


def hold(
    job_ids: list[str] = _jobs_arg(),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Hold pending jobs: they stay pending and are not scheduled until released."""
    _each_ref("hold", job_ids, url, token)


def release(
    job_ids: list[str] = _jobs_arg(),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Release held jobs: the scheduler considers them again at once."""
    _each_ref("release", job_ids, url, token)


def requeue(
    job_ids: list[str] = _jobs_arg(),
    hold: bool = typer.Option(
        False, "--hold", help="Hold it once it is back in the queue (scontrol requeuehold)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Put running jobs back in the queue, as scontrol requeue: each is stopped and runs
    again, as a new attempt, from its place in the queue."""
    then = "held once back in the queue" if hold else "it runs again from its place in the queue"

    def shown(job: dict[str, Any]) -> str:
        return f"{job['state']}; requeue asked: it is stopped, then {then}"

    _each_ref("requeue", job_ids, url, token, shown, {"hold": "true"} if hold else None)


def cancel(
    job_ids: list[str] = typer.Argument(
        None,
        help="Job numbers; an array's number means all its tasks, ARRAY_TASK one of them.",
        parser=job_or_task,
        show_default=False,
    ),
    me: bool = typer.Option(False, "--me", help="All your pending and running jobs."),
    member: str | None = typer.Option(
        None, "--member", "-u", help="All this member's jobs (an admin's or instructor's)."
    ),
    state: str | None = typer.Option(
        None, "--state", "-t", help="With --me or --member: only pending or running ones."
    ),
    project: str | None = typer.Option(
        None, "--project", "-A", help="With --me or --member: only this project's."
    ),
    name: str | None = typer.Option(
        None, "--name", "-n", "--job-name", help="With --me or --member: only jobs of this name."
    ),
    signal: str | None = typer.Option(
        None,
        "--signal",
        "-s",
        help="Send this signal to the running jobs instead of cancelling them: [B:]SIG "
        "(B: to the main process only).",
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Cancel jobs, as scancel: a pending one at once, a running one as soon as it is stopped.

    Job numbers: an array's number cancels all its tasks, ARRAY_TASK one of them.

    --me or --member (with --state, --project, --name): all the matching jobs, all or nothing.

    --signal SIG: send running jobs a signal instead (scancel --signal), e.g. to checkpoint.

    Example: aitc cancel --me --state pending --name sweep
    """
    refs = list(job_ids or ())
    if me and member is not None:
        usage("--member", "give --me or --member, not both")
    whose = me or member is not None
    if refs and whose:
        usage("JOB_IDS", "give job numbers or --me/--member, not both")
    if not refs and not whose:
        usage("JOB_IDS", "give job numbers, --me or --member (as scancel needs a job or a filter)")
    filters = {"--state": state, "--project": project, "--name": name}
    given = [flag for flag, value in filters.items() if value is not None]
    if given and not whose:
        usage(given[0], "only with --me or --member (job numbers name their jobs already)")
    states = sorted(_states(state, ("pending", "running")) - {"starting"}) if state else []
    if signal is not None:
        _signal(signal, refs, whose, url, token)
        return
    if refs:
        _each_ref("cancel", refs, url, token)
        return

    def call(client: ApiClient) -> None:
        body = {"member": member or client.request("GET", "/me")["id"], "states": states}
        body |= {"project": project, "name": name}
        done = client.request("POST", "/jobs/cancel", json=body, subject="--member")
        for job in done["data"]:
            echo(f"job {job['id']}{_of_array(job)}: {_cancelled(job)}")
        if not done["data"]:
            echo("no job of yours matches" if me else f"no job of {body['member']} matches")

    run(url, token, call)


def _signal(words: str, refs: list[str], whose: bool, url: str | None, token: str | None) -> None:
    """``aitc cancel --signal SIG ID...``: the signal to each running job, now (scancel -s)."""
    try:
        sent = signal_now(words)
    except ValueError as exc:
        usage("--signal", str(exc))
    if whose or any("_" in ref for ref in refs):
        usage("--signal", "give the running jobs' own numbers (a task's: aitc queue shows it)")

    def call(client: ApiClient) -> None:
        for ref in refs:
            job = client.request(
                "POST", f"/jobs/{ref}/signal", json={"signal": sent}, subject=f"job {ref}"
            )
            echo(f"job {job['id']}: SIG{sent.removeprefix('B:')} asked for (it is {job['state']})")

    run(url, token, call)


def _cancelled(job: dict[str, Any]) -> str:
    """A job's state after a cancel: ``running (stopping)`` until the controller stops it."""
    stopping = job["cancel_requested"] and job["state"] in ("starting", "running")
    return job["state"] + (" (stopping)" if stopping else "")


def _of_array(job: dict[str, Any]) -> str:
    return "" if job.get("array_job_id") is None else f" ({_array(job)})"


def _each_ref(
    verb: str,
    refs: list[str],
    url: str | None,
    token: str | None,
    shown: Callable[[dict[str, Any]], str] | None = None,
    query: dict[str, Any] | None = None,
) -> None:
    """``verb`` (hold, release, cancel, requeue) each of ``refs``: a job, an array's every task
    (its number), one task (``ARRAY_TASK``), as scontrol and scancel take them; ``shown``
    says what became of each (its state unless given), ``query`` goes with each request. As
    scancel, one that is refused is said and the others are still done; the exit code is then
    the last refusal's (a server that cannot be reached stops it all)."""
    from aitc.control.apiclient import ApiError

    shown = shown or (_cancelled if verb == "cancel" else _state)
    query = query or {}

    def each(client: ApiClient, ref: str) -> None:
        array, _, task = ref.partition("_")
        if not task:
            job = client.request("GET", f"/jobs/{array}", subject=f"job {array}")
            if job.get("array_job_id") != job["id"]:  # a job, not an array
                job = client.request(
                    "POST", f"/jobs/{array}/{verb}", params=query, subject=f"job {array}"
                )
                echo(f"job {job['id']}: {shown(job)}")
                return
        params = query | ({"task": int(task)} if task else {})
        subject = f"array {ref}" if not task else f"task {ref}"
        done = client.request(
            "POST", f"/jobs/arrays/{array}/{verb}", params=params, subject=subject
        )
        for job in done["data"]:
            echo(f"job {job['id']} ({_array(job)}): {shown(job)}")

    def call(client: ApiClient) -> None:
        refused = 0
        for ref in refs:
            try:
                each(client, ref)
            except ApiError as exc:
                if exc.status is None or len(refs) == 1:  # unreachable, or nothing else to do
                    raise
                say(exc)
                refused = exc.exit_code
        if refused:
            raise typer.Exit(refused)

    run(url, token, call)


def logs(
    job_id: int = _job_id(),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until it ends."),
    stderr: bool = typer.Option(False, "--stderr", help="Show standard error instead."),
    attempt: int | None = typer.Option(
        None,
        "--attempt",
        min=1,
        help="An earlier attempt's output (a requeued or preempted job's; default: the last).",
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Print a job's output (its standard output unless --stderr)."""

    def call(client: ApiClient) -> None:
        stream = "stderr" if stderr else "stdout"
        chunks = client.stream_logs(job_id, stream=stream, follow=follow, attempt=attempt)
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

    run(url, token, call)


# The columns of `aitc history --format`, with the names sacct gives them as aliases.
COLUMNS: dict[str, Any] = {
    "id": lambda j: j["id"],
    "name": lambda j: j["name"],
    "member": lambda j: j["member"],
    "project": lambda j: j["project"],
    "organisation": lambda j: j["organisation"],
    "gpus": _gpus,
    "state": lambda j: j["state"],
    "exit": lambda j: "-" if j["exit_code"] is None else j["exit_code"],
    "submitted": lambda j: when(j["submitted_at"]),
    "started": lambda j: when(j["started_at"]),
    "ended": lambda j: when(j["ended_at"]),
    "elapsed": lambda j: _duration(_elapsed(j)),
    "timelimit": lambda j: _duration(j["time_limit"]),
    "workdir": lambda j: j["workdir"] or "-",
    "nodes": lambda j: ",".join(a["node"] for a in j["placement"] or []) or "-",
    "attempts": lambda j: j["attempt"],
    "array": _array,
    "cause": lambda j: j["cause"] or "-",
    # what the GPUs of its last sampled attempt did (as seff; `aitc show` has every attempt)
    "gpu_util": lambda j: _pct(_last_usage(j, "util_mean_pct")),
    "gpu_idle": lambda j: _pct(_share(_last_usage(j, "idle_share"))),
    "gpu_mem": lambda j: _gib(_last_usage(j, "memory_max_mib")),
}
USAGE_COLUMNS = frozenset({"gpu_util", "gpu_idle", "gpu_mem"})
ALIASES = {
    "jobid": "id",
    "jobname": "name",
    "user": "member",
    "account": "project",
    "exitcode": "exit",
    "submit": "submitted",
    "start": "started",
    "end": "ended",
    "nodelist": "nodes",
    "reason": "cause",
}
DEFAULT_FORMAT = "id,name,member,project,gpus,state,exit,started,ended,elapsed"


def history(
    since: str | None = typer.Option(
        None, "--since", "-S", help="Ended since: 2026-11-26, 2026-11-26T14:00, or 2h, 7d ago."
    ),
    state: str | None = typer.Option(
        None, "--state", "-s", help="completed, failed, cancelled, timeout (comma-separated)."
    ),
    member: str | None = typer.Option(None, "--member", "-u", help="Only this member's jobs."),
    project: str | None = typer.Option(None, "--project", "-A", help="Only this project."),
    fmt: str = typer.Option(
        DEFAULT_FORMAT, "--format", "-o", help="Columns, comma-separated (see the user guide)."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many jobs."),
    as_json: bool = JsonOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Finished jobs you may see, newest first (like sacct)."""
    states = sorted(_states(state, ENDED))
    columns = _columns(fmt)
    params: dict[str, Any] = {"state": states, "limit": limit}
    params.update({k: v for k, v in (("member", member), ("project", project)) if v})
    if since is not None:
        try:
            params["since"] = max(0.0, parse_since(since, time.time()))
        except ValueError as exc:
            usage("--since", str(exc))

    def call(client: ApiClient) -> None:
        jobs = client.request("GET", "/jobs", params=params)
        if as_json:
            print_json(jobs)
            return
        if USAGE_COLUMNS & set(columns):
            for job in jobs["data"]:
                path = f"/jobs/{job['id']}/gpu-usage"
                job["gpu_usage"] = client.request("GET", path, subject=f"job {job['id']}")["data"]
        right = frozenset({"id", "gpus", "exit", *USAGE_COLUMNS})
        table = Rows(columns, title="History", right=right)
        for job in jobs["data"]:
            table.add(*(COLUMNS[c](job) for c in columns))
        table.print()

    run(url, token, call)


def _columns(fmt: str) -> list[str]:
    columns = []
    for name in (c.strip().lower() for c in fmt.split(",") if c.strip()):
        name = ALIASES.get(name, name)
        if name not in COLUMNS:
            usage("--format", f"unknown column {name!r} (known: {', '.join(COLUMNS)})")
        columns.append(name)
    if not columns:
        usage("--format", "name at least one column")
    return columns


def nodes(
    reasons: bool = typer.Option(
        False,
        "--reasons",
        "-R",
        help="Only the nodes not up: why, who said so and when (like sinfo -R).",
    ),
    as_json: bool = JsonOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """The nodes: state, GPUs free of total, GPU model (like sinfo). A drained node is
    `draining` while jobs still run on it, `drained` once empty."""

    def call(client: ApiClient) -> None:
        data = client.request("GET", "/nodes")
        if reasons:
            data["data"] = [n for n in data["data"] if n["state"] != "up"]
        if as_json:
            print_json(data)
            return
        if reasons:
            table = Rows(("reason", "by", "since", "state", "node"), title="Nodes not up")
            for n in data["data"]:
                by = n.get("reason_by") or "executor"
                table.add(n["reason"] or "-", by, when(n.get("reason_at")), n["state"], n["name"])
            table.print()
            return
        table = Rows(("node", "state", "gpus free/total", "gpu model", "reason"), title="Nodes")
        for n in data["data"]:
            free = f"{n['gpus'] - n['gpus_busy']}/{n['gpus']}"
            table.add(n["name"], n["state"], free, n["gpu_model"], n["reason"] or "-")
        table.print()

    run(url, token, call)


def share(as_json: bool = JsonOpt, url: str | None = UrlOpt, token: str | None = TokenOpt) -> None:
    """The fair-share tree as the scheduler sees it now (like sshare): each organisation,
    project and member with recent usage or pending jobs, its share, its decayed GPU-hours and
    its level fair share; members rank in the order their jobs are tried."""

    def call(client: ApiClient) -> None:
        data = client.request("GET", "/shares")
        if as_json:
            print_json(data)
            return
        columns = ("account", "share", "norm share", "gpu-h", "norm usage", "level", "rank")
        columns += ("pending",)
        table = Rows(columns, title="Fair share", right=frozenset(columns[1:]))
        for r in data["data"]:
            depth = (r["project"] is not None) + (r["member"] is not None)
            name = r["member"] or r["project"] or r["organisation"]
            level = "inf" if r["level"] is None else f"{r['level']:.2f}"
            rank = f"{r['rank']} of {data['members']}" if r["rank"] is not None else ""
            table.add(
                "  " * depth + name,
                f"{r['share']:g}",
                f"{r['norm_share']:.3f}",
                f"{r['usage_gpu_hours']:.1f}",
                f"{r['norm_usage']:.3f}",
                level,
                rank,
                r["pending_jobs"] or "",
            )
        table.print()
        days = data["half_life_s"] / 86400
        if data["orders_queue"]:
            echo(
                f"Members' jobs are tried in rank order (policy {data['policy']}). Level: share "
                "over usage among siblings;"
            )
            echo(f"inf: no usage yet. Usage halves every {days:g} days.")
        else:
            echo(f"The lab's policy is {data['policy']}: this tree does not order the queue.")
            echo(f"Usage halves every {days:g} days.")

    run(url, token, call)


def register(app: typer.Typer) -> None:
    """Add the client commands to the top-level app."""
    app.command("submit", context_settings={"allow_interspersed_args": False})(submit.submit)
    app.command("run", context_settings={"allow_interspersed_args": False})(interactive.run_job)
    app.command("notebook")(notebook.notebook)
    for command in (queue, show, cancel, logs, hold, release, requeue, history, nodes, share):
        app.command()(command)
    admin.register(app)


__all__ += ["safe"]
