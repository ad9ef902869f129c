"""``aitc course``: courses, sessions, enrolment, results and certificates (see docs/courses.md).

Thin: parse, call the API (``aitc.control.apiclient``), render; ``verify``, ``revoke`` and
``render`` of a certificate live in ``aitc.cli.coursecert``.
"""

from __future__ import annotations

import csv
import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli import coursecert
from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import Rows, echo, print_json, usage, when
from aitc.cli.timespec import parse_moment

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

app = typer.Typer(no_args_is_help=True, help="Courses: sessions, enrolment and certificates.")
session_app = typer.Typer(no_args_is_help=True, help="Create and list a course's sessions.")
roster_app = typer.Typer(no_args_is_help=True, help="Import and show a session's roster.")
app.add_typer(session_app, name="session")
app.add_typer(roster_app, name="roster")
JsonOpt = typer.Option(False, "--json", help="Print the API's JSON instead of a table.")
MemberOpt = typer.Option(None, "--member", help="Another member (instructors and admins).")


def _time(flag: str, text: str) -> str:
    """An ISO 8601 time; without a UTC offset it is local time."""
    try:
        return parse_moment(text).isoformat()
    except ValueError as exc:
        usage(flag, str(exc))


def _through(expires_at: str) -> str:
    """The last day a certification is valid (it ends at the next UTC midnight), as
    ``aitc course instructor --expires`` takes it."""
    end = datetime.fromisoformat(expires_at).astimezone(UTC)
    return (end - timedelta(seconds=1)).date().isoformat()


def _seat(c: dict[str, Any]) -> str:
    return f"mig {c['mig_profile']}" if c["mig_profile"] else f"{c['gpus_per_seat']} GPU"


@app.command("list")
def course_list(
    as_json: bool = JsonOpt, url: str | None = UrlOpt, token: str | None = TokenOpt
) -> None:
    """The courses, their seat shape and certified instructors."""

    def call(client: ApiClient) -> None:
        data = client.request("GET", "/courses")
        if as_json:
            return print_json(data)
        table = Rows(
            ("id", "title", "org", "hours", "seat", "seats", "instructors"), title="Courses"
        )
        for c in data["data"]:
            people = ", ".join(
                i["member"] + (f" (through {_through(i['expires_at'])})" if i["expires_at"] else "")
                for i in c["instructors"]
            )
            table.add(
                c["id"], c["title"], c["org"], c["hours"], _seat(c), c["seats"], people or "-"
            )
        table.print()

    run(url, token, call)


