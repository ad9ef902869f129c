"""How a course's learner labs are kept: the no-show, idle and assessment limits.

A course sets them (``aitc course create``, the API); these are the defaults. Minutes, as an
instructor says them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LabRules:
    """The limits of a course's labs, in minutes.

    ``no_show_min``: a lab not reached this long after it started gives its seat to the first
    waitlisted learner; no lab is stopped for idleness before it. ``idle_limit_min``: a lab
    idle this long is stopped, after a warning ``idle_warning_min`` earlier.
    ``assessment_limit_min``: the time limit of one assessment run.
    """

    no_show_min: float = 15.0
    idle_limit_min: float = 30.0
    idle_warning_min: float = 5.0
    assessment_limit_min: float = 15.0


DEFAULT_LAB_RULES = LabRules()
