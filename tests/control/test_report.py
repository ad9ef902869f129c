"""``aitc report``: figures from SQL aggregates, invoices that add up, real HTML and PDF."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seed import seed

from aitc.control.clock import FakeClock
from aitc.control.report import Period, RateCard, build_report, resolve_period
from aitc.control.report.fairness import fair_allocation, jain
from aitc.control.report.history import write_history
from aitc.control.report.queries import job_gpu_seconds
from aitc.control.report.render import write
from aitc.control.store import Store
from aitc.errors import ConfigError

DAY = 86400.0
RATES = RateCard("EUR", {"partner": 2.5, "education": 0.4})


def history(store: Store, jobs: int, seed_: int = 1) -> tuple[float, Period]:
    clock = FakeClock()
    seed(store, clock)
    now = clock.now()
    write_history(store, jobs=jobs, start=now - 28 * DAY, stop=now - DAY, seed=seed_)
    return now, Period(now - 14 * DAY, now)


def test_gpu_hours_add_up_across_organisation_project_and_member(store: Store) -> None:
    now, period = history(store, 400)
    with store.session(readonly=True) as s:
        report = build_report(session=s, period=period, now=now, rates=RATES)
        per_job = job_gpu_seconds(session=s, period=period, now=now)
    total = sum(seconds for _, seconds in per_job.values()) / 3600
    for name in ("usage_by_organisation", "usage_by_project", "usage_by_member"):
        table = report.table(name)
        hours = table.columns.index("gpu_hours")
        assert sum(float(r[hours] or 0) for r in table.rows) == pytest.approx(total)
    assert report.used_gpu_hours == pytest.approx(total)


def test_a_job_across_the_period_start_counts_only_its_hours_inside(store: Store) -> None:
    now, _ = history(store, 50)
    with store.session(readonly=True) as s:
        whole = job_gpu_seconds(session=s, period=Period(now - 60 * DAY, now), now=now)
        job_id, (_, seconds) = next(iter(sorted(whole.items())))
        from aitc.control.store.models import JobEventRow, JobRow

        job = s.get_one(JobRow, job_id)
        started = min(
            e.at for e in s.query(JobEventRow).filter_by(job_id=job_id, to_state="starting")
        )
        cut = started + 100.0
        part = job_gpu_seconds(session=s, period=Period(cut, now), now=now)
    weight = job.gpus if job.mig is None else 1 / 7
    assert part[job_id][1] == pytest.approx(seconds - 100.0 * weight)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    jobs=st.integers(min_value=0, max_value=60),
    seed_=st.integers(min_value=0, max_value=10_000),
    start_day=st.floats(min_value=1, max_value=30),
    length_days=st.floats(min_value=0.1, max_value=30),
    rate=st.floats(min_value=0, max_value=1000, allow_nan=False),
)
def test_invoice_totals_equal_the_sum_of_per_job_charges(
    tmp_path_factory: pytest.TempPathFactory,
    jobs: int,
    seed_: int,
    start_day: float,
    length_days: float,
    rate: float,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('inv') / 'aitc.db'}")
    try:
        now, _ = history(store, jobs, seed_)
        period = Period(now - start_day * DAY, now - start_day * DAY + length_days * DAY)
        rates = RateCard("EUR", {"partner": rate})
        with store.session(readonly=True) as s:
            report = build_report(session=s, period=period, now=now, rates=rates)
            for invoice in report.invoices:
                per_job = job_gpu_seconds(session=s, period=period, now=now, org=invoice.org)
                charges = [seconds / 3600 * rate for _, seconds in per_job.values()]
                assert invoice.total == pytest.approx(math.fsum(charges), rel=1e-9, abs=1e-6)
                assert invoice.total == pytest.approx(sum(x.charge for x in invoice.lines))
                assert sum(x.jobs for x in invoice.lines) == len(per_job)
        assert {i.org for i in report.invoices} == {"acme", "globex"}  # the partners only
    finally:
        store.close()


def test_waits_are_nearest_rank_percentiles(store: Store) -> None:
    now, period = history(store, 300)
    with store.session(readonly=True) as s:
        report = build_report(session=s, period=period, now=now)
        from sqlalchemy import text

        rows = s.execute(
            text(
                "SELECT j.org_id, MIN(e.at) - j.submitted_at FROM job_events e "
                "JOIN jobs j ON j.id = e.job_id WHERE e.to_state = 'starting' "
                "GROUP BY j.id, j.org_id, j.submitted_at HAVING MIN(e.at) >= :a AND MIN(e.at) < :b"
            ),
            {"a": period.start, "b": period.end},
        ).all()
    for org, jobs, _mean, p50, p95 in report.table("waits_by_organisation").rows:
        waits = sorted(w for o, w in rows if o == org)
        assert len(waits) == jobs
        assert p50 == pytest.approx(waits[math.ceil(0.5 * len(waits)) - 1] / 60)
        assert p95 == pytest.approx(waits[math.ceil(0.95 * len(waits)) - 1] / 60)


def test_fair_allocation_shares_capacity_by_weight_up_to_demand() -> None:
    fair = fair_allocation(100.0, {"a": 1, "b": 1, "c": 2}, {"a": 10.0, "b": 80.0, "c": 80.0})
    # a is capped at 10; b and c share the other 90 in 1:2.
    assert fair == pytest.approx({"a": 10.0, "b": 30.0, "c": 60.0})
    assert fair_allocation(100.0, {"a": 1, "b": 1}, {"a": 5.0, "b": 0.0}) == {"a": 5.0, "b": 0.0}
    assert jain([1.0, 1.0]) == 1.0 and jain([1.0, 0.0]) == 0.5


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"period": "2 weeks"}, "period"),
        ({"period": "0d"}, "period"),
        ({"start": "yesterday"}, "from"),
        ({"start": "2026-11-02", "end": "2026-11-01"}, "from"),
        ({"end": "noon"}, "to"),
        ({"start": "2026-11-02", "period": "2w"}, "period"),
    ],
)
def test_a_bad_period_names_the_option(options: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as e:
        resolve_period(now=2e9, **options)
    assert e.value.field == field


def test_from_and_to_are_utc_dates() -> None:
    p = resolve_period(now=2e9, start="2026-11-02", end="2026-11-16")
    assert p.seconds == 14 * DAY and p.label() == "2026-11-02 00:00 UTC to 2026-11-16 00:00 UTC"


def test_the_api_serves_the_report_to_admins_only(store: Store) -> None:
    from seed import seed as seed_store

    clock = FakeClock()
    tokens = seed_store(store, clock)
    write_history(store, jobs=50, start=clock.now() - 10 * DAY, stop=clock.now(), seed=3)
    api = Api(store, clock, tokens)
    r = api.client.get("/api/v1/report?period=2w", headers=api.auth("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    names = [t["name"] for t in body["tables"]]
    assert names[:3] == ["usage_by_organisation", "usage_by_project", "usage_by_member"]
    assert "invoices" in names and body["allocated_gpu_hours"] > 0
    assert api.client.get("/api/v1/report", headers=api.auth("pat")).status_code == 403
    bad = api.client.get("/api/v1/report?period=fortnight", headers=api.auth("admin"))
    assert bad.status_code == 422 and "period" in bad.text


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    store = Store.open(f"sqlite:///{out / 'aitc.db'}")
    now, period = history(store, 300)
    with store.session(readonly=True) as s:
        report = build_report(session=s, period=period, now=now, rates=RATES)
    write(report, out / "out")
    store.close()
    return out / "out"


def test_every_table_has_a_csv_with_its_columns(written: Path) -> None:
    header = (written / "invoices.csv").read_text().splitlines()[0]
    assert header == "organisation,project,jobs,gpu_hours,rate,charge"
    assert len(list(written.glob("*.csv"))) == 10


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Chromium")
def test_the_html_opens_in_real_chromium(written: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    args = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu"]
    dom = subprocess.run(
        [*args, "--dump-dom", (written / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Chargeback invoices" in dom and dom.count("data:image/png;base64,") == 3
    subprocess.run(
        [
            *args,
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            (written / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (pdftoppm)")
def test_the_pdf_renders(written: Path, tmp_path: Path) -> None:
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(written / "report.pdf"), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 5 and all(p.stat().st_size > 1000 for p in pages)
