"""Group commit: one writer thread runs the units of work queued by concurrent requests, many
to a transaction, so a burst of submissions costs one ``COMMIT`` (and one SQLite write lock)
instead of one each.

A unit is a function of the batch's session. Its ``done`` callback is called from the writer
thread with the unit's result only *after* the transaction committed (so an acknowledged
submission is durable), or with its error. A unit may raise an ``AitcError`` (a bad request)
only before it writes anything: the batch then goes on without it. Any other error (a database
failure, a failed ``COMMIT``) rolls the whole batch back and runs each of its units again in a
transaction of its own, so one unit's failure never fails another's.

The thread starts on the first unit and ends after ``idle_s`` without work (an app that is not
used holds no thread).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from aitc.errors import AitcError

Done = Callable[[Any, BaseException | None], None]


@dataclass(frozen=True, slots=True)
class Unit:
    """One request's work: ``work(session)`` in a shared transaction, then ``done``."""

    work: Callable[[Session], Any]
    done: Done


class GroupCommit:
    """Queue units of work; a single writer thread commits them in batches of up to
    ``max_batch``. ``session`` opens one write transaction (``Store.session``)."""

    def __init__(
        self,
        session: Callable[[], AbstractContextManager[Session]],
        max_batch: int = 64,
        idle_s: float = 1.0,
    ) -> None:
        self.session, self.max_batch, self.idle_s = session, max_batch, idle_s
        self._queue: queue.SimpleQueue[Unit] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def put(self, work: Callable[[Session], Any], done: Done) -> None:
        """Queue ``work``; ``done(result, error)`` is called once it committed or failed."""
        with self._lock:
            self._queue.put(Unit(work, done))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="aitc-group-commit", daemon=True).start()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._commit(batch)

    def _next_batch(self) -> list[Unit] | None:
        """The queued units (waiting up to ``idle_s`` for one), or None to end the thread."""
        try:
            batch = [self._queue.get(timeout=self.idle_s)]
        except queue.Empty:
            with self._lock:  # put() holds it while queueing, so nothing is left behind
                if self._queue.empty():
                    self._running = False
                    return None
            batch = []
        for _ in range(self.max_batch - len(batch)):
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list[Unit]) -> None:
        try:
            outcomes = list(self._in_one_transaction(batch))
        except BaseException:  # noqa: BLE001 — retried unit by unit, each reports its own error
            outcomes = [self._alone(unit) for unit in batch]
        for unit, result, error in outcomes:
            _call(unit.done, result, error)

    def _in_one_transaction(self, batch: list[Unit]) -> Iterator[tuple[Unit, Any, Any]]:
        results: list[tuple[Unit, Any, Any]] = []
        with self.session() as session:
            for unit in batch:
                try:
                    results.append((unit, unit.work(session), None))
                except AitcError as exc:  # a bad request: it wrote nothing (see module doc)
                    results.append((unit, None, exc))
        return iter(results)  # only once the transaction has committed

    def _alone(self, unit: Unit) -> tuple[Unit, Any, BaseException | None]:
        try:
            with self.session() as session:
                return unit, unit.work(session), None
        except Exception as exc:  # noqa: BLE001 — handed to the unit's owner
            return unit, None, exc


def _call(done: Done, result: Any, error: BaseException | None) -> None:
    with contextlib.suppress(Exception):  # a failing callback must not stop the writer
        done(result, error)
