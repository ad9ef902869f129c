"""How a course's learner labs are kept: the no-show, idle and assessment limits.

A course sets them (lab.yaml ``courses:``, ``aitc course create``, the API); these are the
defaults, and ``check_rules`` says when a set of them cannot work together. Minutes, as an
instructor says them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aitc.errors import ConfigError

MAX_MINUTES = 7 * 24 * 60
"""The longest any of the limits may be: a week."""

NO_SHOW_GRACE_MIN = 2.0
"""A lab that answered late is left to its learner this long at least (or ``no_show_min`` if
shorter) before its seat may go to the waitlist: its learner could not reach it before."""


@dataclass(frozen=True, slots=True)
class LabRules:
    """The limits of a course's labs, in minutes.

    ``no_show_min``: a lab not reached this long after the session's start (or after its
    learner got the seat from the waitlist, if later) gives its seat to the first waitlisted
    learner, though never before it has answered for ``NO_SHOW_GRACE_MIN`` (at most
    ``no_show_min``); no lab is stopped for idleness before then. ``idle_limit_min``: a lab
    idle this long is stopped, after a warning ``idle_warning_min`` earlier.
    ``assessment_limit_min``: the time limit of one assessment run.
    """

    no_show_min: float = 15.0
    idle_limit_min: float = 30.0
    idle_warning_min: float = 5.0
    assessment_limit_min: float = 15.0


DEFAULT_LAB_RULES = LabRules()


def check_rules(rules: LabRules) -> None:
    """``ConfigError`` naming the field when the limits cannot work together."""
    if rules.no_show_min < 0:
        raise ConfigError("must not be negative", field="no_show_min")
    if rules.idle_limit_min <= 0:
        raise ConfigError("must be more than 0 minutes", field="idle_limit_min")
    if not 0 <= rules.idle_warning_min < rules.idle_limit_min:
        raise ConfigError(
            f"must be at least 0 and less than idle_limit_min ({rules.idle_limit_min:g})",
            field="idle_warning_min",
        )
    if rules.assessment_limit_min <= 0:
        raise ConfigError("must be more than 0 minutes", field="assessment_limit_min")
