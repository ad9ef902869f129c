"""`aitc lab` commands: check a lab description (and, later, apply it to the store)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console

from aitc.cli.output import Rows, config_failure
from aitc.domain.lab import Lab
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
        help="Create the calendar's sessions not created yet, their seats reserved "
        "(--no-calendar: leave the sessions as they are).",
    ),
) -> None:
    """Sync a lab into the store: organisations, projects, members, courses and the
    calendar's sessions; print the changes.

    Idempotent: running it again with the same file changes nothing. Members, projects and
    organisations that the file no longer lists are disabled, never deleted, so their jobs and
    history stay. Each calendar session that starts in the future and is not in the store is
    created with its seats reserved, as its instructor would create it; sessions are never
    changed or removed. Everything is one transaction: when the engine cannot guarantee a
    session's seats, each such session is named with the engine's reason on stderr, nothing
    is stored, and the exit status is 1. Exits 2 when the file is invalid.
    """
    from aitc.control.clock import SystemClock
    from aitc.control.courses.calendar import calendar_status
    from aitc.control.store import Store, apply_lab

    lab = load_lab_or_exit(file)
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
    store = Store.open(db or f"sqlite:///{(state_dir / 'aitc.db').resolve()}")
    now = SystemClock().now()
    try:
        with store.session() as session:
            changes += apply_lab(session=session, lab=lab, now=now, calendar=calendar)
            status = calendar_status(session=session, lab=lab, now=now)
    except ConfigError as e:
        config_failure(_in_file(e, file), code=1)
    finally:
        store.close()
    for line in changes:
        typer.echo(line)
    if lab.calendar:
        typer.echo(status.line())
    typer.echo(f"{lab.name}: {len(changes)} change(s)" if changes else f"{lab.name}: up to date")


def _in_file(error: ConfigError, file: Path) -> ConfigErrors:
    """``error``'s lines, each naming the lab file it is about."""
    return ConfigErrors(
        [ConfigError(e.reason, file=str(file), field=e.field) for e in each_error(error)]
    )
