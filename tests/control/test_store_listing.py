"""Lists a page at a time (members found by a part of their id, name or organisation,
tokens newest first) and GPU-seconds per organisation, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import replace

from seed import seed

from aitc.control.clock import FakeClock
from aitc.control.report import Period
from aitc.control.report.history import write_history
from aitc.control.report.queries import job_gpu_seconds, org_gpu_seconds
from aitc.control.store import Store
from aitc.control.store.directory import count_members, list_members
from aitc.control.store.tokens import count_tokens, list_tokens

DAY = 86400.0


def test_members_are_found_by_part_of_their_id_name_or_organisation(
    store: Store, clock: FakeClock
) -> None:
    seed(store, clock)
    with store.session() as s:
        assert [m.id for m, _ in list_members(session=s, search="acm")] == ["pat", "pia"]
        assert [m.id for m, _ in list_members(session=s, search="QUINN")] == ["quinn"]
        assert list_members(session=s, search="%") == []  # a wildcard is taken literally
        assert count_members(session=s, search="a") == len(list_members(session=s, search="a"))
        page = list_members(session=s, limit=3, offset=3)
        assert [(m.id, projects) for m, projects in page] == [
            ("carol", []), ("dave", ["course"]), ("erin", ["vision"]),
        ]  # fmt: skip
        assert count_members(session=s) == 9


def test_tokens_come_newest_first_a_page_at_a_time(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    with store.session() as s:
        every = [t.id for t in list_tokens(session=s)]
        newest = [t.id for t in list_tokens(session=s, limit=4, offset=2, newest_first=True)]
        assert newest == every[::-1][2:6]
        assert (
            count_tokens(session=s) == len(every) and count_tokens(session=s, member_id="pia") == 1
        )


def test_gpu_seconds_per_organisation_sum_the_jobs(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    t = clock.now()
    write_history(store, jobs=300, start=t - 10 * DAY, stop=t - 3600, seed=5)
    period = Period(t - 5 * DAY, t - 2 * DAY)
    with store.session() as s:
        by_org = org_gpu_seconds(session=s, period=period, now=t)
        jobs = job_gpu_seconds(session=s, period=period, now=t)
    summed: dict[str, float] = {}
    for org, seconds in jobs.values():
        summed[org] = summed.get(org, 0.0) + seconds
    assert by_org.keys() == {o for o, v in summed.items() if v}
    for org, seconds in by_org.items():
        assert abs(seconds - summed[org]) < 1e-6 * max(1.0, seconds)


def test_keyset_pages_are_the_offset_pages_in_both_orders(store: Store, clock: FakeClock) -> None:
    from aitc.control.store import JobSpec, create_job, list_jobs, load_caller
    from aitc.control.store.jobs import JobFilters

    seed(store, clock)
    with store.session() as s:
        alice = load_caller(session=s, member_id="alice")
        for _ in range(23):
            create_job(session=s, spec=JobSpec(command=("true",)), caller=alice, now=clock.now())
    with store.session() as s:
        for oldest_first in (False, True):
            plain = JobFilters(limit=5, oldest_first=oldest_first)
            pages = [
                [
                    j.id
                    for j in list_jobs(session=s, caller=alice, filters=replace(plain, offset=o))[0]
                ]
                for o in range(0, 25, 5)
            ]
            walked, after = [], None
            for _ in pages:
                rows, count = list_jobs(
                    session=s, caller=alice, filters=replace(plain, after_id=after)
                )
                walked.append([j.id for j in rows])
                after = rows[-1].id if rows else None
            assert walked == pages and count == 23
            back = replace(plain, before_id=pages[2][0])
            assert [j.id for j in list_jobs(session=s, caller=alice, filters=back)[0]] == pages[1]
