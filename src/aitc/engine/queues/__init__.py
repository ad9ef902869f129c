"""The queue disciplines: in what order jobs are tried, and who may jump ahead.

One module per discipline around one shared walk (``walk.py``), chosen per policy with the
``queue`` parameter:

- ``strict``: try jobs in order and stop at the first that does not fit (plain FIFO);
- ``backfill``: EASY backfilling. The first job that does not fit (the *head*) gets a
  promise of its earliest start, computed from the running jobs' time limits; later jobs
  start only if they fit now and do not delay the head;
- ``greedy``: try every job in order, start whatever fits (Kueue's BestEffortFIFO).

A walk returns a ``Walk`` (what the discipline decided, read by the pass's explanation); the
shortcuts that let a walk pass over jobs that cannot start are in ``room.py``.
"""

from aitc.engine.queues.backfill import BackfillQueue, BackfillWalk, Shadow
from aitc.engine.queues.greedy import GreedyQueue
from aitc.engine.queues.room import Buckets, FreeRoom, Phased, SizedBucket, could_fit, ending_by
from aitc.engine.queues.strict import StrictQueue
from aitc.engine.queues.walk import Admit, QueuePolicy, Walk

__all__ = [
    "Admit",
    "BackfillQueue",
    "BackfillWalk",
    "Buckets",
    "FreeRoom",
    "GreedyQueue",
    "Phased",
    "QueuePolicy",
    "Shadow",
    "SizedBucket",
    "StrictQueue",
    "Walk",
    "could_fit",
    "ending_by",
]
