"""A helper thread that runs a pass every few seconds beside the controller (the lab keeper,
the mailer): one loop, so that each says only what a pass does."""

from __future__ import annotations

import logging
import threading


class Ticker:
    """Calls ``step()`` every ``tick_s`` seconds in a daemon thread until ``stop()``; a failed
    pass is logged (to the subclass's module logger) and the next one tried."""

    thread_name = "aitc-ticker"

    def __init__(self, tick_s: float) -> None:
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> object:
        raise NotImplementedError

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Pass after pass until ``stop()``; a failed pass is logged and the next one tried."""
        log = logging.getLogger(type(self).__module__)
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the thread must survive a bad pass (and say why)
                log.exception("%s pass failed; trying again next tick", self.thread_name)
            self._stop.wait(self.tick_s)
