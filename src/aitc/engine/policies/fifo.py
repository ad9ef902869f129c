"""``fifo``: first come, first served; the first job that does not fit blocks the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from aitc.engine.policy import Policy
from aitc.engine.registry import register


@register
class Fifo(Policy):
    """Arrival order with a strict queue: the reference policy the others are measured by."""

    name = "fifo"
    PARAMS: ClassVar[Mapping[str, object]] = {"queue": "strict"}
