"""``aitc course lab`` and ``aitc course assess``: a learner's lab and the course's assessment
(see docs/courses.md, "Learner labs" and "Assessment"). Thin: call the API, print."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import Rows, echo, print_json, when

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

JsonOpt = typer.Option(False, "--json", help="Print the API's JSON instead of text.")
WAIT_POLL_S = 2.0


def _say_lab(lab: dict[str, Any], session_id: int) -> None:
    where = f" on {lab['host']}" if lab["host"] else ""
    echo(f"session {session_id}: your lab is {lab['state']} (job {lab['job']}{where})")
    if lab["url"]:
        echo(f"connect: {lab['url']}")
    if lab["state"] == "starting":
        echo("it waits for its seat or for its server to answer; ask again in a moment")
    elif lab["state"] == "warned":
        echo(f"idle: it stops at {when(lab['stops_at'])} unless you use it")
    elif lab["state"] == "ready":
        echo(f"it stops if left idle until {when(lab['stops_at'])}")
    elif lab["state"] == "stopped":
        echo(f"stopped {when(lab['stopped_at'])}: {lab['stop_reason']}")
        echo(f"start it again with: aitc course lab {session_id} --start")


def _labs_table(labs: list[dict[str, Any]], session_id: int) -> None:
    table = Rows(
        ("member", "state", "job", "at", "reached", "last active", "stops", "why stopped"),
        title=f"Labs of session {session_id}",
        right=frozenset({"job"}),
    )
    for lab in labs:
        at = f"{lab['host']}:{lab['port']}" if lab["host"] else "-"
        stops = when(lab["stopped_at"] or lab["stops_at"])
        table.add(
            lab["member"], lab["state"], lab["job"], at, when(lab["reached_at"]),
            when(lab["last_active_at"]), stops, lab["stop_reason"] or "-",
        )  # fmt: skip
    table.print()


def lab(
    session_id: int = typer.Argument(..., help="The session's number."),
    start: bool = typer.Option(
        False, "--start", help="Start your lab again (after it stopped) while the session is on."
    ),
    show_all: bool = typer.Option(
        False, "--all", help="Every lab of the session, without tokens (its instructors)."
    ),
    as_json: bool = JsonOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Your lab in a session and its connect URL (with your own token; keep it to yourself)."""

    def call(client: ApiClient) -> None:
        subject = f"session {session_id}"
        if show_all:
            data = client.request("GET", f"/course-sessions/{session_id}/labs", subject=subject)
            return print_json(data) if as_json else _labs_table(data["data"], session_id)
        method = "POST" if start else "GET"
        # no subject: a 404 then says why (no lab yet, or no such session), not only "not found"
        found = client.request(method, f"/course-sessions/{session_id}/lab")
        return print_json(found) if as_json else _say_lab(found, session_id)

    run(url, token, call)


def _result(run_: dict[str, Any]) -> str:
    if run_["state"] == "running":
        return f"{run_['member']}: being assessed (job {run_['job']})"
    code = run_["exit_code"]
    how = f"exit code {code}" if code is not None else "no exit code"
    cause = run_["cause"] or ""
    if cause and not cause.startswith("exited with code"):  # a time limit, a cancel: say it
        how += f"; {cause}"
    return f"{run_['member']}: {run_['state']} ({how})"


def assess(
    session_id: int = typer.Argument(..., help="The session's number."),
    member: list[str] = typer.Option(
        [],
        "--member",
        help="A learner to assess (repeat; instructors). Default: you, or for the session's "
        "instructors every learner on a seat without a result.",
    ),
    wait: bool = typer.Option(False, "--wait", help="Wait for the results and print them."),
    as_json: bool = JsonOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Run the course's assessment command on the learners' seats, as each learner: exit code 0
    passes, anything else fails. Their labs give up the seat while it runs."""

    def call(client: ApiClient) -> None:
        path, subject = f"/course-sessions/{session_id}/assessments", f"session {session_id}"
        runs = client.request("POST", path, json={"members": member}, subject=subject)["data"]
        ids = {r["id"] for r in runs}
        while wait and any(r["state"] == "running" for r in runs):
            time.sleep(WAIT_POLL_S)
            runs = [
                r for r in client.request("GET", path, subject=subject)["data"] if r["id"] in ids
            ]
        if as_json:
            return print_json({"data": runs, "count": len(runs)})
        for r in runs:
            echo(_result(r))
        echo(f"session {session_id}: {len(runs)} assessment(s)")

    run(url, token, call, fields={"members": "--member"})


def register(course_app: typer.Typer) -> None:
    """Add ``lab`` and ``assess`` to ``aitc course``."""
    course_app.command("lab")(lab)
    course_app.command("assess")(assess)
