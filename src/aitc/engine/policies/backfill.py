"""``backfill``: arrival order with EASY backfilling.

The first job that does not fit (the head) is promised its earliest start, computed from the
time limits of the running jobs; later jobs may start now only if they do not delay that
promise. Jobs without a time limit are planned with ``default_time_limit_s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from aitc.engine.policy import Policy
from aitc.engine.registry import register


@register
class Backfill(Policy):
    """FIFO order, EASY backfill queue."""

    name = "backfill"
    PARAMS: ClassVar[Mapping[str, object]] = {"queue": "backfill"}
