"""Target figures of a sweep point, each with a bootstrap confidence interval.

A *point* is one policy on one size, run over several seeds; its jobs are pooled across the
seeds. For every target of lab.yaml it yields one ``Figure``:

- ``wait_pNN.KIND``: the NN-th percentile of waits (minutes) of the kind's jobs; a job that
  never started waits forever, so a size that cannot run a job fails the target;
- ``seats``: the share of course seats that started within a minute of their session;
- ``contract.ORG``: of a partner's jobs that fit inside its quota when submitted (its GPUs
  in use then, plus the job's, at most the quota), the share that started within
  ``within_min`` minutes;
- ``utilisation``: GPU time held over GPU time offered while jobs arrive, averaged over seeds.

The confidence interval is the 2.5th and 97.5th percentile of the figure over resamples of the
pooled jobs (of the seeds, for utilisation), drawn with a fixed seed so reports repeat.
The first three are *service* figures: more nodes never make them worse, beyond noise, so the
search may bisect on them. Utilisation falls as the cluster grows; it is a floor checked on
the size the service figures choose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from aitc.domain.lab import Lab
from aitc.domain.org import OrgKind
from aitc.plan.runs import RunRecord

RESAMPLES = 200
SEAT_GRACE_S = 60.0
Stat = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Figure:
    """One target figure of a point: its value, confidence interval and limit.

    ``ceiling``: the value must be at most ``limit`` (else at least); ``service``: more nodes
    never make it worse (see the module docstring).
    """

    key: str
    label: str
    value: float
    low: float
    high: float
    limit: float
    ceiling: bool
    service: bool = True

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.ceiling else self.value >= self.limit

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "label": self.label,
            "value": _finite(self.value),
            "ci95": [_finite(self.low), _finite(self.high)],
            "limit": self.limit,
            "ceiling": self.ceiling,
            "met": self.met,
        }


def _finite(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None


@dataclass(frozen=True)
class Pooled:
    """The jobs of several runs of one point, side by side."""

    tenant: np.ndarray
    kind: np.ndarray
    wait: np.ndarray
    seat: np.ndarray
    in_contract: np.ndarray
    utilisation: np.ndarray


def pool(records: Sequence[RunRecord], lab: Lab) -> Pooled:
    kinds = {o.id: o.kind.value for o in lab.organisations}
    quotas = {
        o.id: o.quota
        for o in lab.organisations
        if o.kind == OrgKind.PARTNER and o.quota is not None
    }
    tenant = np.concatenate([np.asarray(r.tenants, dtype=object)[r.tenant] for r in records])
    return Pooled(
        tenant=tenant.astype(str),
        kind=np.array([kinds.get(t, "") for t in tenant], dtype=object).astype(str),
        wait=np.concatenate([r.wait for r in records]),
        seat=np.concatenate([r.seat for r in records]),
        in_contract=np.concatenate([in_contract(r, quotas) for r in records]),
        utilisation=np.array([r.utilisation for r in records]),
    )


def in_contract(record: RunRecord, quotas: dict[str, int]) -> np.ndarray:
    """Whether each job fitted inside its partner's quota when it was submitted."""
    out = np.zeros(record.submit.size, dtype=bool)
    for code, name in enumerate(record.tenants):
        if name not in quotas:
            continue
        mine = record.tenant == code
        used = _in_use(record, mine, record.submit[mine])
        out[mine] = used + record.gpus[mine] <= quotas[name]
    return out


def _in_use(record: RunRecord, mine: np.ndarray, at: np.ndarray) -> np.ndarray:
    """GPUs held by the selected jobs just before each time of ``at`` (started before it and
    not yet ended by it)."""
    ran = mine & np.isfinite(record.start)
    gpus = record.gpus[ran].astype(np.float64)
    start, end = record.start[ran], np.nan_to_num(record.end[ran], nan=np.inf)
    by_start, by_end = np.argsort(start), np.argsort(end)
    started = np.concatenate([[0.0], np.cumsum(gpus[by_start])])
    ended = np.concatenate([[0.0], np.cumsum(gpus[by_end])])
    held: np.ndarray = (
        started[np.searchsorted(start[by_start], at, side="left")]
        - ended[np.searchsorted(end[by_end], at, side="right")]
    )
    return held


def figures(records: Sequence[RunRecord], lab: Lab, resamples: int = RESAMPLES) -> list[Figure]:
    """Every target figure of the point made of ``records`` (one per seed)."""
    t, p = lab.targets, pool(records, lab)
    rng = np.random.default_rng(0)
    out: list[Figure] = []
    q = t.wait_percentile
    pct: Stat = lambda m: np.percentile(m, q, axis=-1, method="inverted_cdf")  # noqa: E731
    share: Stat = lambda m: m.mean(axis=-1)  # noqa: E731
    for kind, limit in sorted(t.max_wait_min.items()):
        waits = p.wait[p.kind == kind] / 60.0
        if waits.size:
            label = f"p{q:g} wait, {kind} (min)"
            out.append(
                _figure(f"wait_p{q:g}.{kind}", label, waits, pct, limit, True, rng, resamples)
            )
    seats = p.wait[p.seat] <= SEAT_GRACE_S
    if t.workshop_seats and seats.size:
        out.append(
            _figure("seats", "seats started on time", seats, share, 1.0, False, rng, resamples)
        )
    if t.partner_contract is not None:
        c = t.partner_contract
        for org in sorted(set(p.tenant[p.in_contract])):
            ok = p.wait[p.in_contract & (p.tenant == org)] <= c.within_min * 60.0
            label = f"{org}: in-quota jobs started in {c.within_min:g} min"
            out.append(_figure(f"contract.{org}", label, ok, share, c.share, False, rng, resamples))
    if t.min_utilisation is not None:
        util = _figure(
            "utilisation",
            "GPU utilisation",
            p.utilisation,
            share,
            t.min_utilisation,
            False,
            rng,
            resamples,
        )
        out.append(Figure(**{**util.__dict__, "service": False}))
    return out


def _figure(
    key: str,
    label: str,
    values: np.ndarray,
    stat: Stat,
    limit: float,
    ceiling: bool,
    rng: np.random.Generator,
    resamples: int,
) -> Figure:
    values = np.asarray(values, dtype=np.float64)
    value = float(stat(values))
    draws = stat(values[rng.integers(0, values.size, size=(resamples, values.size))])
    low, high = np.percentile(draws, [2.5, 97.5], method="inverted_cdf")
    return Figure(key, label, value, float(low), float(high), float(limit), ceiling)
