"""Figures that take longer than a page may (a usage report, the last 14 days' use), computed
off the request in one background thread and kept, so that a page never waits for them.

A page asks ``Figures.get(key, compute, max_age)``: it gets the last value computed for
``key`` at once (None the first time, when the page says the figures are being prepared
and refreshes itself), and a value older than ``max_age`` seconds is computed again in the
background while the old one is still shown. ``max_age=None``: computed once and kept (the
figures of a period that has ended never change). ``compute(session, now)`` runs in a
read-only transaction of its own; what it computes comes from the report package
(``aitc.control.report``), never from the web layer.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from aitc.control.clock import Clock
from aitc.control.store.db import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
KEEP = 64  # values kept (least recently asked for go first)


RETRY_S = 30.0  # a computation that failed is tried again after this long


@dataclass(frozen=True, slots=True)
class Computed:
    value: Any
    at: float  # when it was computed (the clock's seconds)
    error: str = ""  # why it could not be (value None)


class Figures:
    """The background computer and its kept values (one per app)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store, self._clock = store, clock
        self._values: OrderedDict[Hashable, Computed] = OrderedDict()
        self._running: set[Hashable] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aitc-figures")

    def get(
        self,
        key: Hashable,
        compute: Callable[[Session, float], T],
        max_age: float | None,
    ) -> Computed | None:
        """The value kept for ``key`` (None until first computed); asks for a fresh one when
        there is none or it is older than ``max_age``."""
        now = self._clock.now()
        with self._lock:
            kept = self._values.get(key)
            if kept is not None:
                self._values.move_to_end(key)
            age = None if kept is None else now - kept.at
            due = age is None or (max_age is not None and age >= max_age)
            if kept is not None and kept.error and age is not None:
                due = age >= RETRY_S
            if due and key not in self._running:
                self._running.add(key)
                self._pool.submit(self._compute, key, compute)
        return kept

    def wait(self) -> None:
        """Until what was asked for so far is computed (for tests and benchmarks)."""
        self._pool.submit(lambda: None).result()

    def _compute(self, key: Hashable, compute: Callable[[Session, float], Any]) -> None:
        now = self._clock.now()
        try:
            with self._store.session(readonly=True) as session:
                done = Computed(compute(session, now), now)
        except Exception as exc:  # the page says so, and it is tried again later
            log.exception("computing the figures %r failed", key)
            done = Computed(None, now, f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._running.discard(key)
            self._values[key] = done
            self._values.move_to_end(key)
            while len(self._values) > KEEP:
                self._values.popitem(last=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_MAKING = threading.Lock()


def figures_of(app: Any) -> Figures:
    """The app's ``Figures`` (made on first use, on its store and clock)."""
    with _MAKING:
        found: Figures | None = getattr(app.state, "web_figures", None)
        if found is None:
            found = app.state.web_figures = Figures(app.state.store, app.state.settings.clock)
        return found
