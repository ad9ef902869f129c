"""What to do with a learner's lab now: the no-show and idle rules, pure (no store, no clock).

The keeper (``keeper.py``) gathers the facts of each lab and asks ``verdict``; the rules are:

1. Until the lab's no-show deadline nothing happens (a learner may take that long to connect,
   and no lab is stopped for idleness before it). The deadline is the course's no-show minutes
   after the seat became the learner's (the session's start, or when they got it from the
   waitlist during the session), but never earlier than ``no_show_grace_min`` after the lab
   first answered: a lab that was slow to start does not cost its learner the seat.
2. After it, a lab its learner never reached gives its seat to the first waitlisted learner,
   when one waits (``RECLAIM``).
3. A lab idle for the idle limit is stopped (``STOP``); idle for the limit less the warning
   minutes, it is warned once (``WARN``). Activity resets the idle time (``keeper`` records it).

Activity is what the learner's work does, not that a browser tab is open: Jupyter's own last
activity moving (an API call, a kernel message), a kernel busy now, or a GPU sample above idle
where NVML reports utilisation (``gpu_busy_samples``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aitc.domain.courselab import NO_SHOW_GRACE_MIN, LabRules

MINUTE = 60.0


class Verdict(StrEnum):
    KEEP = "keep"
    RECLAIM = "reclaim"
    WARN = "warn"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class LabFacts:
    """One lab as the keeper knows it at ``now``. ``seated_at``: when the seat became its
    learner's; ``ready_at``: when the lab first answered (None: not yet); ``reached``: whether
    its learner has reached it (or an earlier lab of theirs in the session)."""

    seated_at: float
    ready_at: float | None
    reached: bool
    last_active_at: float
    warned: bool


def no_show_grace_min(rules: LabRules) -> float:
    """How long a lab that answered late is left to its learner at least (minutes)."""
    return min(rules.no_show_min, NO_SHOW_GRACE_MIN)


def no_show_deadline(facts: LabFacts, rules: LabRules) -> float | None:
    """When a lab never reached may give its seat away (None: it has not answered yet)."""
    if facts.ready_at is None:
        return None
    return max(
        facts.seated_at + rules.no_show_min * MINUTE,
        facts.ready_at + no_show_grace_min(rules) * MINUTE,
    )


def verdict(facts: LabFacts, rules: LabRules, now: float, *, someone_waits: bool) -> Verdict:
    """The rule that applies to a lab now (see the module docstring)."""
    deadline = no_show_deadline(facts, rules)
    if deadline is None or now < deadline:
        return Verdict.KEEP
    if not facts.reached and someone_waits:
        return Verdict.RECLAIM
    idle = now - facts.last_active_at
    if idle >= rules.idle_limit_min * MINUTE:
        return Verdict.STOP
    warn_after = (rules.idle_limit_min - rules.idle_warning_min) * MINUTE
    if idle >= warn_after and not facts.warned:
        return Verdict.WARN
    return Verdict.KEEP


def stops_at(facts: LabFacts, rules: LabRules) -> float:
    """When the lab stops if nothing happens in it (never before its no-show deadline)."""
    idle_end = facts.last_active_at + rules.idle_limit_min * MINUTE
    deadline = no_show_deadline(facts, rules)
    return idle_end if deadline is None else max(idle_end, deadline)


def gpu_busy_samples(samples: int, idle_share: float | None) -> int:
    """How many of an attempt's GPU samples were above idle (0 where NVML reports no
    utilisation, as for MIG slices: then the GPU says nothing about activity)."""
    if idle_share is None:
        return 0
    return samples - round(samples * idle_share)
