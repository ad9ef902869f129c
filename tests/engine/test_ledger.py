"""The usage ledger: decayed usage per level of the tree, attained service, late events."""

import math

import pytest
from engine_builders import job
from hypothesis import given, settings
from hypothesis import strategies as st

from aitc.domain.job import Priority
from aitc.engine.ledger import UsageLedger
from aitc.errors import SchedulingError


def test_usage_is_kept_per_organisation_project_and_member():
    ledger = UsageLedger(float("inf"))
    a = job("u1", 2, org="lab", project="llm", member="ada")
    b = job("u2", 1, org="lab", project="vision", member="bob")
    ledger.job_started(a, 0.0)
    ledger.job_started(b, 10.0)
    usage = ledger.usage(20.0)
    assert usage.orgs == {"lab": 50.0}
    assert usage.projects == {("lab", "llm"): 40.0, ("lab", "vision"): 10.0}
    assert usage.members[("lab", "vision", "bob")] == 10.0
    assert ledger.holding() == {"lab": 3.0}


def test_a_late_stop_counts_exactly_as_an_on_time_one():
    on_time, late = UsageLedger(100.0), UsageLedger(100.0)
    x, y = job("l1", 1), job("l2", 1)
    for ledger in (on_time, late):
        ledger.job_started(x, 0.0)
    on_time.job_stopped(x.id, 50.0)
    on_time.job_started(y, 80.0)
    late.job_started(y, 80.0)
    late.job_stopped(x.id, 50.0)  # reported after a later event
    assert late.usage(200.0).orgs["ai-institute"] == pytest.approx(
        on_time.usage(200.0).orgs["ai-institute"]
    )


def test_attained_service_adds_up_across_preemptions():
    ledger = UsageLedger(3600.0)
    x = job("att", 4)
    ledger.job_started(x, 0.0)
    ledger.job_stopped(x.id, 100.0)
    ledger.job_started(x, 500.0)
    assert ledger.attained(x.id, 600.0) == 800.0
    assert ledger.last_stopped(x.id) == 100.0


def test_preemptible_running_jobs_are_counted():
    ledger = UsageLedger(3600.0)
    p = job("pre", 1, priority=Priority.PREEMPTIBLE)
    ledger.job_started(p, 0.0)
    assert ledger.preemptible_running() == 1
    ledger.job_stopped(p.id, 5.0)
    assert ledger.preemptible_running() == 0


def test_stopping_a_job_twice_or_forgetting_a_running_one_is_an_error():
    ledger = UsageLedger(3600.0)
    x = job("twice", 1)
    ledger.job_started(x, 0.0)
    with pytest.raises(SchedulingError, match="still running"):
        ledger.forget(x.id)
    ledger.job_stopped(x.id, 1.0)
    with pytest.raises(SchedulingError, match="not running"):
        ledger.job_stopped(x.id, 2.0)
    ledger.forget(x.id)
    assert ledger.attained(x.id, 3.0) == 0.0


def test_the_half_life_halves_old_usage():
    ledger = UsageLedger(60.0)
    x = job("half", 1)
    ledger.job_started(x, 0.0)
    ledger.job_stopped(x.id, 60.0)
    assert ledger.usage(60.0).orgs["ai-institute"] == pytest.approx(60 / math.log(2) / 2)
    assert ledger.usage(120.0).orgs["ai-institute"] == pytest.approx(60 / math.log(2) / 4)


def plain_holding(ledger: UsageLedger) -> dict[str, float]:
    """``holding`` as first written: a scan of every account, organisations picked out."""
    accounts = ledger._accounts
    return {k[0]: a.rate for k, a in accounts.items() if len(k) == 1 and a.rate > 1e-9}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from([0, 1, 2, 8]), st.booleans()),
        max_size=30,
    )
)
def test_holding_from_the_organisation_index_equals_a_scan_of_every_account(events):
    ledger = UsageLedger(100.0)
    running: list = []
    for n, (org, gpus, stop) in enumerate(events):
        if stop and running:
            ledger.job_stopped(running.pop(0).id, float(n))
        else:
            mig = "1g.10gb" if gpus == 0 else None
            request = job(f"h{n}", gpus, org=org, member=f"m{n % 3}", mig=mig)
            ledger.job_started(request, float(n))
            running.append(request)
        assert ledger.holding() == plain_holding(ledger)
