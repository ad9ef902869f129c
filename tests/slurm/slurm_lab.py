"""aitc's controller driving the Slurm test cluster: a fresh store, a SlurmExecutor, the loop."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slurm_fixtures import TEST_USERS
from slurm_helpers import SlurmCluster
from sqlalchemy import select

from aitc.control.clock import SystemClock
from aitc.control.controller import Controller, ControllerConfig
from aitc.control.executors.inventory import cluster_from_inventory
from aitc.control.executors.slurm import SlurmExecutor
from aitc.control.store import (
    JobEventRow,
    JobRow,
    JobSpec,
    Store,
    apply_lab,
    create_job,
    load_caller,
)
from aitc.domain.cluster import Cluster
from aitc.domain.lab import Lab, PolicySpec
from aitc.domain.org import Member, Organisation, OrgKind, Project, Role

_labs = itertools.count()


def lab() -> Lab:
    uni = Organisation(
        "uni", "University", OrgKind.RESEARCH, 1.0, (Project("vision", "Vision", "uni"),)
    )
    alice = Member(
        "alice",
        "Alice",
        "alice@uni.example",
        "uni",
        Role.MEMBER,
        ("vision",),
        unix_user=TEST_USERS[0],  # her jobs run as this Unix account
    )
    return Lab("slurm-lab", Cluster("rig", ()), (uni,), (alice,))


class SlurmLab:
    """A controller on a fresh SQLite store whose executor is Slurm (the session's cluster).

    ``tmp`` must be a directory the test users may enter (the ``shared_tmp`` fixture): the jobs
    run as alice's account and write their logs and exit records below it.
    """

    def __init__(self, slurm: SlurmCluster, tmp: Path) -> None:
        self.slurm, self.tmp = slurm, tmp
        self.prefix = f"aitc-e{next(_labs)}"
        self.store = Store.open(f"sqlite:///{tmp / 'aitc.db'}")
        with self.store.session() as s:
            apply_lab(session=s, lab=lab())
        self.config = ControllerConfig(log_dir=tmp / "logs", tick_s=0.2, inventory_s=0.5)
        self.ctl = self.new_controller()
        self.ctl.reconcile()

    def new_controller(self) -> Controller:
        """A fresh executor and controller, as after a restart of ``aitc serve``."""
        self.executor = SlurmExecutor(
            self.tmp / "slurm", env=self.slurm.env, name_prefix=self.prefix
        )
        topology = self.executor.topology()
        cluster = cluster_from_inventory("rig", self.executor.inventory(), topology)
        return Controller(
            store=self.store,
            executor=self.executor,
            cluster=cluster,
            policy=PolicySpec("fifo"),
            clock=SystemClock(),
            config=self.config,
        )

    def restart(self) -> None:
        self.ctl = self.new_controller()
        self.ctl.reconcile()

    def submit(
        self,
        command: str,
        *,
        gpus: int,
        nodes: int | None = None,
        time_limit: float | None = None,
        **spec: Any,
    ) -> int:
        """Submit as alice; ``spec``: more of the ``JobSpec`` (``name``, ``output``, …)."""
        job_spec = JobSpec(
            command=("bash", "-c", command),
            gpus=gpus,
            nodes=nodes,
            time_limit=time_limit,
            project="vision",
            **spec,
        )
        with self.store.session() as s:
            job, _ = create_job(
                session=s,
                spec=job_spec,
                caller=load_caller(session=s, member_id="alice"),
                now=time.time(),
            )
            return job.id

    def run_until(self, done: Callable[[], bool], timeout_s: float = 30.0) -> None:
        """Run controller passes until ``done()``; AssertionError with every job's state if not."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.ctl.step()
            if done():
                return
            time.sleep(0.2)
        raise AssertionError(f"not done after {timeout_s} s: {self.summary()}")

    def job(self, job_id: int) -> JobRow:
        with self.store.session() as s:
            row = s.get(JobRow, job_id)
            assert row is not None
            s.expunge(row)
            return row

    def state(self, job_id: int) -> str:
        return str(self.job(job_id).state)

    def events(self, job_id: int) -> list[tuple[str, str]]:
        with self.store.session() as s:
            rows = s.scalars(
                select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
            )
            return [(r.to_state, r.cause) for r in rows]

    def nodes_of(self, job_id: int) -> list[str]:
        placement = self.job(job_id).placement or {}
        return [a["node"] for a in placement.get("allocs", ())]

    def output(self, job_id: int) -> str:
        path = self.job(job_id).stdout_path
        return Path(path).read_text() if path and Path(path).exists() else ""

    def summary(self) -> str:
        with self.store.session() as s:
            rows = s.scalars(select(JobRow)).all()
            return "; ".join(f"{r.id}:{r.state} {r.cause}" for r in rows)

    def close(self) -> None:
        self.store.close()
