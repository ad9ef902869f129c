"""What the API app is built from (``create_app(settings)``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aitc.control.clock import Clock, SystemClock
from aitc.control.store.db import Store
from aitc.control.store.tokens import DEFAULT_TOKEN_DAYS
from aitc.domain.lab import PolicySpec


@dataclass(frozen=True)
class Settings:
    """Settings of the API app.

    ``store`` shares an open store (``aitc serve`` hands the controller's); without it the app
    opens ``database_url`` (default: ``$AITC_DATABASE_URL`` or the SQLite file) and migrates it.
    ``wake`` is called after every submit and cancel so the controller schedules at once instead
    of at its next tick. ``follow_poll_s`` is how often ``logs?follow=true`` looks for new output.
    ``auth_cache_s`` is how long a token's owner is remembered (see ``authcache``; 0: never).
    ``max_body_bytes`` bounds a request body, counted as it streams (``bodylimit``).
    ``follow_check_s`` is how often a followed log re-reads its job's state (each time in a
    short session of its own); ``max_follows_per_member`` caps one member's concurrent
    ``follow=true`` streams (more are answered 429). ``token_days`` is how long a new API
    token lives unless its creator says otherwise. ``credential_key`` is the file of the
    Ed25519 key that signs course certificates (``aitc serve``: in its state dir; None: no
    certificates are issued). ``policy`` is the controller's scheduling policy (``aitc serve``:
    the lab's), under which ``--check`` of a course session replays recorded load (None: the
    one the recorded starts name).
    """

    database_url: str | None = None
    store: Store | None = None
    wake: Callable[[], None] | None = None
    clock: Clock = field(default_factory=SystemClock)
    follow_poll_s: float = 0.25
    max_body_bytes: int = 1024 * 1024
    follow_check_s: float = 2.0
    max_follows_per_member: int = 16
    token_days: float = DEFAULT_TOKEN_DAYS
    auth_cache_s: float = 2.0
    credential_key: Path | None = None
    policy: PolicySpec | None = None
