"""``aitc reservation``: create, list and delete reservations (admins; see docs/api.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import Rows, echo, print_json, usage, when
from aitc.cli.timespec import parse_duration, parse_moment

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

app = typer.Typer(
    no_args_is_help=True,
    help="Hold GPUs or MIG seats for an organisation from a start to an end (admin).",
)
FIELDS = {
    "id": "--id",
    "org": "ORG",
    "name": "--name",
    "start": "--start",
    "end": "--end",
    "gpus": "--gpus",
    "nodes": "--node",
    "mig_profile": "--mig",
    "mig_seats": "--seats",
}


def held(r: dict[str, Any]) -> str:
    """What a reservation holds, in words."""
    if r["mig_seats"]:
        return f"{r['mig_seats']} x MIG {r['mig_profile']}"
    on = f" on {','.join(r['nodes'])}" if r["nodes"] else ""
    return f"{r['gpus']} GPU{'s' if r['gpus'] != 1 else ''}{on}"


@app.command("create")
def create(
    org: str = typer.Argument(..., help="The organisation it is for."),
    start: str = typer.Option(
        ..., "--start", help="Start (ISO 8601; local time without an offset)."
    ),
    end: str | None = typer.Option(None, "--end", help="End (ISO 8601)."),
    duration: str | None = typer.Option(
        None, "--duration", help="Or its length from the start: 3h, 90m, 2d."
    ),
    gpus: int = typer.Option(0, "--gpus", help="Whole GPUs to hold."),
    node: list[str] = typer.Option(
        [], "--node", help="Hold these nodes (repeat; default: the engine chooses whole nodes)."
    ),
    mig: str | None = typer.Option(None, "--mig", help="Or MIG seats of this profile."),
    seats: int = typer.Option(0, "--seats", help="How many MIG seats (with --mig)."),
    name: str = typer.Option("", "--name", help="What it is for, e.g. a contract or an event."),
    reservation_id: str | None = typer.Option(
        None, "--id", help="Its id (default: the server draws res-…)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Reserve GPUs or MIG seats for an organisation (refused, with the scheduler's reason,
    when they cannot be guaranteed beside the other reservations)."""
    try:
        begin = parse_moment(start)
    except ValueError as exc:
        usage("--start", str(exc))
    if (end is None) == (duration is None):
        usage("--end", "give --end or --duration, one of them")
    try:
        stop = parse_moment(end).isoformat() if end else None
    except ValueError as exc:
        usage("--end", str(exc))
    if duration is not None:
        try:
            stop = (begin + timedelta(seconds=parse_duration(duration))).isoformat()
        except ValueError as exc:
            usage("--duration", str(exc))
    body = {
        "id": reservation_id, "org": org, "name": name, "start": begin.isoformat(), "end": stop,
        "gpus": gpus, "nodes": node, "mig_profile": mig, "mig_seats": seats,
    }  # fmt: skip

    def call(client: ApiClient) -> None:
        r = client.request("POST", "/reservations", json=body, subject=f"organisation {org}")
        echo(
            f"reservation {r['id']}: {held(r)} for {r['org']}, "
            f"{when(r['start'])} to {when(r['end'])}"
        )

    run(url, token, call, fields=FIELDS)


@app.command("list")
def list_(
    every: bool = typer.Option(False, "--all", help="Also those that have ended."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON instead."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """The reservations by start (those not ended yet, unless --all)."""

    def call(client: ApiClient) -> None:
        data = client.request("GET", "/reservations", params={"ended": every, "limit": 1000})
        if as_json:
            return print_json(data)
        table = Rows(("id", "org", "holds", "start", "end", "name", "course session"))
        for r in data["data"]:
            session = r["course_session"]
            table.add(
                r["id"], r["org"], held(r), when(r["start"]), when(r["end"]), r["name"] or "-",
                "-" if session is None else session,
            )  # fmt: skip
        table.print()

    run(url, token, call)


@app.command("delete")
def delete(
    reservation_id: str = typer.Argument(..., help="The reservation's id (aitc reservation list)."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Delete a reservation: its nodes are free at the scheduler's next pass."""

    def call(client: ApiClient) -> None:
        subject = f"reservation {reservation_id}"
        r = client.request("DELETE", f"/reservations/{reservation_id}", subject=subject)
        echo(f"reservation {r['id']} deleted")

    run(url, token, call)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="reservation")
