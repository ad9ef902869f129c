"""What a course session costs research: recorded load replayed with and without its seats.

The recorded jobs of the last weeks stand for the load of the next ones: each is moved
forward by ``shift_s`` (the length of the window replayed) and replayed in the twin twice, on
the same cluster under the same policy with the reservations already made: once as they are,
once with the new session's reservation and one learner job per seat from its start to ten
minutes before its end (as the lab generator's sessions, ``twin.generator.seat_jobs``). The
cost is how much longer each recorded job waited to start with the session than without it,
summed and averaged per organisation. Seats are not research: they are left out of the sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from aitc.domain.cluster import Cluster
from aitc.domain.reservation import Reservation
from aitc.plan.history import History
from aitc.plan.replay import run, stat, trace
from aitc.twin.generator import seat_jobs

DELAYED_S = 60.0  # a job counts as delayed when it starts more than a minute later


@dataclass(frozen=True)
class OrgCost:
    """One organisation's recorded jobs: waits without and with the session (seconds)."""

    organisation: str
    jobs: int
    mean_wait_without_s: float | None
    mean_wait_with_s: float | None
    p90_wait_without_s: float | None
    p90_wait_with_s: float | None
    extra_wait_h: float  # summed over its jobs: wait with - wait without
    delayed_jobs: int  # jobs that started more than a minute later


@dataclass(frozen=True)
class SessionCost:
    """The replay's result: jobs replayed, the window, the cost per organisation and in all."""

    jobs: int
    since: float  # the replayed window, after the shift (epoch seconds)
    until: float
    per_org: tuple[OrgCost, ...]
    extra_wait_h: float
    delayed_jobs: int


def shifted(history: History, shift_s: float) -> History:
    """``history`` with every submission and start ``shift_s`` later."""
    jobs = tuple(
        replace(j, submit=j.submit + shift_s, start=None if j.start is None else j.start + shift_s)
        for j in history.jobs
    )
    return replace(history, jobs=jobs, since=history.since + shift_s, until=history.until + shift_s)


def session_cost(
    history: History,
    *,
    session: Reservation,
    held: Sequence[Reservation],
    cluster: Cluster,
    policy: str,
    params: Mapping[str, Any] | None = None,
    shift_s: float,
) -> SessionCost:
    """The cost of ``session`` to the recorded load of ``history`` moved ``shift_s`` forward,
    beside the reservations ``held`` (see the module docstring)."""
    moved = shifted(history, shift_s)
    base = trace(moved)
    if moved.organisations:
        base = replace(base, orgs=moved.organisations)
    t0 = moved.jobs[0].submit if moved.jobs else 0.0
    first_id = max((j.id for j in moved.jobs), default=0) + 1
    without = _twin(base, held, (), cluster, policy, params, t0)
    seats = tuple(seat_jobs(_at(session, -t0), first_id))
    with_it = _twin(base, (*held, session), seats, cluster, policy, params, t0)
    per_org = tuple(_org_costs(without, with_it, {j.id for j in moved.jobs}))
    return SessionCost(
        jobs=len(moved.jobs),
        since=moved.since,
        until=moved.until,
        per_org=per_org,
        extra_wait_h=sum(o.extra_wait_h for o in per_org),
        delayed_jobs=sum(o.delayed_jobs for o in per_org),
    )


def _at(res: Reservation, shift: float) -> Reservation:
    return replace(res, start=res.start + shift, end=res.end + shift)


def _twin(
    base: Any,
    held: Sequence[Reservation],
    extra: Sequence[Any],
    cluster: Cluster,
    policy: str,
    params: Mapping[str, Any] | None,
    t0: float,
) -> pd.DataFrame:
    source = replace(base, items=(*base.items, *extra), held=tuple(_at(r, -t0) for r in held))
    return run(source, cluster, policy, policy, params, t0)


def _org_costs(without: pd.DataFrame, with_it: pd.DataFrame, recorded: set[int]) -> list[OrgCost]:
    both = without[["job_id", "tenant", "wait"]].merge(
        with_it[["job_id", "wait"]], on="job_id", suffixes=("_without", "_with")
    )
    both = both[both["job_id"].isin(recorded)]
    out = []
    for org, jobs in sorted(both.groupby("tenant"), key=lambda g: str(g[0])):
        a = jobs["wait_without"].to_numpy(dtype=float, na_value=np.nan)
        b = jobs["wait_with"].to_numpy(dtype=float, na_value=np.nan)
        diff = b - a
        diff = diff[np.isfinite(diff)]
        out.append(
            OrgCost(
                organisation=str(org),
                jobs=len(jobs),
                mean_wait_without_s=stat(a, np.mean),
                mean_wait_with_s=stat(b, np.mean),
                p90_wait_without_s=stat(a, lambda w: np.percentile(w, 90)),
                p90_wait_with_s=stat(b, lambda w: np.percentile(w, 90)),
                extra_wait_h=float(diff.sum() / 3600.0),
                delayed_jobs=int((diff > DELAYED_S).sum()),
            )
        )
    return out
