"""`aitc lab` commands: check a lab description and apply it to the store."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from aitc.cli.output import Rows, config_failure
from aitc.domain.lab import Lab

if TYPE_CHECKING:
    from aitc.control.courses.calendar import CalendarStatus
from aitc.domain.org import Role
from aitc.errors import ConfigError, ConfigErrors, each_error

app = typer.Typer(no_args_is_help=True)
SHOWN_PROBLEMS = 5  # accounts named one by one in `aitc lab check`; the rest are counted


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="The lab description to check (lab.yaml)."),
) -> None:
    """Validate a lab.yaml (and its roster) and print a summary of the lab.

    The same validation as ``aitc serve --lab`` and ``aitc sim --lab``, policy parameters
    included. Exits 0 when the lab is valid. Otherwise prints every error on stderr, one line
    each naming the file, line, field and reason (e.g. ``aitc: lab.yaml:14:
    organisations[2].share: must be > 0``; an unknown key names the closest allowed one),
    and exits 2.
    """
    lab = load_lab_or_exit(file)
    render_lab(lab, Console())
    report_accounts(lab, Console())


def load_lab_or_exit(path: Path) -> Lab:
    """The lab at ``path``; if it is not valid, every error on stderr and exit 2."""
    from aitc.plan.lab import load_lab

    try:
        return load_lab(path)
    except ConfigError as e:
        config_failure(e)


def report_accounts(lab: Lab, console: Console) -> None:
    """Say which members' Unix accounts do not resolve on this machine (jobs would be refused)."""
    from aitc.control.accounts import check_accounts

    problems = check_accounts(lab.members)
    resolved = len(lab.members) - len(problems)
    console.print(f"Unix accounts: {resolved} of {len(lab.members)} members resolve here")
    for p in problems[:SHOWN_PROBLEMS]:
        console.print(f"  [yellow]warning[/]: {p}", highlight=False, markup=True, soft_wrap=True)
    if len(problems) > SHOWN_PROBLEMS:
        console.print(f"  … and {len(problems) - SHOWN_PROBLEMS} more")
    if problems:
        console.print("  their jobs are refused until the accounts exist (LDAP/SSSD, or")
        console.print("  `aitc lab apply --create-unix-users` on a single host)")


def render_lab(lab: Lab, console: Console) -> None:
    """The summary that ``aitc lab check`` prints: cluster, organisations, roles, courses.

    The tables fit the terminal; piped, they are plain columns with every cell in full
    (``aitc.cli.output.Rows``)."""
    console.print(f"[bold green]valid[/] lab [bold]{lab.name}[/]")
    console.print(_cluster_line(lab))
    _organisations_table(lab).print()
    quota = sum(o.quota or 0 for o in lab.organisations)
    console.print(f"guaranteed quota: {quota} of {lab.cluster.total_gpus} GPUs")
    roles = Counter(m.role for m in lab.members)
    console.print(
        f"Members: {len(lab.members)} ("
        + ", ".join(f"{roles[r]} {r.value}" for r in Role if roles[r])
        + ")"
    )
    if lab.courses:
        _courses_table(lab).print()
    if lab.calendar:
        console.print(_calendar_line(lab), highlight=False, soft_wrap=True)
    params = ", ".join(f"{k}={v}" for k, v in lab.policy.params.items())
    console.print(f"Policy: [bold]{lab.policy.name}[/]" + (f" ({params})" if params else ""))


def _cluster_line(lab: Lab) -> str:
    c = lab.cluster
    ra = c.reference_architecture or "custom"
    models = ", ".join(c.gpu_models) or "no GPUs"
    return (
        f"Cluster: [bold]{ra}[/] — {len(c)} nodes, {c.total_gpus} GPUs ({models}), "
        f"{len(c.sus())} scalable unit(s)"
    )


def _organisations_table(lab: Lab) -> Rows:
    counts = Counter(m.org for m in lab.members)
    numbers = ("share", "quota", "borrow", "projects", "members")
    table = Rows(("id", "kind", *numbers), title="Organisations", right=frozenset(numbers))
    for o in lab.organisations:
        table.add(
            o.id,
            o.kind.value,
            f"{o.share:g}",
            _opt(o.quota),
            _opt(o.borrow_limit),
            len(o.projects),
            counts[o.id],
        )
    return table


def _courses_table(lab: Lab) -> Rows:
    columns = ("id", "org", "instructor", "seats", "MIG profile")
    table = Rows(columns, title="Courses", right=frozenset({"seats"}))
    for c in lab.courses:
        table.add(c.id, c.org, c.instructor or "-", c.seats, c.mig_profile or "whole GPUs")
    return table


def _calendar_line(lab: Lab) -> str:
    """The course programme in one line: sessions, courses, seats, first start to last end."""
    starts = [datetime.fromisoformat(s.start) for s in lab.calendar]
    ends = [t + timedelta(hours=s.hours) for t, s in zip(starts, lab.calendar, strict=True)]
    courses = len({s.course for s in lab.calendar})
    seats = sum(s.seats for s in lab.calendar)
    return (
        f"Calendar: {len(lab.calendar)} session(s) of {courses} course(s), {seats:,} seats, "
        f"{min(starts):%Y-%m-%d %H:%M} to {max(ends):%Y-%m-%d %H:%M} (local time)"
    )


