"""A short-lived cache of who a token belongs to, so a burst of requests with one token does
not read the token and the member's projects again for each request.

Entries live ``ttl`` seconds of the injected clock (``Settings.auth_cache_s``; 0 turns the
cache off). Revoking a token through this API empties the cache at once; a change made by
another process (``aitc lab apply`` disabling a member) takes effect within ``ttl``. Keys are
the tokens' SHA-256 hashes, never the secrets.
"""

from __future__ import annotations

import threading

from aitc.control.clock import Clock
from aitc.control.store.access import Caller
from aitc.control.store.tokens import hash_token

MAX_ENTRIES = 10_000


class AuthCache:
    def __init__(self, clock: Clock, ttl: float) -> None:
        self.clock, self.ttl = clock, ttl
        self._entries: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def get(self, secret: str) -> Caller | None:
        """The cached caller for ``secret``, or None when absent or expired."""
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(hash_token(secret))
        if entry is None or entry[0] <= self.clock.now():
            return None
        return entry[1]

    def put(self, secret: str, caller: Caller) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[hash_token(secret)] = (self.clock.now() + self.ttl, caller)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
