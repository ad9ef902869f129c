"""``aitc submit``: a job as sbatch users expect it.

- ``aitc submit job.sh ARGS`` runs a batch script (a file whose first line is ``#!``) with its
  ``#!`` interpreter, as sbatch does, and reads the ``#SBATCH`` and ``#AITC`` lines of its
  header as flags (``directives.py``); flags on the command line override them. Its text goes
  with the job, which runs it as submitted whatever becomes of the file, as sbatch's copy
  (``aitc.control.batchscript``);
- ``--time`` takes Slurm's formats (a bare number means minutes) and aitc's ``2h``/``90m``;
- the working directory is where ``aitc submit`` ran, unless ``--chdir DIR`` (``--workdir``);
- ``--export`` as sbatch's: ``ALL`` (the default) sends the submitter's environment minus
  ``EXPORT_DENY``; ``NONE`` sends nothing; ``VAR,VAR=value`` sends those (``ALL,VAR=value``:
  everything and those); ``--env K=V`` adds to any of them;
- ``--array 0-99%10`` submits one job per task (at most 10 running at once), ``--hold`` submits
  held;
- ``-o/--output`` and ``-e/--error`` write the job's output to files of the member's, as sbatch's
  (``logs/%x-%j.out``); the patterns go unexpanded, the server expands them when the job starts,
  and a relative path is taken from the working directory;
- ``--dependency afterok:12[:13],singleton`` waits for other jobs in Slurm's syntax (``after``
  with ``+MIN``, ``afterany``, ``afternotok``, ``aftercorr``; ``,`` or ``?``); the engine decides
  when;
- ``--begin 16:00`` (``now+1hour``, ``tomorrow``, ``2027-03-01T09:00``, sbatch's forms) keeps
  the job pending until then; the time is read here, once, and sent as a moment.
"""

from __future__ import annotations

import os
import re
import time as clock
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer._click.core import ParameterSource

from aitc.cli import directives
from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import echo, usage
from aitc.cli.timespec import parse_begin, parse_time_limit
from aitc.control.batchscript import MAX_SCRIPT_BYTES
from aitc.domain.mailtype import MailTypes
from aitc.errors import ConfigError

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

