"""What to do with a learner's lab now: the no-show and idle rules, pure (no store, no clock).

The keeper (``keeper.py``) gathers the facts of each lab and asks ``verdict``; the rules are:

1. Within the course's no-show minutes of the lab's start nothing happens (a learner may take
   that long to connect, and no lab is stopped for idleness before it).
2. After them, a lab its learner never reached gives its seat to the first waitlisted learner,
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

from aitc.domain.courselab import LabRules

MINUTE = 60.0


class Verdict(StrEnum):
    KEEP = "keep"
    RECLAIM = "reclaim"
    WARN = "warn"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class LabFacts:
    """One lab as the keeper knows it at ``now``."""

    started_at: float
    reached: bool
    last_active_at: float
    warned: bool


def verdict(facts: LabFacts, rules: LabRules, now: float, *, someone_waits: bool) -> Verdict:
    """The rule that applies to a lab now (see the module docstring)."""
    if now < facts.started_at + rules.no_show_min * MINUTE:
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
    """When the lab stops if nothing happens in it (never inside the no-show minutes)."""
    return max(
        facts.last_active_at + rules.idle_limit_min * MINUTE,
        facts.started_at + rules.no_show_min * MINUTE,
    )


def gpu_busy_samples(samples: int, idle_share: float | None) -> int:
    """How many of an attempt's GPU samples were above idle (0 where NVML reports no
    utilisation, as for MIG slices: then the GPU says nothing about activity)."""
    if idle_share is None:
        return 0
    return samples - round(samples * idle_share)