def _opt(value: int | None) -> str:
    return "-" if value is None else str(value)


@app.command("apply")
def apply(
    file: Path = typer.Argument(..., help="The lab description to apply (lab.yaml)."),
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="AITC_DATABASE_URL",
        help="Database URL (default: STATE_DIR/aitc.db, the file `aitc serve` uses; "
        "PostgreSQL: postgresql+psycopg://user@host/db).",
    ),
    state_dir: Path = typer.Option(
        Path("var"),
        "--state-dir",
        help="Where `aitc serve` keeps its state (for the default --db).",
    ),
    create_unix_users: bool = typer.Option(
        False,
        "--create-unix-users",
        help="Create the members' missing Unix accounts with useradd (no password; as root). "
        "Accounts are never deleted.",
    ),
    home_root: Path = typer.Option(
        Path("/home"),
        "--home-root",
        help="Where --create-unix-users puts the new accounts' home directories.",
    ),
    calendar: bool = typer.Option(
        True,
        "--calendar/--no-calendar",
        help="Make the calendar's sessions what lab.yaml plans: create, update and remove "
        "them (--no-calendar: leave the sessions as they are).",
    ),
    prune_enrolled: bool = typer.Option(
        False,
        "--prune-enrolled",
        help="Also remove calendar sessions no longer planned that have learners enrolled or "
        "waitlisted: each is cancelled with their enrolments (without it, such a session is "
        "refused by name and nothing is stored).",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print what the apply would change and store nothing (the apply runs whole, the "
        "engine's checks included, and is rolled back).",
    ),
) -> None:
    """Sync a lab into the store: organisations, projects, members, courses and the
    calendar's sessions; print the changes.

    Idempotent: running it again with the same file changes nothing. Members, projects and
    organisations that the file no longer lists are disabled, never deleted, so their jobs and
    history stay. The calendar is declarative: a planned session not in the store is created
    with its seats reserved, as its instructor would create it; one planned otherwise
    (hours, seats, waitlist, instructors, place) is updated in place; one no longer planned
    is removed with its reservation, unless learners are enrolled (refused, or cancelled with
    their enrolments under --prune-enrolled). A session moved to another start is removed and
    created. Sessions made by hand, and sessions that have started, are never touched.
    Everything is one transaction: when a session cannot be created, updated or removed
    (seats the engine cannot guarantee, fewer seats than learners enrolled, learners
    enrolled in a session no longer planned), each such session is named with the reason on
    stderr, nothing is stored, and the exit status is 1. Exits 2 when the file is invalid.
    """
    lab = load_lab_or_exit(file)
    if dry_run and create_unix_users:
        typer.echo(
            "aitc: --dry-run: cannot be combined with --create-unix-users (accounts are "
            "created outside the store); `aitc lab check` names the missing ones",
            err=True,
        )
        raise typer.Exit(2)
    from aitc.control.accounts import create_missing_accounts
    from aitc.control.serve import private_state_dir

    changes: list[str] = []
    if create_unix_users:
        try:
            changes += create_missing_accounts(lab.members, home_root=home_root)
        except ConfigError as e:
            typer.echo(f"aitc: {e}", err=True)
            raise typer.Exit(1) from None
    private_state_dir(state_dir)
    url = db or f"sqlite:///{(state_dir / 'aitc.db').resolve()}"
    try:
        applied, status = _apply(url, lab, calendar, prune_enrolled, dry_run)
    except ConfigError as e:
        config_failure(_in_file(e, file), code=1)
    changes += applied
    for line in changes:
        typer.echo(line)
    for line in status.kept:
        typer.echo(line)
    if lab.calendar or status.kept or status.pending:
        typer.echo(status.line())
    if dry_run:
        planned = f"{len(changes)} change(s) planned" if changes else "up to date"
        typer.echo(f"{lab.name}: {planned}; nothing stored (--dry-run)")
        return
    typer.echo(f"{lab.name}: {len(changes)} change(s)" if changes else f"{lab.name}: up to date")


class _RolledBack(Exception):
    """Ends a dry run's transaction without storing it."""


def _apply(
    url: str, lab: Lab, calendar: bool, prune_enrolled: bool, dry_run: bool
) -> tuple[list[str], CalendarStatus]:
    """Apply ``lab`` in one transaction (rolled back for a dry run): the changes in words and
    where the calendar stands after them."""
    from aitc.control.clock import SystemClock
    from aitc.control.courses.calendar import calendar_status
    from aitc.control.store import Store, apply_lab

    store = Store.open(url)
    now = SystemClock().now()
    try:
        with store.session() as session:
            changes = apply_lab(
                session=session,
                lab=lab,
                now=now,
                calendar=calendar,
                prune_enrolled=prune_enrolled,
            )
            status = calendar_status(session=session, lab=lab, now=now)
            if dry_run:
                raise _RolledBack
    except _RolledBack:
        pass
    finally:
        store.close()
    return changes, status


def _in_file(error: ConfigError, file: Path) -> ConfigErrors:
    """``error``'s lines, each naming the lab file it is about."""
    return ConfigErrors(
        [ConfigError(e.reason, file=str(file), field=e.field) for e in each_error(error)]
    )


def register(root: typer.Typer) -> None:
    """Add ``aitc lab`` to the top-level app."""
    root.add_typer(app, name="lab", help="Check and apply a lab description (lab.yaml).")
