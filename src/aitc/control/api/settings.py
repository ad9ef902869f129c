"""What the API app is built from (``create_app(settings)``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aitc.control.clock import Clock, SystemClock
from aitc.control.store.db import Store
from aitc.control.store.tokens import DEFAULT_TOKEN_DAYS
from aitc.domain.lab import OidcSignIn, PolicySpec
from aitc.errors import ConfigError


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
    certificates are issued). ``oidc`` is the web pages' OpenID Connect sign-in (lab.yaml
    ``sign_in.oidc``; None: API tokens only) and ``oidc_client_secret`` its client's secret,
    read by ``aitc serve`` from the file or variable that lab.yaml names. ``policy`` is the
    controller's scheduling policy (``aitc serve``: the lab's), under which ``--check`` of a
    course session replays recorded load (None: the one the recorded starts name).
    ``log_dir`` is where the controller writes the logs of jobs without files of their own
    (``dispatch.log_paths``), from which an earlier attempt's are read (None: only the current
    attempt's logs are served).
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
    oidc: OidcSignIn | None = None
    oidc_client_secret: str = field(default="", repr=False)
    log_dir: Path | None = None


def read_client_secret(spec: OidcSignIn) -> str:
    """The client secret from the file or environment variable lab.yaml names
    (``ConfigError`` naming the key if it is missing or empty)."""
    if spec.client_secret_env is not None:
        key, secret = "client_secret_env", os.environ.get(spec.client_secret_env, "")
        if not secret:
            why = f"the environment variable {spec.client_secret_env} is not set or empty"
            raise ConfigError(why, field=f"sign_in.oidc.{key}")
        return secret
    assert spec.client_secret_file is not None  # the schema asks for exactly one
    try:
        secret = Path(spec.client_secret_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        why = f"cannot read {spec.client_secret_file}: {exc.strerror}"
        raise ConfigError(why, field="sign_in.oidc.client_secret_file") from None
    if not secret:
        raise ConfigError(
            f"{spec.client_secret_file} is empty", field="sign_in.oidc.client_secret_file"
        )
    return secret
