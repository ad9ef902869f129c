"""Writing a ``Report``: HTML (plots as PNG data URIs), a CSV per table, and a PDF."""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import logging
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages

from aitc.control.report.build import Cell, Report, Table
from aitc.control.report.period import iso
from aitc.control.report.plots import figures, png

FORMATS = ("html", "csv", "pdf")
MAX_HTML_ROWS = 40  # the member table can be long: the CSV has every row


def fmt(value: Cell) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def headline(report: Report) -> list[tuple[str, str]]:
    fairness = "–" if report.fairness_index is None else f"{report.fairness_index:.3f}"
    return [
        ("period", report.period.label()),
        ("capacity", f"{report.capacity_gpu_hours:,.1f} GPU-hours"),
        ("allocated", f"{report.used_gpu_hours:,.1f} GPU-hours ({100 * report.utilisation:.1f}%)"),
        ("demand-aware fairness (Jain over received/fair)", fairness),
        (
            "invoiced",
            ", ".join(f"{i.org} {i.total:,.2f} {i.currency}" for i in report.invoices) or "–",
        ),
    ]


def write(report: Report, out: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the chosen formats into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "html" in formats:
        written.append(out / "report.html")
        written[-1].write_text(to_html(report), encoding="utf-8")
    if "csv" in formats:
        written += write_csv(report, out)
    if "pdf" in formats:
        written.append(write_pdf(report, out / "report.pdf"))
    return written


def write_csv(report: Report, out: Path) -> list[Path]:
    paths = []
    for table in report.tables:
        path = out / f"{table.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(table.columns)
            w.writerows(["" if c is None else c for c in row] for row in table.rows)
        paths.append(path)
    return paths


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    shown = table.rows[:MAX_HTML_ROWS]
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>" for row in shown
    )
    more = len(table.rows) - len(shown)
    notes = [table.note] if table.note else []
    if more > 0:
        notes.append(f"{more} more rows in {table.name}.csv")
    if not table.rows:
        notes.append("nothing in this period")
    note = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    return (
        f'<section id="{table.name}"><h2>{html.escape(table.title)}</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}</section>"
    )


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;
text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f0f0f0}
.note{color:#666;font-size:.9em}img{max-width:100%}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}"""


def to_html(report: Report) -> str:
    """One self-contained page: headline figures, plots (PNG data URIs), every table."""
    facts = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in headline(report)
    )
    plots = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,'
        f'{base64.b64encode(png(fig)).decode()}"><figcaption>{html.escape(title)}</figcaption></figure>'
        for title, fig in figures(report)
    )
    tables = "".join(_html_table(t) for t in report.tables)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>aitc usage report {html.escape(report.period.label())}</title>"
        f"<style>{STYLE}</style></head><body><h1>Usage and chargeback report</h1>"
        f"<dl>{facts}</dl>{plots}{tables}"
        f'<p class="note">generated {iso(report.generated_at)} by aitc report</p></body></html>'
    )


def write_pdf(report: Report, path: Path) -> Path:
    """A PDF: a title page with the headline figures, a page per plot, pages of tables.

    Text is set in the PDF's standard fonts (Helvetica, Courier), which every reader has:
    nothing is embedded or subset, a quarter of the time and of the size."""
    title = f"aitc usage report {report.period.label()}"
    with _standard_fonts(), PdfPages(path, metadata={"Title": title}) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.text(0.08, 0.92, "Usage and chargeback report", fontsize=18, weight="bold")
        for i, (k, v) in enumerate(headline(report)):
            fig.text(0.08, 0.86 - 0.035 * i, f"{k}: {v}", fontsize=10, wrap=True)
        pdf.savefig(fig)
        plt.close(fig)
        for title, plot in figures(report):
            plot.suptitle(title)
            pdf.savefig(plot, bbox_inches="tight")
            plt.close(plot)
        for table in report.tables:
            _pdf_table(pdf, table)
    return path


@contextlib.contextmanager
def _standard_fonts() -> Iterator[None]:
    """The PDF's 14 standard fonts for everything drawn inside; matplotlib's notes that it
    takes their one weight for the one asked are not a problem to report."""
    fonts = logging.getLogger("matplotlib.font_manager")
    level = fonts.level
    fonts.setLevel(logging.ERROR)
    try:
        with plt.rc_context({"pdf.use14corefonts": True}):
            yield
    finally:
        fonts.setLevel(level)


def _pdf_table(pdf: PdfPages, table: Table, per_page: int = 60) -> None:
    """A table as fixed-width text (one text block per page: fast, and it stays text)."""
    rows = [[fmt(c) for c in row] for row in table.rows[: per_page * 2]]
    header = list(table.columns)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    for first in range(0, max(1, len(rows)), per_page):
        fig = plt.figure(figsize=(11.69, 8.27))
        title = table.title + (" (continued)" if first else "")
        fig.text(0.05, 0.94, title, fontsize=13, weight="bold")
        body = [line(header), "-" * len(line(header))]
        body += [line(r) for r in rows[first : first + per_page]] or ["nothing in this period"]
        if len(table.rows) > len(rows) and first + per_page >= len(rows):
            body.append(f"... {len(table.rows) - len(rows)} more rows in {table.name}.csv")
        fig.text(0.05, 0.9, "\n".join(body), family="monospace", fontsize=8, va="top")
        if table.note:
            fig.text(0.05, 0.03, table.note, fontsize=8)
        pdf.savefig(fig)  # type: ignore[no-untyped-call]
        plt.close(fig)
