"""The scheduling engine: pure code from a view of the cluster to start/preempt decisions.

Entry points: ``Scheduler`` (or ``make_scheduler(name, **params)``), ``Books`` (the driver
state: ``CapacityIndex``, ``UsageLedger``, ``PendingQueue`` and running jobs, changed only
together) and the contract types in ``aitc.engine.view``.
"""

from aitc.engine.books import Books
from aitc.engine.capacity import CapacityIndex
from aitc.engine.ledger import Usage, UsageLedger
from aitc.engine.pending import PendingQueue
from aitc.engine.registry import POLICIES, make_scheduler, register
from aitc.engine.scheduler import Scheduler
from aitc.engine.view import Action, Preempt, Reason, ReasonCode, Start, View

__all__ = [
    "POLICIES",
    "Action",
    "Books",
    "CapacityIndex",
    "PendingQueue",
    "Preempt",
    "Reason",
    "ReasonCode",
    "Scheduler",
    "Start",
    "Usage",
    "UsageLedger",
    "View",
    "make_scheduler",
    "register",
]
