"""``aitc report``: usage and chargeback report for a period, from the store (HTML, CSV, PDF)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from aitc.cli.output import USAGE, config_failure, fail
from aitc.errors import AitcError, ConfigError


def report(
    period: str | None = typer.Option(
        None, "--period", help="Length ending now (or at --to): 2w, 14d, 36h. Default 2w."
    ),
    start: str | None = typer.Option(
        None, "--from", help="First day (ISO 8601, UTC): 2026-11-02 or 2026-11-02T08:00."
    ),
    end: str | None = typer.Option(None, "--to", help="End (ISO 8601, UTC); default now."),
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="AITC_DATABASE_URL",
        help="Database URL (default: SQLite file STATE_DIR/aitc.db).",
    ),
    state_dir: Path = typer.Option(Path("var"), "--state-dir", help="The server's state dir."),
    lab: Path | None = typer.Option(
        None, "--lab", help="lab.yaml whose costs.rate_card prices the invoices."
    ),
    out: Path = typer.Option(Path("report"), "--out", help="Directory to write into."),
    formats: str = typer.Option("html,csv,pdf", "--format", help="Any of html, csv, pdf."),
) -> None:
    """Write GPU-hours by organisation, project and member, share vs entitlement vs demand,
    waits, idle GPU-hours, reservations, course sessions (seats and GPU-hours) and partner
    invoices for a period."""
    try:
        written, headline = _run(period, start, end, db, state_dir, lab, out, formats)
    except ConfigError as exc:  # a wrong option, or every error of --lab's file
        config_failure(exc)
    except AitcError as exc:
        fail("report", str(exc), USAGE)
    console = Console()
    table = RichTable(show_header=False, box=None)
    for key, value in headline:
        table.add_row(key, value)
    console.print(table)
    for path in written:
        console.print(f"wrote {path}")


def _run(
    period: str | None,
    start: str | None,
    end: str | None,
    db: str | None,
    state_dir: Path,
    lab: Path | None,
    out: Path,
    formats: str,
) -> tuple[list[Path], list[tuple[str, str]]]:
    from aitc.control.report import build_report, rate_card_of, resolve_period
    from aitc.control.report.render import FORMATS, headline, write
    from aitc.control.serve import default_db_url
    from aitc.control.store import Store

    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ConfigError(
            f"{', '.join(unknown) or 'nothing'}: choose from html, csv, pdf", field="format"
        )
    now = time.time()
    window = resolve_period(now=now, period=period, start=start, end=end)
    url = db or default_db_url(state_dir)
    if not db and not (state_dir / "aitc.db").exists():
        raise ConfigError(
            f"no database at {state_dir / 'aitc.db'}; give --db or --state-dir", field="db"
        )
    rates = rate_card_of(_load_lab(lab)) if lab else None
    store = Store.open(url, upgrade=False)
    try:
        with store.session(readonly=True) as s:
            result = build_report(session=s, period=window, now=now, rates=rates)
    finally:
        store.close()
    return write(result, out, chosen), headline(result)


def _load_lab(path: Path) -> object:
    from aitc.plan.lab import load_lab

    return load_lab(path)


def register(app: typer.Typer) -> None:
    """Add ``aitc report`` to the top-level app."""
    app.command("report")(report)
