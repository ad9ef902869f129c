"""A short-lived cache of who a token belongs to, so a burst of requests with one token does
not read the token and the member's projects again for each request.

Entries live ``ttl`` seconds of the injected clock (``Settings.auth_cache_s``; 0 turns the
cache off), never past the token's expiry. Revoking a token through this API empties the cache
at once; a change made by another process (``aitc lab apply`` disabling a member) takes effect
within ``ttl``. Keys are the tokens' SHA-256 hashes, never the secrets.

It also decides when a token's ``last_used_at`` is written: on its first use, then at most once
every ``TOUCH_EVERY_S`` seconds, so using a token costs no write per request.
"""

from __future__ import annotations

import threading

from aitc.control.clock import Clock
from aitc.control.store.access import Caller
from aitc.control.store.tokens import TokenOwner, hash_token

MAX_ENTRIES = 10_000
TOUCH_EVERY_S = 60.0


class AuthCache:
    def __init__(self, clock: Clock, ttl: float) -> None:
        self.clock, self.ttl = clock, ttl
        self._entries: dict[str, tuple[float, Caller]] = {}
        self._touched: dict[str, float] = {}
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

    def put(self, secret: str, owner: TokenOwner) -> None:
        if self.ttl <= 0:
            return
        until = self.clock.now() + self.ttl
        if owner.expires_at is not None:
            until = min(until, owner.expires_at)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[hash_token(secret)] = (until, owner.caller)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def due_touch(self, secret: str) -> tuple[str, float] | None:
        """``(token hash, now)`` when this use of ``secret`` is to be written as its
        ``last_used_at`` (the first use, then once per ``TOUCH_EVERY_S``), else None."""
        now, key = self.clock.now(), hash_token(secret)
        with self._lock:
            last = self._touched.get(key)
            if last is not None and now - last < TOUCH_EVERY_S:
                return None
            if len(self._touched) >= MAX_ENTRIES:
                self._touched.clear()
            self._touched[key] = now
        return key, now