@app.command("create")
def course_create(
    course_id: str = typer.Argument(..., help="The course's id."),
    title: str = typer.Option(..., "--title", help="Its title."),
    org: str = typer.Option(..., "--org", help="The organisation that runs it."),
    mig_profile: str | None = typer.Option(
        None, "--mig-profile", help="Each seat is one MIG slice of this profile."
    ),
    gpus_per_seat: int = typer.Option(
        1, "--gpus-per-seat", help="Else each seat is this many whole GPUs."
    ),
    seats: int = typer.Option(0, "--seats", help="Default seats per session."),
    hours: float = typer.Option(3.0, "--hours", help="Length in hours (on the certificate)."),
    description: str = typer.Option("", "--description", help="What it teaches."),
    criteria: str = typer.Option("", "--criteria", help="What a learner must do to pass."),
    lab_command: str = typer.Option(
        "",
        "--lab-command",
        help="The learner's lab instead of a Jupyter server (a command line, split as a shell "
        "would; no shell runs it).",
    ),
    assessment_command: str = typer.Option(
        "",
        "--assessment-command",
        help="The assessment, run as the learner on their seat (exit 0: passed), e.g. "
        "\"sh -c 'pytest -q ~/exercise'\".",
    ),
    no_show_min: float | None = typer.Option(
        None,
        "--no-show-min",
        help="A lab not reached this many minutes after the session's start (or after its "
        "learner got the seat from the waitlist) gives its seat to the first waitlisted learner "
        "(default 15; never sooner than 2 minutes after the lab first answered).",
    ),
    idle_limit_min: float | None = typer.Option(
        None, "--idle-limit-min", help="A lab idle this many minutes is stopped (default 30)."
    ),
    idle_warning_min: float | None = typer.Option(
        None,
        "--idle-warning-min",
        help="Its learner is warned this many minutes before (default 5).",
    ),
    assessment_limit_min: float | None = typer.Option(
        None, "--assessment-limit-min", help="Time limit of one assessment run (default 15)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Create or update a course (admins)."""
    body = {
        "id": course_id, "title": title, "org": org, "mig_profile": mig_profile,
        "gpus_per_seat": gpus_per_seat, "seats": seats, "hours": hours,
        "description": description, "criteria": criteria,
        "lab_command": _argv("--lab-command", lab_command),
        "assessment_command": _argv("--assessment-command", assessment_command),
    }  # fmt: skip
    limits = {
        "no_show_min": no_show_min, "idle_limit_min": idle_limit_min,
        "idle_warning_min": idle_warning_min, "assessment_limit_min": assessment_limit_min,
    }  # fmt: skip
    body.update({k: v for k, v in limits.items() if v is not None})

    def call(client: ApiClient) -> None:
        c = client.request("POST", "/courses", json=body, subject=f"course {course_id}")
        echo(f"course {c['id']}: {c['title']}, seats of {_seat(c)}")

    run(
        url,
        token,
        call,
        fields={
            "mig_profile": "--mig-profile",
            "seats": "--seats",
            "org": "--org",
            **{k: "--" + k.replace("_", "-") for k in limits},
        },
    )


def _argv(flag: str, line: str) -> list[str]:
    """A command line as its arguments, split as a shell would (quotes kept together)."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        usage(flag, f"cannot split {line!r}: {exc}")


@app.command("instructor")
def course_instructor(
    course_id: str = typer.Argument(..., help="The course's id."),
    member: str = typer.Argument(..., help="The instructor's member id."),
    expires: str | None = typer.Option(
        None, "--expires", help="Last day of the certification (YYYY-MM-DD)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Certify an instructor to teach a course (admins)."""

    def call(client: ApiClient) -> None:
        client.request(
            "POST",
            f"/courses/{course_id}/instructors",
            json={"member": member, "expires": expires},
            subject=f"course {course_id}",
        )
        echo(
            f"{member} certified to teach {course_id}" + (f" through {expires}" if expires else "")
        )

    run(url, token, call, fields={"expires": "--expires"})


def _sessions_table(sessions: list[dict[str, Any]]) -> None:
    table = Rows(
        ("id", "course", "start", "end", "seats", "enrolled", "waitlisted", "instructors", "where"),
        title="Sessions",
        right=frozenset({"id", "seats", "enrolled", "waitlisted"}),
    )
    for s in sessions:
        where = "remote" if s["remote"] else (s["location"] or "-")
        where = "cancelled" if s.get("cancelled") else where
        table.add(
            s["id"],
            s["course"],
            when(s["start"]),
            when(s["end"]),
            s["seats"],
            s["enrolled"],
            s["waitlisted"],
            ", ".join(s["instructors"]),
            where,
        )
    table.print()


@session_app.command("create")
def session_create(
    course_id: str = typer.Argument(..., help="The course's id."),
    start: str = typer.Option(
        ..., "--start", help="Start (ISO 8601; local time without an offset)."
    ),
    end: str = typer.Option(..., "--end", help="End (ISO 8601)."),
    seats: int | None = typer.Option(None, "--seats", help="Seats (default: the course's)."),
    instructor: list[str] = typer.Option(
        [], "--instructor", help="An instructor (repeat; default: you)."
    ),
    org: str | None = typer.Option(
        None, "--org", help="The organisation billed (default: the course's)."
    ),
    location: str = typer.Option("", "--location", help="Where it takes place."),
    remote: bool = typer.Option(False, "--remote", help="Taught remotely."),
    waitlist: int | None = typer.Option(
        None, "--waitlist", help="Waitlist places (default: as many as seats)."
    ),
    cancel_deadline: str | None = typer.Option(
        None,
        "--cancel-deadline",
        help="Last time members may cancel (default: a day before the start).",
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Create nothing: replay recorded load in the twin with and without the session "
        "and print what it would cost research (extra wait per organisation).",
    ),
    weeks: int = typer.Option(
        2, "--weeks", help="With --check: weeks of recorded load to replay (1-8, default 2)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Create a session: its seats are reserved in the scheduler, or it is refused with why
    (--check: what it would cost research, creating nothing)."""
    body: dict[str, Any] = {
        "course": course_id, "start": _time("--start", start), "end": _time("--end", end),
        "seats": seats, "instructors": instructor, "org": org, "location": location,
        "remote": remote, "waitlist": waitlist,
        "cancel_deadline": _time("--cancel-deadline", cancel_deadline) if cancel_deadline else None,
    }  # fmt: skip

    def call(client: ApiClient) -> None:
        if check:
            checked = client.request(
                "POST", "/course-sessions/check", json={**body, "weeks": weeks},
                subject=f"course {course_id}",
            )  # fmt: skip
            return coursecert.print_check(checked)
        s = client.request("POST", "/course-sessions", json=body, subject=f"course {course_id}")
        echo(
            f"session {s['id']} of {s['course']}: {s['seats']} seats reserved "
            f"({s['reservation']}), {when(s['start'])} to {when(s['end'])}"
        )

    run(
        url,
        token,
        call,
        fields={
            "seats": "--seats",
            "start": "--start",
            "end": "--end",
            "instructors": "--instructor",
            "org": "--org",
            "weeks": "--weeks",
        },
    )


@session_app.command("list")
def session_list(
    course: str | None = typer.Option(None, "--course", help="Only this course's sessions."),
    as_json: bool = JsonOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """The sessions by start, with seats taken and the waitlist."""

    def call(client: ApiClient) -> None:
        data = client.request(
            "GET", "/course-sessions", params={"course": course} if course else {}
        )
        return print_json(data) if as_json else _sessions_table(data["data"])

    run(url, token, call)


def _enrolments(rows: list[dict[str, Any]], title: str) -> None:
    table = Rows(("member", "state", "via", "since"), title=title)
    for e in rows:
        table.add(e["member"], e["state"], e["source"], when(e["updated_at"]))
    table.print()


@app.command("enrol")
def enrol(
    session_id: int = typer.Argument(..., help="The session's number."),
    member: str | None = MemberOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Enrol in a session: a seat if one is free, else the waitlist."""

    def call(client: ApiClient) -> None:
        e = client.request(
            "POST",
            f"/course-sessions/{session_id}/enrolments",
            json={"member": member},
            subject=f"session {session_id}",
        )
        echo(f"{e['member']}: {e['state']} in session {session_id}")

    run(url, token, call)


@app.command("cancel")
def cancel(
    session_id: int = typer.Argument(..., help="The session's number."),
    member: str | None = MemberOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Cancel an enrolment (before the deadline); the first waitlisted member takes the seat."""

    def call(client: ApiClient) -> None:
        done = client.request(
            "POST",
            f"/course-sessions/{session_id}/cancel",
            json={"member": member},
            subject=f"session {session_id}",
        )
        for e in done["data"]:
            echo(f"{e['member']}: {e['state']} in session {session_id}")

    run(url, token, call)


def _read_roster(path: Path) -> list[str]:
    """Member ids from a CSV with a ``member`` (or ``id``) column."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            column = next((c for c in ("member", "id") if c in (reader.fieldnames or [])), None)
            if column is None:
                usage(str(path), "needs a header line with a 'member' (or 'id') column")
            return [row[column].strip() for row in reader if (row.get(column) or "").strip()]
    except OSError as exc:
        usage(str(path), exc.strerror or str(exc))


@roster_app.command("import")
def roster_import(
    session_id: int = typer.Argument(..., help="The session's number."),
    file: Path = typer.Argument(..., help="CSV with a 'member' (or 'id') column."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Enrol everyone on a roster, in order, all or nothing (the session's instructors)."""
    members = _read_roster(file)

    def call(client: ApiClient) -> None:
        done = client.request(
            "POST",
            f"/course-sessions/{session_id}/roster",
            json={"members": members},
            subject=f"session {session_id}",
        )
        states = [e["state"] for e in done["data"]]
        enrolled, waiting = states.count("enrolled"), states.count("waitlisted")
        echo(f"session {session_id}: {enrolled} enrolled, {waiting} waitlisted")

    run(url, token, call, fields={"members": str(file)})


@roster_app.command("show")
def roster_show(
    session_id: int = typer.Argument(..., help="The session's number."),
    as_json: bool = JsonOpt,
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """The session's enrolments in order (a member sees their own)."""

    def call(client: ApiClient) -> None:
        data = client.request(
            "GET", f"/course-sessions/{session_id}/enrolments", subject=f"session {session_id}"
        )
        return print_json(data) if as_json else _enrolments(data["data"], f"Session {session_id}")

    run(url, token, call)


@app.command("result")
def result(
    session_id: int = typer.Argument(..., help="The session's number."),
    member: str = typer.Argument(..., help="The learner."),
    outcome: str = typer.Argument(..., help="attended, passed or failed."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Record a learner's result once the session has started (the session's instructors)."""

    def call(client: ApiClient) -> None:
        e = client.request(
            "POST",
            f"/course-sessions/{session_id}/results",
            json={"member": member, "result": outcome},
            subject=f"session {session_id}",
        )
        echo(f"{e['member']}: {e['state']} in session {session_id}")

    run(url, token, call)


@app.command("certify")
def certify(
    session_id: int = typer.Argument(..., help="The session's number."),
    out: Path = typer.Option(Path("."), "--out", help="Directory to write each credential into."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Issue signed Open Badges 3.0 credentials to the session's passed learners and write them."""

    def call(client: ApiClient) -> None:
        done = client.request(
            "POST", f"/course-sessions/{session_id}/certificates", subject=f"session {session_id}"
        )
        out.mkdir(parents=True, exist_ok=True)
        for credential in done["data"]:
            path = out / f"{credential['id'].removeprefix('urn:uuid:')}.json"
            path.write_text(json.dumps(credential, indent=2, ensure_ascii=False) + "\n")
            echo(f"wrote {path}")
        echo(f"session {session_id}: {done['count']} credential(s)")

    run(url, token, call)


def register(root: typer.Typer) -> None:
    from aitc.cli import courselab  # lab and assess, kept in their own module

    courselab.register(app)
    coursecert.register(app)
    root.add_typer(app, name="course")
