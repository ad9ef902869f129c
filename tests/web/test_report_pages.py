"""The report pages and the overview's 14 days show the report package's figures, never
their own: the biweekly report of a fortnight (prepared off the request, then kept), its
tables page by page, the invoices, and GPUs busy per organisation and day."""

from __future__ import annotations

from datetime import UTC, datetime

from page_harness import Pages
from page_harness import pages_fixture as pages_fixture  # noqa: F401 (the pages fixture)

from aitc.control.report import RateCard, build_report
from aitc.control.report.history import write_history
from aitc.control.report.queries import org_gpu_seconds
from aitc.control.report.render import fmt, headline
from aitc.control.store.directory import put_member
from aitc.control.web.reportpages import fortnight
from aitc.control.web.usage import day_periods
from aitc.domain.org import Member, Role

DAY = 86400.0
RATES = RateCard("EUR", {"research": 1.10, "partner": 2.90, "education": 0.80})


def with_history(pages: Pages) -> Pages:
    """Seventy more members in uni's vision project, and 600 finished jobs over 30 days."""
    t = pages.clock.now()
    with pages.store.session() as s:
        for i in range(70):
            member = Member(f"m{i:02d}", f"M {i}", "", "uni", Role.MEMBER, ("vision",))
            put_member(session=s, member=member)
    write_history(pages.store, jobs=600, start=t - 30 * DAY, stop=t - 3600, seed=3)
    pages.app.state.rate_card = RATES
    return pages


def ready(pages: Pages, path: str, **params: object) -> str:
    """The page once its figures are computed (first asked, then read from the kept ones)."""
    admin = pages.visitor("admin")
    first = admin.get(path, **params)
    assert first.status_code == 200
    pages.figures_ready()
    return str(admin.get(path, **params).text)


def test_the_report_is_prepared_off_the_request_then_shows_the_reports_figures(
    pages: Pages,
) -> None:
    with_history(pages)
    first = pages.visitor("admin").get("/reports", back=1)
    assert "is being prepared" in first.text and 'data-refresh="2"' in first.text
    page = ready(pages, "/reports", back=1)
    period, t = fortnight(pages.clock.now(), 1), pages.clock.now()
    with pages.store.session() as s:
        report = build_report(session=s, period=period, now=t, rates=RATES)
    for name, value in headline(report):
        assert f"<dt>{name}</dt><dd>{value}</dd>" in page, name
    assert page.count('src="data:image/png;base64,') == 3
    members = report.table("usage_by_member")
    assert len(members.rows) > 20 and f"All {len(members.rows)} rows" in page


def test_a_reports_table_is_shown_page_by_page(pages: Pages) -> None:
    with_history(pages)
    ready(pages, "/reports", back=1)
    page = ready(pages, "/reports/tables/usage_by_member", back=1, page=2)
    with pages.store.session() as s:
        report = build_report(
            session=s, period=fortnight(pages.clock.now(), 1), now=pages.clock.now(), rates=RATES
        )
    rows = report.table("usage_by_member").rows
    row = "".join(f"<td>{fmt(c)}</td>" for c in rows[50])  # the first row of page 2
    assert row in page and "".join(f"<td>{fmt(c)}</td>" for c in rows[0]) not in page
    assert f"page 2 of {-(-len(rows) // 50)}" in page


def test_invoices_follow_the_rate_card(pages: Pages) -> None:
    with_history(pages)
    page = ready(pages, "/reports/invoices", back=1)
    with pages.store.session() as s:
        report = build_report(
            session=s, period=fortnight(pages.clock.now(), 1), now=pages.clock.now(), rates=RATES
        )
    assert report.invoices
    for invoice in report.invoices:
        assert f"Invoice of {invoice.org}" in page
        assert f"<strong>{fmt(invoice.total)}</strong>" in page


def test_only_admins_see_the_reports(pages: Pages) -> None:
    for member in ("alice", "carol", "pat"):
        visitor = pages.visitor(member)
        assert visitor.get("/reports").status_code == 403
        assert visitor.get("/reports/invoices").status_code == 403
        assert 'href="/reports"' not in visitor.get("/").text


def test_the_overview_shows_gpus_busy_per_organisation_over_14_days(pages: Pages) -> None:
    with_history(pages)
    page = ready(pages, "/")
    days = day_periods(pages.clock.now())
    assert len(days) == 14 and "(today, so far)" in page
    yesterday = days[-2]
    with pages.store.session() as s:
        used = org_gpu_seconds(session=s, period=yesterday, now=pages.clock.now())
    assert used
    label = f'<th scope="row">{datetime.fromtimestamp(yesterday.start, UTC):%d %b}</th>'
    row = page.split(label, 1)[1].split("</tr>", 1)[0]
    orgs = page.split("Day (UTC)</th>", 1)[1].split("</tr>", 1)[0]
    for org, seconds in used.items():
        column = orgs.count("<th", 0, orgs.index(f">{org}<"))
        cells = row.split("<td>")[1:]
        assert cells[column - 1].startswith(f"{seconds / DAY:.1f}"), (org, cells)
    assert "<svg" in page and 'role="img"' in page and page.count("<rect ") >= len(used)
    assert "Share received vs entitlement" in page and "40.0 %" in page  # uni: 2 of 5 shares


def test_a_day_is_computed_anew_once_it_has_ended(pages: Pages) -> None:
    t = pages.clock.now()  # 22:13 UTC
    midnight = t - t % DAY + DAY
    ready(pages, "/")  # today so far: nothing yet
    write_history(pages.store, jobs=50, start=t, stop=midnight - 600, seed=4)
    pages.clock.advance(midnight + 3600 - t)  # 01:00 the next day
    pages.visitor("admin", again=True)
    page = ready(pages, "/")
    day = day_periods(pages.clock.now())[-2]  # the day that has just ended
    with pages.store.session() as s:
        used = org_gpu_seconds(session=s, period=day, now=pages.clock.now())
    label = f'<th scope="row">{datetime.fromtimestamp(day.start, UTC):%d %b}</th>'
    cells = page.split(label, 1)[1].split("</tr>", 1)[0]
    assert used and f"<td>{max(used.values()) / DAY:.1f}</td>" in cells
