"""A controller on a fresh store and a ``FakeExecutor``, with helpers that read like the rules."""

from __future__ import annotations

from pathlib import Path

from seed import small_lab
from sqlalchemy import select

from aitc.control.clock import FakeClock
from aitc.control.controller import Controller, ControllerConfig, PassResult
from aitc.control.executors.fake import FakeExecutor, fake_nodes
from aitc.control.executors.inventory import cluster_from_inventory
from aitc.control.reconcile import RequeuePolicy
from aitc.control.store import (
    JobEventRow,
    JobRow,
    JobSpec,
    Store,
    apply_lab,
    cancel_job,
    create_job,
    load_caller,
)
from aitc.domain.job import Priority
from aitc.domain.lab import PolicySpec


class Rig:
    def __init__(
        self,
        store: Store,
        clock: FakeClock,
        tmp: Path,
        *,
        nodes: int = 1,
        gpus: int = 8,
        policy: str = "fifo",
        max_attempts: int = 3,
    ) -> None:
        self.store, self.clock = store, clock
        with store.session() as s:
            apply_lab(session=s, lab=small_lab())
        self.fake = FakeExecutor(fake_nodes(nodes, gpus))
        self.cluster = cluster_from_inventory("test", self.fake.inventory())
        self.policy = PolicySpec(policy)
        self.config = ControllerConfig(
            log_dir=tmp / "logs", requeue=RequeuePolicy(max_attempts=max_attempts)
        )
        self.ctl = self.new_controller()

    def new_controller(self) -> Controller:
        return Controller(
            store=self.store,
            executor=self.fake,
            cluster=self.cluster,
            policy=self.policy,
            clock=self.clock,
            config=self.config,
        )

    def restart(self) -> PassResult:
        """A new controller on the same store and "host" (the fake's processes keep running)."""
        self.ctl = self.new_controller()
        return self.ctl.reconcile()

    def step(self, seconds: float = 1.0) -> PassResult:
        self.clock.advance(seconds)
        return self.ctl.step()

    def submit(
        self,
        member: str = "alice",
        *,
        gpus: int = 1,
        time_limit: float | None = None,
        priority: Priority = Priority.STANDARD,
        nodes: int | None = None,
        command: tuple[str, ...] = ("train",),
    ) -> int:
        spec = JobSpec(
            command=command, gpus=gpus, time_limit=time_limit, priority=priority, nodes=nodes
        )
        with self.store.session() as s:
            caller = load_caller(session=s, member_id=member)
            job, _ = create_job(session=s, spec=spec, caller=caller, now=self.clock.now())
            return job.id

    def cancel(self, job_id: int, member: str = "alice") -> None:
        with self.store.session() as s:
            caller = load_caller(session=s, member_id=member)
            cancel_job(session=s, caller=caller, job_id=job_id, now=self.clock.now())

    def job(self, job_id: int) -> JobRow:
        with self.store.session() as s:
            row = s.get(JobRow, job_id)
            assert row is not None
            return row

    def events(self, job_id: int) -> list[tuple[str, str]]:
        """(to_state, cause) of every event of the job, oldest first."""
        with self.store.session() as s:
            rows = s.scalars(
                select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
            )
            return [(r.to_state, r.cause) for r in rows]

    def states(self, job_id: int) -> list[str]:
        return [state for state, _ in self.events(job_id)]

    def gpus(self, job_id: int) -> tuple[int, ...]:
        placement = self.job(job_id).placement or {}
        return tuple(i for a in placement.get("allocs", ()) for i in a["gpus"])
