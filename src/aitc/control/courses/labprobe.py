"""Looking at a running lab over HTTP, as its learner would, with the lab's own token.

A lab is a Jupyter server. ``GET /api/status`` (which Jupyter does not count as activity)
says when the server started, when it was last active (any authenticated API call, any kernel
message) and how many kernels and kernel connections it has; when kernels exist,
``GET /api/kernels?no_track_activity=1`` says whether one is busy. A lab that does not
answer (still starting, or gone) gives ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

DEFAULT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class LabStatus:
    """What a lab says about itself (Jupyter's times as it writes them, ISO 8601 UTC)."""

    started: str
    last_activity: str
    kernels: int
    connections: int
    busy_kernels: int = 0

    @property
    def reached(self) -> bool:
        """Whether anyone with the token has used the lab since it started."""
        return self.last_activity != self.started or self.connections > 0


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    lab_id: int
    base_url: str  # http://host:port
    token: str


def probe(client: httpx.Client, target: ProbeTarget) -> LabStatus | None:
    """The lab's status, or None when it does not answer as a Jupyter server."""
    headers = {"Authorization": f"token {target.token}"}
    try:
        r = client.get(f"{target.base_url}/api/status", headers=headers)
        if r.status_code != 200:
            return None
        data = r.json()
        status = LabStatus(
            started=str(data["started"]),
            last_activity=str(data["last_activity"]),
            kernels=int(data["kernels"]),
            connections=int(data["connections"]),
        )
        if status.kernels == 0:
            return status
        r = client.get(
            f"{target.base_url}/api/kernels", params={"no_track_activity": "1"}, headers=headers
        )
        busy = sum(1 for k in r.json() if k.get("execution_state") == "busy")
        return LabStatus(
            status.started, status.last_activity, status.kernels, status.connections, busy
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return None


def probe_all(
    targets: Sequence[ProbeTarget], *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[int, LabStatus | None]:
    """Every target's status by lab id, probed concurrently (one slow lab delays no other)."""
    if not targets:
        return {}
    with (
        httpx.Client(timeout=timeout_s, trust_env=False) as client,
        ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool,
    ):
        found = pool.map(lambda t: probe(client, t), targets)
        return {t.lab_id: s for t, s in zip(targets, found, strict=True)}
