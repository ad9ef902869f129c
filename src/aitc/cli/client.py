"""`aitc submit`, `queue`, `show`, `cancel`, `logs`, `token` and `member`: the API client
commands.

Thin: parse, call ``aitc.control.apiclient``, render with rich. Errors print one line and exit
1 (server down, 401, 403, 404, 429, 503, 507) or 2 (the request is invalid: 422, a bad flag).

Every string a member chose (job names, commands, causes, reasons, token names) is shown through
``safe``: control characters are printed escaped (``\x1b``) and rich markup is inert, so a job
name cannot move the cursor, clear an admin's screen or plant a terminal hyperlink. ``aitc
logs`` is the exception: it prints the job's output as it is, like ``cat``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aitc.control.apiclient import ApiClient, ApiError, resolve

UrlOpt = typer.Option(
    None, "--url", help="Server URL (else AITC_URL, config.toml, http://127.0.0.1:8600)."
)
TokenOpt = typer.Option(None, "--token", help="API token (else AITC_TOKEN or config.toml).")
DURATION = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
console = Console()
# C0 controls (ESC, BEL, ...), DEL, C1 controls (CSI, OSC as single code points) and the
# bidirectional overrides that make text read other than it is.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object, *, markup: bool = True) -> str:
    """``text`` harmless for a terminal: control characters escaped and, for rich output
    (``markup``), rich markup escaped too."""
    plain = _UNSAFE.sub(_escaped, str(text))
    return escape(plain) if markup else plain


def _echo(text: str, *, err: bool = False) -> None:
    typer.echo(safe(text, markup=False), err=err)


def parse_duration(text: str) -> float:
    """Seconds in ``2h``, ``90m``, ``1h30m``, ``45s``, ``1d`` or a plain number of seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or DURATION.sub("", text):
        raise typer.BadParameter(f"{text!r} is not a duration like 2h, 90m or 1h30m")
    return sum(float(n) * UNITS[u] for n, u in DURATION.findall(text))