# Never exported by --export=ALL: the client's own token and settings, and what belongs to the
# submitter's shell or login session rather than to the job.
EXPORT_DENY = re.compile(
    r"^(AITC_.*|PWD|OLDPWD|SHLVL|_|PS[1-4]|PROMPT_COMMAND|SSH_.*|DISPLAY|XAUTHORITY"
    r"|WAYLAND_DISPLAY|XDG_SESSION_.*|XDG_RUNTIME_DIR|XDG_SEAT|XDG_VTNR|DBUS_SESSION_BUS_ADDRESS"
    r"|SESSION_MANAGER|TERM|COLORTERM|TERM_PROGRAM.*|TMUX|TMUX_PANE|STY|WINDOW|KRB5CCNAME"
    r"|GPG_AGENT_INFO|MAIL|COLUMNS|LINES|HISTFILE|HISTSIZE|HISTFILESIZE|LS_COLORS)$"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFAULTS = (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)
# What the API calls a field and the flag that sets it, for errors that name the flag.
FLAGS = {
    "gpus": "--gpus",
    "mig": "--mig",
    "nodes": "--nodes",
    "time_limit": "--time",
    "project": "--project",
    "priority": "--priority",
    "name": "--name",
    "gpu_model": "--gpu-model",
    "env": "--export/--env",
    "workdir": "--chdir",
    "array": "--array",
    "dependency": "--dependency",
    "begin_at": "--begin",
    "signal": "--signal",
    "output": "--output",
    "error": "--error",
    "open_mode": "--open-mode",
    "mail_type": "--mail-type",
    "mail_user": "--mail-user",
    "command": "COMMAND",
    "script": "COMMAND",
}


def exported(spec: str, environ: Mapping[str, str], what: str = "--export") -> dict[str, str]:
    """The variables ``--export spec`` sends, from the submitter's ``environ`` (errors name
    ``what``: the flag, or the script line that gave it)."""
    out: dict[str, str] = {}
    for item in (i.strip() for i in spec.split(",")):
        name, sep, value = item.partition("=")
        if item.upper() == "ALL":
            out.update({k: v for k, v in environ.items() if _exportable(k, v)})
        elif item.upper() == "NONE" or not item:
            continue
        elif not _NAME.fullmatch(name):
            usage(what, f"{name!r} is not a variable name (give ALL, NONE or VAR,VAR=value)")
        elif sep:
            out[name] = value
        elif name in environ:
            out[name] = environ[name]
    return out


def _exportable(name: str, value: str) -> bool:
    if EXPORT_DENY.match(name) or not _NAME.fullmatch(name):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # not text the API can carry
        return False
    return "\x00" not in value


def _env(pairs: list[str], what: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            usage(what, f"{pair!r} is not KEY=VALUE")
        out[key] = value
    return out


# The flags `aitc submit` and `aitc run` share (one definition each).
ProjectOpt = typer.Option(None, "--project", "-p", help="Project to charge.")
GpusOpt = typer.Option(None, "--gpus", "-g", help="Whole GPUs (default 1).")
MigOpt = typer.Option(None, "--mig", help="One MIG slice, e.g. 1g.10gb.")
NodesOpt = typer.Option(None, "--nodes", "-N", help="Spread over N nodes.")
TimeOpt = typer.Option(
    None, "--time", "-t", help="Time limit: minutes, HH:MM:SS, D-HH:MM, 2h, 90m."
)
PriorityOpt = typer.Option("standard", "--priority", help="guaranteed, standard or preemptible.")
NameOpt = typer.Option("", "--name", "-n", "--job-name", "-J", help="A name for the job.")
GpuModelOpt = typer.Option(None, "--gpu-model", help="e.g. H100-80GB.")
EnvOpt = typer.Option([], "--env", "-e", help="KEY=VALUE, repeatable.")
ExportOpt = typer.Option(
    "ALL", "--export", help="ALL (default, minus a deny-list), NONE, or VAR,VAR=value."
)
ChdirOpt = typer.Option(
    None, "--chdir", "-D", "--workdir", help="Working directory (default: where you run aitc)."
)
DependencyOpt = typer.Option(
    None,
    "--dependency",
    "-d",
    help="Wait for other jobs: after:ID[+MIN], afterok:ID[:ID], afternotok:ID, afterany:ID, "
    "aftercorr:ARRAY, singleton; joined by ',' (all must hold) or '?' (any one). "
    "ID: a job, an array (judged whole; also ARRAY_*), ARRAY_TASK or ARRAY_[1-3].",
)

BeginOpt = typer.Option(
    None,
    "--begin",
    "-b",
    help="Start no earlier than this: HH:MM[:SS] (the next such time), YYYY-MM-DD[THH:MM], "
    "now+N[minutes|hours|days], midnight, noon, fika, teatime, today, tomorrow.",
)


# The parameters of `aitc submit` that ``job_body`` turns into the API's body.
BODY_PARAMS = (
    *("command", "project", "gpus", "mig", "nodes", "time", "priority", "name", "gpu_model"),
    *("env", "export", "chdir", "dependency", "signal"),
)


def job_body(
    *,
    command: list[str],
    project: str | None,
    gpus: int | None,
    mig: str | None,
    nodes: int | None,
    time: str | None,
    priority: str,
    name: str,
    gpu_model: str | None,
    env: list[str],
    export: str,
    chdir: str | None,
    dependency: str | None,
    names: Mapping[str, str] | None = None,
    signal: str | None = None,
) -> dict[str, Any]:
    """The API's ``JobCreate`` body from the shared flags (usage errors name the flag, or what
    ``names`` calls it: the script line that gave it)."""
    if gpus is not None and mig is not None:
        usage(_what("--gpus", names), "give --gpus or --mig, not both")
    body: dict[str, Any] = {
        "command": command,
        "project": project,
        "gpus": gpus,
        "mig": mig,
        "nodes": nodes,
        "priority": priority,
        "name": name,
        "gpu_model": gpu_model,
        "env": {
            **exported(export, os.environ, _what("--export", names)),
            **_env(env, _what("--env", names)),
        },
        "workdir": os.path.abspath(os.path.join(os.getcwd(), chdir or "")),
        "time_limit": _time(time, _what("--time", names)),
        "dependency": dependency,
        "signal": signal,
    }
    return {k: v for k, v in body.items() if v not in (None, "", {})}


def submit(
    ctx: typer.Context,
    command: list[str] = typer.Argument(
        ...,
        help="The program and its arguments (after --), or a batch script and its arguments.",
    ),
    project: str | None = ProjectOpt,
    gpus: int | None = GpusOpt,
    mig: str | None = MigOpt,
    nodes: int | None = NodesOpt,
    time: str | None = TimeOpt,
    priority: str = PriorityOpt,
    name: str = NameOpt,
    gpu_model: str | None = GpuModelOpt,
    env: list[str] = typer.Option([], "--env", help="KEY=VALUE, repeatable."),
    export: str = ExportOpt,
    chdir: str | None = ChdirOpt,
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write the job's output to this file of yours, as sbatch: %j job number, %A "
        "array, %a task, %x name, %u user, %N first node, %% a %; relative to the working "
        "directory (default: aitc keeps it, see aitc logs).",
    ),
    error: str | None = typer.Option(
        None,
        "--error",
        "-e",
        help="Write the job's errors to this file of yours (patterns as --output; default: "
        "with --output, into its file).",
    ),
    open_mode: str | None = typer.Option(
        None,
        "--open-mode",
        help="append or truncate the --output/--error files (default: truncate, append "
        "when a requeued job starts again).",
    ),
    array: str | None = typer.Option(
        None, "--array", "-a", help="A job array: 0-99, 1,3,5, 0-15:4; %N runs N at once."
    ),
    hold: bool = typer.Option(False, "--hold", "-H", help="Submit held (aitc release starts it)."),
    dependency: str | None = DependencyOpt,
    begin: str | None = BeginOpt,
    wait: bool = typer.Option(
        False,
        "--wait",
        "-W",
        help="Return only when the job (every task of an array) has ended, with its exit code.",
    ),
    signal: str | None = typer.Option(
        None,
        "--signal",
        help="A signal before the time limit, to checkpoint: [B:]SIG[@SECONDS], e.g. USR1@300 "
        "(60 s if left out; B: the main process only); needs --time.",
    ),
    mail_type: str | None = typer.Option(
        None,
        "--mail-type",
        help="E-mail when the job changes, as sbatch: NONE, ALL (BEGIN,END,FAIL,REQUEUE) or "
        "a list of BEGIN, END, FAIL, REQUEUE, TIME_LIMIT, TIME_LIMIT_90/_80/_50, ARRAY_TASKS.",
    ),
    mail_user: str | None = typer.Option(
        None,
        "--mail-user",
        help="Where the mail goes (default: your address in the lab; only an admin may "
        "name another).",
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Submit a job to the cluster and print its number.

    A batch script (first line #!) runs with its #! interpreter, as with sbatch;
    the #SBATCH and #AITC lines of its header are read as flags, and flags given
    here override them.

    Example: aitc submit --gpus 4 --time 2:00:00 -- python train.py --epochs 3

    Example: aitc submit job.sh --epochs 3
    """
    # The parameters above define the flags; their values come from the command line and the
    # script together.
    params, names = _with_script(ctx)
    body = job_body(**{key: params[key] for key in BODY_PARAMS}, names=names)
    extra = (
        ("hold", params["hold"] or None),
        ("array", params["array"]),
        ("output", params["output"]),
        ("error", params["error"]),
        ("open_mode", _open_mode(params["open_mode"], _what("--open-mode", names))),
        ("begin_at", begin_at(params["begin"], _what("--begin", names))),
        ("mail_type", _mail_type(params["mail_type"], _what("--mail-type", names))),
        ("mail_user", params["mail_user"]),
    )
    body.update({k: v for k, v in extra if v is not None})
    if "script" in params:
        body["script"] = params["script"]

    code = 0

    def call(client: ApiClient) -> None:
        nonlocal code
        job = client.submit(body)
        held = " (held)" if job.get("held") else ""
        if job.get("array_job_id") is not None:
            count = client.request("GET", "/jobs", params={"array": job["id"], "limit": 1})
            throttle = job.get("array_throttle")
            at_once = f", at most {throttle} running at once" if throttle else ""
            echo(
                f"submitted array job {job['id']}: {count['count']} tasks{at_once}{held} "
                f"to project {job['project']}"
            )
        else:
            echo(f"submitted job {job['id']} ({job['state']}){held} to project {job['project']}")
        if params["wait"]:
            code = wait_for_end(client, job)

    fields = {field: names.get(flag, flag) for field, flag in FLAGS.items()}
    run(params["url"], params["token"], call, fields=fields)
    raise typer.Exit(code)


ENDED = ("completed", "failed", "cancelled", "timeout")
WAIT_POLL_S = 1.0


def wait_for_end(client: ApiClient, job: dict[str, Any], poll_s: float = WAIT_POLL_S) -> int:
    """Wait until ``job`` (every task, if it starts an array) has ended, as ``sbatch --wait``
    does; say how it ended and return the exit status: the highest exit code of them, or 1 for
    one that ended without completing and without a code of its own."""
    array = job.get("array_job_id")
    while True:
        jobs = _array_tasks(client, array) if array is not None else [_job(client, job["id"])]
        if all(j["state"] in ENDED for j in jobs):
            break
        clock.sleep(poll_s)
    worst = min(max(_status(j) for j in jobs), 255)
    if array is None:
        code = jobs[0]["exit_code"]
        shown = "" if code is None else f" (exit code {code})"
        echo(f"job {job['id']} ended: {jobs[0]['state']}{shown}")
    else:
        states = Counter(j["state"] for j in jobs)
        counted = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        echo(f"array job {array} ended: {len(jobs)} tasks, {counted} (exit status {worst})")
    return worst


def _status(job: dict[str, Any]) -> int:
    """A job's exit code; 1 if it has none and did not complete (cancelled before it ran)."""
    code = job["exit_code"]
    return int(code) if code is not None else int(job["state"] != "completed")


def _job(client: ApiClient, job_id: int) -> dict[str, Any]:
    return dict(client.request("GET", f"/jobs/{job_id}", subject=f"job {job_id}"))


def _array_tasks(client: ApiClient, array: int) -> list[dict[str, Any]]:
    """Every task of an array, page by page (an array may hold 10,000)."""
    tasks: list[dict[str, Any]] = []
    while True:
        params = {"array": array, "limit": 1000, "offset": len(tasks)}
        page = client.request("GET", "/jobs", params=params)
        tasks += page["data"]
        if not page["data"] or len(tasks) >= page["count"]:
            return tasks


def _with_script(ctx: typer.Context) -> tuple[dict[str, Any], dict[str, str]]:
    """The parameters of the command line and, when its COMMAND is a batch script, of the
    script: its directives where the command line gave no flag, its interpreter in front; and
    how errors name the flags the script gave (``job.sh line 4``)."""
    params = dict(ctx.params)
    word = params["command"][0]
    try:
        script = directives.read_script(word)
        if script is None:
            return params, {}
        header = directives.read_header(script.directives, ctx.command)
    except ConfigError as exc:
        usage(f"{word} line {exc.line}", exc.reason)
    for line, warning in header.warnings:
        echo(f"aitc: {word} line {line}: {warning}", err=True)
    given = {k for k in params if ctx.get_parameter_source(k) not in _DEFAULTS}
    params, lines = directives.apply(header, params, given)
    params["command"] = script.command(params["command"][1:])
    params["script"] = {"text": _text(script.path, word), "path": str(script.path)}
    params["name"] = params["name"] or script.path.name  # sbatch's default: the script's name
    flag = {p.name: p.opts[0] for p in ctx.command.params if p.param_type_name == "option"}
    return params, {flag[name]: f"{word} line {line}" for name, line in lines.items()}


def _text(path: Path, word: str) -> str:
    """The script's text, sent with the job: the job runs it as it is now, as sbatch runs the
    copy it keeps, whatever becomes of the file."""
    try:
        data = path.read_bytes()
        if len(data) > MAX_SCRIPT_BYTES:
            usage(
                word,
                f"is {len(data):,} bytes; a batch script sent with its job holds at most "
                f"{MAX_SCRIPT_BYTES:,}; run the file itself instead, naming its interpreter "
                f"(`aitc submit FLAGS -- bash {word}`, its #SBATCH options given as FLAGS)",
            )
        return data.decode("utf-8")
    except UnicodeDecodeError:
        usage(word, "is not UTF-8 text (aitc sends a batch script's text with its job)")
    except OSError as exc:
        usage(word, f"cannot be read: {exc.strerror}")


def _what(flag: str, names: Mapping[str, str] | None) -> str:
    """How an error names ``flag``: as ``names`` says (the script line that gave it), else as
    itself."""
    return (names or {}).get(flag, flag)


def _open_mode(text: str | None, what: str) -> str | None:
    """sbatch's ``--open-mode``: append or truncate, known by the first letter as sbatch does."""
    if text is None:
        return None
    for mode in ("append", "truncate"):
        if text[:1].lower() == mode[0]:
            return mode
    usage(what, f"{text!r}: give append or truncate")


def _mail_type(text: str | None, what: str) -> str | None:
    """sbatch's ``--mail-type``, checked here so that a script's line is named; canonical."""
    if text is None:
        return None
    try:
        return str(MailTypes.parse(text))
    except ValueError as exc:
        usage(what, str(exc))


def begin_at(text: str | None, what: str) -> str | None:
    """A ``--begin`` time as the API takes it (ISO 8601 in UTC), read at this moment and
    in this machine's time zone (``usage`` naming ``what`` if it is wrong)."""
    if text is None:
        return None
    try:
        moment = parse_begin(text, clock.time())
    except ValueError as exc:
        usage(what, str(exc))
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _time(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    try:
        return parse_time_limit(text)
    except ValueError as exc:
        usage(what, str(exc))
