"""The lab rules as a table: nothing before the no-show deadline (the no-show minutes after the
seat became the learner's, never earlier than the grace after the lab first answered); then a
never-reached lab's seat goes to the waitlist when someone waits; an idle lab is warned at the
limit less the warning, stopped at the limit; GPU samples count only where NVML reports
utilisation."""

from __future__ import annotations

import pytest

from aitc.control.courses.labrules import (
    LabFacts,
    Verdict,
    gpu_busy_samples,
    no_show_deadline,
    stops_at,
    verdict,
)
from aitc.domain.courselab import NO_SHOW_GRACE_MIN, LabRules, check_rules
from aitc.errors import ConfigError

RULES = LabRules(no_show_min=15, idle_limit_min=30, idle_warning_min=5)
M = 60.0


def lab(
    *,
    reached: bool = True,
    active: float = 0.0,
    warned: bool = False,
    seated: float = 0.0,
    ready: float | None = 0.0,
) -> LabFacts:
    return LabFacts(
        seated_at=seated, ready_at=ready, reached=reached, last_active_at=active, warned=warned
    )


@pytest.mark.parametrize(
    ("facts", "now", "waits", "expected"),
    [
        (lab(reached=False), 14 * M, True, Verdict.KEEP),  # still inside the no-show minutes
        (lab(reached=False), 15 * M, True, Verdict.RECLAIM),
        (lab(reached=False), 15 * M, False, Verdict.KEEP),  # nobody waits: only idle rules
        (lab(reached=True), 15 * M, True, Verdict.KEEP),  # reached: never reclaimed
        (lab(active=10 * M), 34 * M, False, Verdict.KEEP),
        (lab(active=10 * M), 35 * M, False, Verdict.WARN),  # 25 idle minutes: 30 less 5
        (lab(active=10 * M, warned=True), 35 * M, False, Verdict.KEEP),  # warned once
        (lab(active=10 * M, warned=True), 40 * M, False, Verdict.STOP),
        (lab(reached=False), 30 * M, False, Verdict.STOP),  # never reached, nobody waited
    ],
)
def test_the_rule_that_applies(facts: LabFacts, now: float, waits: bool, expected: Verdict) -> None:
    assert verdict(facts, RULES, now, someone_waits=waits) is expected


def test_no_lab_is_stopped_for_idleness_inside_the_no_show_minutes() -> None:
    short = LabRules(no_show_min=15, idle_limit_min=2, idle_warning_min=1)
    assert verdict(lab(), short, 14 * M, someone_waits=False) is Verdict.KEEP
    assert verdict(lab(), short, 15 * M, someone_waits=False) is Verdict.STOP
    assert stops_at(lab(), short) == 15 * M
    assert stops_at(lab(active=20 * M), short) == 22 * M


@pytest.mark.parametrize(
    ("facts", "deadline"),
    [
        (lab(reached=False, ready=0.0), 15 * M),  # answered at the start
        (lab(reached=False, ready=40.0), 15 * M),  # 40 s late: still the start's 15 minutes
        (lab(reached=False, ready=14 * M), 16 * M),  # very late: the grace after it answered
        (lab(reached=False, seated=30 * M, ready=30.5 * M), 45 * M),  # seated from the waitlist
        (lab(reached=False, ready=None), None),  # not answered yet: no deadline
    ],
)
def test_the_no_show_clock_starts_with_the_seat_and_leaves_a_grace_after_the_lab_answers(
    facts: LabFacts, deadline: float | None
) -> None:
    assert NO_SHOW_GRACE_MIN == 2
    assert no_show_deadline(facts, RULES) == deadline
    if deadline is not None:
        assert verdict(facts, RULES, deadline - 1, someone_waits=True) is Verdict.KEEP
        assert verdict(facts, RULES, deadline, someone_waits=True) is Verdict.RECLAIM
    else:
        assert verdict(facts, RULES, 99 * M, someone_waits=True) is Verdict.KEEP


def test_the_grace_is_never_longer_than_the_no_show_minutes() -> None:
    short = LabRules(no_show_min=0.5)
    assert no_show_deadline(lab(ready=0.0), short) == 30.0
    assert no_show_deadline(lab(ready=100.0), short) == 130.0


def test_gpu_samples_above_idle_count_only_where_utilisation_is_reported() -> None:
    assert gpu_busy_samples(10, 0.3) == 7
    assert gpu_busy_samples(10, 1.0) == 0
    assert gpu_busy_samples(10, None) == 0  # a MIG slice: NVML reports no utilisation


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (LabRules(no_show_min=-1), "no_show_min"),
        (LabRules(idle_limit_min=0), "idle_limit_min"),
        (LabRules(idle_limit_min=5, idle_warning_min=5), "idle_warning_min"),
        (LabRules(assessment_limit_min=0), "assessment_limit_min"),
    ],
)
def test_limits_that_cannot_work_are_refused_naming_the_field(rules: LabRules, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_rules(rules)
    assert caught.value.field == field