def _run(url: str | None, token: str | None, call: Callable[[ApiClient], None]) -> None:
    """Run ``call`` with a client; print an ``ApiError`` as one line and exit with its code."""
    try:
        client = ApiClient(resolve(url, token))
    except ApiError as exc:
        _echo(f"aitc: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    try:
        call(client)
    except ApiError as exc:
        _echo(f"aitc: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    finally:
        client.close()


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _gpus(job: dict[str, Any]) -> str:
    return safe(f"mig {job['mig']}") if job.get("mig") else str(job["gpus"])


def _env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        out[key] = value
    return out


def submit(
    command: list[str] = typer.Argument(..., help="The program and its arguments (after --)."),
    project: str | None = typer.Option(None, "--project", "-p", help="Project to charge."),
    gpus: int | None = typer.Option(None, "--gpus", "-g", help="Whole GPUs (default 1)."),
    mig: str | None = typer.Option(None, "--mig", help="One MIG slice, e.g. 1g.10gb."),
    nodes: int | None = typer.Option(None, "--nodes", "-N", help="Spread over N nodes."),
    time: str | None = typer.Option(None, "--time", "-t", help="Time limit: 2h, 90m, 1h30m."),
    priority: str = typer.Option(
        "standard", "--priority", help="guaranteed, standard or preemptible."
    ),
    name: str = typer.Option("", "--name", "-n", help="A name for the job."),
    gpu_model: str | None = typer.Option(None, "--gpu-model", help="e.g. H100-80GB."),
    env: list[str] = typer.Option([], "--env", "-e", help="KEY=VALUE, repeatable."),
    workdir: str | None = typer.Option(None, "--workdir", help="Absolute working directory."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Submit a job to the cluster and print its number.

    Example: aitc submit --gpus 4 --time 2h -- python train.py --epochs 3
    """
    if gpus is not None and mig is not None:
        raise typer.BadParameter("give --gpus or --mig, not both", param_hint="--gpus")
    body: dict[str, Any] = {
        "command": command,
        "project": project,
        "gpus": gpus,
        "mig": mig,
        "nodes": nodes,
        "priority": priority,
        "name": name,
        "gpu_model": gpu_model,
        "env": _env(env),
        "workdir": workdir,
        "time_limit": parse_duration(time) if time else None,
    }
    body = {k: v for k, v in body.items() if v not in (None, "", {})}

    def call(client: ApiClient) -> None:
        job = client.submit(body)
        _echo(f"submitted job {job['id']} ({job['state']}) to project {job['project']}")

    _run(url, token, call)


def queue(url: str | None = UrlOpt, token: str | None = TokenOpt) -> None:
    """The running jobs, then the pending ones in order, with why they wait."""

    def call(client: ApiClient) -> None:
        q = client.request("GET", "/queue")
        table = Table(title="Queue", title_justify="left")
        for col in ("id", "name", "member", "project", "gpus", "state", "since / why waiting"):
            table.add_column(col, justify="right" if col in ("id", "gpus") else "left")
        for job in q["running"]:
            table.add_row(*_who(job), _when(job["started_at"]))
        for job in q["pending"]:
            reasons = " ".join(r["message"] for r in job["pending_reasons"]) or "-"
            table.add_row(*_who(job), safe(reasons))
        console.print(table)

    _run(url, token, call)


def _who(job: dict[str, Any]) -> tuple[str, ...]:
    """The id, name, member, project, GPUs and state columns of a job row, made safe."""
    return (
        str(job["id"]),
        safe(job["name"]),
        safe(job["member"]),
        safe(job["project"]),
        _gpus(job),
        safe(job["state"]),
    )


def show(
    job_id: int = typer.Argument(..., help="The job's number."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """One job: what it asked for, where it runs, why it waits, and its history."""

    def call(client: ApiClient) -> None:
        job = client.request("GET", f"/jobs/{job_id}")
        events = client.request("GET", f"/jobs/{job_id}/events")["data"]
        console.print(_job_table(job))
        for r in job["pending_reasons"]:
            console.print(f"[yellow]waiting:[/] {safe(r['message'])}")
        if job["estimated_start"]:
            console.print(f"estimated start: {_when(job['estimated_start'])}")
        history = Table(title="History", title_justify="left")
        for col in ("time", "from", "to", "attempt", "cause"):
            history.add_column(col)
        for e in events:
            history.add_row(
                _when(e["at"]),
                safe(e["from_state"] or "-"),
                safe(e["to_state"]),
                str(e["attempt"]),
                safe(e["cause"]),
            )
        console.print(history)

    _run(url, token, call)


def _state(job: dict[str, Any]) -> str:
    stopping = job["cancel_requested"] and job["state"] in ("starting", "running")
    return safe(job["state"]) + (" (cancel requested)" if stopping else "")


def _job_table(job: dict[str, Any]) -> Table:
    title = f"Job {job['id']}: {safe(job['name'])}"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    placement = safe(
        ", ".join(
            f"{a['node']}:{a['mig'] or ','.join(map(str, a['gpus']))}"
            for a in job["placement"] or []
        )
        or "-"
    )
    rows = [
        ("state", _state(job)),
        ("member", safe(job["member"])),
        ("project", safe(f"{job['project']} ({job['organisation']})")),
        ("command", safe(" ".join(job["command"]))),
        ("gpus", _gpus(job)),
        ("priority", safe(job["priority"])),
        ("placement", placement),
        ("submitted", _when(job["submitted_at"])),
        ("started", _when(job["started_at"])),
        ("ended", _when(job["ended_at"])),
        ("exit code", "-" if job["exit_code"] is None else str(job["exit_code"])),
        ("attempts", str(job["attempt"])),
        ("cause", safe(job["cause"] or "-")),
    ]
    for key, value in sorted(job.get("env", {}).items()):
        rows.append((safe(f"env {key}"), safe(value)))
    for key, value in rows:
        table.add_row(key, value)
    return table


def cancel(
    job_id: int = typer.Argument(..., help="The job's number."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Cancel a job: a pending one at once, a running one as soon as it is stopped."""

    def call(client: ApiClient) -> None:
        job = client.request("POST", f"/jobs/{job_id}/cancel")
        note = " (stopping)" if job["cancel_requested"] and job["state"] != "cancelled" else ""
        _echo(f"job {job['id']}: {job['state']}{note}")

    _run(url, token, call)


def logs(
    job_id: int = typer.Argument(..., help="The job's number."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until it ends."),
    stderr: bool = typer.Option(False, "--stderr", help="Show standard error instead."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Print a job's output (its standard output unless --stderr)."""

    def call(client: ApiClient) -> None:
        stream = "stderr" if stderr else "stdout"
        for chunk in client.stream_logs(job_id, stream=stream, follow=follow):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

    _run(url, token, call)


token_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API tokens (admin).")


@token_app.command("create")
def token_create(
    member: str = typer.Argument(..., help="The member the token acts as."),
    name: str = typer.Option("", "--name", help="A label, e.g. the machine it lives on."),
    expires: str | None = typer.Option(
        None, "--expires", help="How long it is valid: 30d, 12h, ... (default: 90 days)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Create a token for a member and print it (it is shown only this once)."""
    body: dict[str, Any] = {"member": member, "name": name}
    if expires is not None:
        seconds = parse_duration(expires)
        if seconds <= 0:
            raise typer.BadParameter("must be longer than 0 s", param_hint="--expires")
        body["expires_in"] = seconds

    def call(client: ApiClient) -> None:
        created = client.request("POST", "/tokens", json=body)
        typer.echo(created["token"])
        _echo(
            f"token {created['id']} for {member}, valid until {_when(created['expires_at'])}: "
            "keep it now, it is not shown again",
            err=True,
        )

    _run(url, token, call)


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="The token's number (see `aitc token list`)."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Revoke a token: it stops working at once."""
    _run(
        url,
        token,
        lambda c: typer.echo(f"token {c.request('DELETE', f'/tokens/{token_id}')['id']} revoked"),
    )


@token_app.command("list")
def token_list(url: str | None = UrlOpt, token: str | None = TokenOpt) -> None:
    """List tokens (their prefixes, never their secrets)."""

    def call(client: ApiClient) -> None:
        table = Table(title="Tokens", title_justify="left")
        for col in ("id", "member", "name", "prefix", "created", "expires", "last used", "revoked"):
            table.add_column(col)
        for t in client.request("GET", "/tokens")["data"]:
            table.add_row(
                str(t["id"]),
                safe(t["member"]),
                safe(t["name"]),
                safe(t["prefix"]) + "…",
                _when(t["created_at"]),
                _when(t.get("expires_at")),
                _when(t.get("last_used_at")),
                _when(t["revoked_at"]),
            )
        console.print(table)

    _run(url, token, call)


member_app = typer.Typer(no_args_is_help=True, help="Disable and enable members (admin).")


@member_app.command("disable")
def member_disable(
    member: str = typer.Argument(..., help="The member's id."),
    stop_running: bool = typer.Option(
        False, "--stop-running", help="Also stop their running jobs (default: they run on)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Disable a member: their tokens stop working and their pending jobs are held."""

    def call(client: ApiClient) -> None:
        done = client.request(
            "POST", f"/members/{member}/disable", json={"stop_running": stop_running}
        )
        _echo(
            f"member {done['id']} disabled: {done['pending_held']} pending job(s) held, "
            f"{done['running_stopped']} running job(s) stopping"
        )

    _run(url, token, call)


@member_app.command("enable")
def member_enable(
    member: str = typer.Argument(..., help="The member's id."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Enable a member again: their held pending jobs are scheduled again."""
    _run(
        url,
        token,
        lambda c: _echo(f"member {c.request('POST', f'/members/{member}/enable')['id']} enabled"),
    )


def register(app: typer.Typer) -> None:
    """Add the client commands to the top-level app."""
    app.command("submit", context_settings={"allow_interspersed_args": False})(submit)
    for command in (queue, show, cancel, logs):
        app.command()(command)
    app.add_typer(token_app, name="token")
    app.add_typer(member_app, name="member")
