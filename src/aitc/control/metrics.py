"""Prometheus metrics of the control plane, served at ``/metrics`` (admin token).

Two kinds of figures, on one registry per server (never prometheus-client's global one, so two
servers in one process, as in tests, do not share counters):

- **counted as they happen** by the controller and the API: the scheduler pass's duration
  (``aitc_scheduler_pass_duration_seconds``, a histogram), executor errors
  (``aitc_executor_errors_total{operation}``) and rejected API calls
  (``aitc_api_auth_failures_total{reason}``);
- **read from the store at scrape time** (``StoreCollector``): GPUs per node and allocated per
  organisation, pending jobs per reason, and job state transitions, counted from the
  append-only ``job_events`` (so the counter survives restarts; only new events are read at
  each scrape).

GPU readings of running jobs use the DCGM exporter's names and labels (``DCGM_FI_DEV_GPU_UTIL``,
``DCGM_FI_DEV_FB_USED``, ``DCGM_FI_DEV_POWER_USAGE`` with ``gpu``, ``UUID``, ``Hostname``), so a
dashboard built for DCGM reads them; virtual GPUs have none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aitc.control.executors.base import GpuInfo
from aitc.control.gpuusage.sampler import GpuSampler
from aitc.control.gpuusage.samples import IDLE_BELOW_PCT
from aitc.control.store.db import Store
from aitc.control.store.models import JobEventRow, JobRow, NodeRow, OrganisationRow
from aitc.domain.ids import JobId
from aitc.domain.job import JobRequest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PASS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ACTIVE = ("starting", "running")


class ControlMetrics:
    """The registry of one server and the counters the controller and the API update."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.pass_seconds = Histogram(
            "aitc_scheduler_pass_duration_seconds",
            "Time of one controller pass: poll, schedule, commit, dispatch.",
            buckets=PASS_BUCKETS,
            registry=self.registry,
        )
        self.executor_errors = Counter(
            "aitc_executor_errors",
            "Executor calls that failed (start, cancel) and controller passes that failed (pass).",
            ["operation"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "aitc_api_auth_failures",
            "API requests refused: missing_token, rejected_token (401) or forbidden (403).",
            ["reason"],
            registry=self.registry,
        )
        self.store_collector = StoreCollector(store)
        self.registry.register(self.store_collector)

    def watch_gpus(self, sampler: GpuSampler, gpus: Sequence[GpuInfo], hostname: str) -> None:
        """Export the sampler's latest readings under the DCGM exporter's names."""
        self.store_collector.gpu_source = (sampler, tuple(gpus), hostname)

    def executor_error(self, operation: str, count: int = 1) -> None:
        self.executor_errors.labels(operation=operation).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Figures read from the store at each scrape (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gpu_source: tuple[GpuSampler, tuple[GpuInfo, ...], str] | None = None
        self._lock = threading.Lock()
        self._last_event = 0
        self._transitions: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterator[Metric]:
        with self.store.session(readonly=True) as s:
            yield self._nodes(s)
            allocated, active_orgs = self._allocated(s)
            yield allocated
            yield self._pending(s)
            yield self._transitions_metric(s)
        yield from self._gpu_readings(active_orgs)

    def _nodes(self, s: Session) -> Metric:
        m = GaugeMetricFamily(
            "aitc_node_gpus",
            "GPUs of each node as the executor reports them.",
            labels=["node", "model", "state"],
        )
        for name, gpus, model, state in s.execute(
            select(NodeRow.name, NodeRow.gpus, NodeRow.gpu_model, NodeRow.state)
        ):
            m.add_metric([name, model, state], gpus)
        return m

    def _allocated(self, s: Session) -> tuple[Metric, dict[int, str]]:
        m = GaugeMetricFamily(
            "aitc_gpus_allocated",
            "GPUs held by starting and running jobs, per organisation (a MIG slice counts as "
            "its compute slices' fraction of a GPU).",
            labels=["organisation"],
        )
        totals = {org: 0.0 for org in s.scalars(select(OrganisationRow.id))}
        active: dict[int, str] = {}
        rows = s.execute(
            select(JobRow.id, JobRow.org_id, JobRow.gpus, JobRow.mig).where(
                JobRow.state.in_(ACTIVE)
            )
        )
        for job_id, org, gpus, mig in rows:
            totals[org] = totals.get(org, 0.0) + gpu_fraction(gpus, mig)
            active[job_id] = org
        for org, value in sorted(totals.items()):
            m.add_metric([org], value)
        return m, active

    def _pending(self, s: Session) -> Metric:
        m = GaugeMetricFamily(
            "aitc_jobs_pending",
            "Pending jobs by the first reason they wait for (none: not yet scheduled).",
            labels=["reason"],
        )
        code = JobRow.pending_reasons[0]["code"].as_string()
        rows = s.execute(select(code, func.count()).where(JobRow.state == "pending").group_by(code))
        for reason, count in rows:
            m.add_metric([reason or "none"], count)
        return m

    def _transitions_metric(self, s: Session) -> Metric:
        with self._lock:  # only events newer than the last scrape are read
            rows = s.execute(
                select(
                    JobEventRow.from_state,
                    JobEventRow.to_state,
                    func.count(),
                    func.max(JobEventRow.id),
                )
                .where(JobEventRow.id > self._last_event)
                .group_by(JobEventRow.from_state, JobEventRow.to_state)
            )
            for frm, to, count, last in rows:
                key = (frm or "none", to)
                self._transitions[key] = self._transitions.get(key, 0) + count
                self._last_event = max(self._last_event, last)
            counts = dict(self._transitions)
        m = CounterMetricFamily(
            "aitc_job_transitions",
            "Job state changes recorded in job_events (from none: submitted).",
            labels=["from_state", "to_state"],
        )
        for (frm, to), count in sorted(counts.items()):
            m.add_metric([frm, to], count)
        return m

    def _gpu_readings(self, active_orgs: dict[int, str]) -> Iterator[Metric]:
        if self.gpu_source is None:
            return
        sampler, gpus, host = self.gpu_source
        index = {g.uuid: g for g in gpus}
        labels = ["gpu", "UUID", "modelName", "Hostname", "job", "organisation"]
        util = GaugeMetricFamily("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", labels=labels)
        fb = GaugeMetricFamily(
            "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", labels=labels
        )
        power = GaugeMetricFamily("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", labels=labels)
        idle = GaugeMetricFamily(
            "aitc_gpus_idle_allocated",
            f"Allocated GPUs whose last sample showed under {IDLE_BELOW_PCT:g}% utilisation.",
            labels=["organisation"],
        )
        idle_by_org: dict[str, int] = {}
        for uuid, ((job_id, _attempt), sample) in sorted(sampler.latest.items()):
            gpu = index.get(uuid)
            org = active_orgs.get(job_id, "")
            values = [str(gpu.index) if gpu else "", uuid, gpu.model if gpu else "", host]
            values += [str(job_id), org]
            fb.add_metric(values, sample.memory_used_mib)
            if sample.util_pct is not None:
                util.add_metric(values, sample.util_pct)
                if sample.util_pct < IDLE_BELOW_PCT and org:
                    idle_by_org[org] = idle_by_org.get(org, 0) + 1
            if sample.power_w is not None:
                power.add_metric(values, sample.power_w)
        for org, count in sorted(idle_by_org.items()):
            idle.add_metric([org], count)
        yield from (util, fb, power, idle)


def gpu_fraction(gpus: int, mig: str | None) -> float:
    """GPUs a job holds, counted as the engine counts them (``JobRequest.gpu_demand``)."""
    probe = JobRequest(id=JobId(0), org="", project="", member="", gpus=gpus, submit=0.0, mig=mig)
    return probe.gpu_demand


class AuthFailures:
    """ASGI middleware counting refused requests (401 and 403) by reason."""

    def __init__(self, app: Any, metrics: Callable[[], ControlMetrics | None]) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_token = any(k == b"authorization" for k, _ in scope.get("headers", ()))

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                metrics = self.metrics()
                if metrics is not None:
                    reason = (
                        "forbidden"
                        if message["status"] == 403
                        else ("rejected_token" if has_token else "missing_token")
                    )
                    metrics.auth_failures.labels(reason=reason).inc()
            await send(message)

        await self.app(scope, receive, counting_send)
