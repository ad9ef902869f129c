"""A whole lab in one process, for the learner-lab tests: the store, the controller running
jobs with the local executor on two virtual H100s (MIG slices as the seats), the lab keeper
and the API, all on one ``FakeClock``. Learners are real Unix users (created once, kept for the
next run, as tests/security does), and their labs are real Jupyter servers, run as them.

Needs root (to create users and run jobs as them), as CI has. The server's own Python lives
where other users may not read, so labs run this machine's Python with the server's packages
on its path (``lab_python``), as an operator installs one that learners may run.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import random
import signal
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))

from security_lab import ensure_user  # noqa: E402

from aitc.control.clock import FakeClock  # noqa: E402
from aitc.control.controller import Controller, ControllerConfig  # noqa: E402
from aitc.control.courses.keeper import LabKeeper  # noqa: E402
from aitc.control.courses.labs import LabSettings  # noqa: E402
from aitc.control.executors.inventory import cluster_from_inventory  # noqa: E402
from aitc.control.executors.local import LocalExecutor  # noqa: E402
from aitc.control.store import Store, apply_lab, create_token, jobs_in_states  # noqa: E402
from aitc.control.store.tokens import bootstrap_admin  # noqa: E402
from aitc.domain.cluster import Cluster  # noqa: E402
from aitc.domain.job import JobState  # noqa: E402
from aitc.domain.lab import Lab, PolicySpec  # noqa: E402
from aitc.domain.org import Member, Organisation, OrgKind, Project, Role  # noqa: E402

T = TypeVar("T")
DAY = 86400.0
LEARNERS = tuple(f"learner{i}" for i in range(1, 7))
RESEARCHER = "rhea"  # a researcher of the university, whose jobs run as her own account


def account(member: str) -> str:
    return f"aitc-lab-{member}"


def rig_lab(learners: tuple[str, ...] = LEARNERS) -> Lab:
    """A school running the course, a university whose instructor teaches it and whose
    researcher runs jobs, the learners."""
    orgs = (
        Organisation(
            "school", "School", OrgKind.EDUCATION, 1.0, (Project("course", "Course", "school"),)
        ),
        Organisation("uni", "University", OrgKind.RESEARCH, 2.0, (Project("vision", "V", "uni"),)),
    )
    members = (
        Member("carol", "Carol", "carol@uni.example", "uni", Role.INSTRUCTOR, ()),
        Member(RESEARCHER, "Rhea", "rhea@uni.example", "uni", Role.MEMBER, ("vision",),
               unix_user=account(RESEARCHER)),
        *(
            Member(m, m.title(), f"{m}@school.example", "school", Role.LEARNER, ("course",),
                   unix_user=account(m))
            for m in learners
        ),
    )  # fmt: skip
    return Lab("lab-rig", Cluster("rig", ()), orgs, members)


def lab_python(base: Path) -> str:
    """An interpreter learners may run with the server's packages (jupyter-server) on its path."""
    path = base / "labpython"
    site = sysconfig.get_paths()["purelib"]
    path.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec /usr/bin/python3 "$@"\n')
    path.chmod(0o755)
    return str(path)


class LabRig:
    """See the module docstring. ``turn()`` runs one controller pass and one keeper pass."""

    def __init__(
        self, base: Path, learners: tuple[str, ...] = LEARNERS, policy: str = "fifo"
    ) -> None:
        from fastapi.testclient import TestClient

        from aitc.control.api import Settings, create_app

        ensure_learners(learners)
        state = base / "state"
        state.mkdir(mode=0o700)
        self.clock = FakeClock()
        self.store = Store.open(f"sqlite:///{state / 'aitc.db'}")
        with self.store.session() as s:
            apply_lab(session=s, lab=rig_lab(learners))
            self.tokens = {"admin": bootstrap_admin(session=s, now=self.clock.now())}
            for m in ("carol", RESEARCHER, *learners):
                self.tokens[m] = create_token(
                    session=s, member_id=m, name="t", now=self.clock.now()
                )[1]
        self.executor = LocalExecutor(
            state / "local", virtual_gpus=2, node_name="node0", grace_s=1.0
        )
        self.controller = Controller(
            store=self.store, executor=self.executor, policy=PolicySpec(policy),
            cluster=cluster_from_inventory("rig", self.executor.inventory()), clock=self.clock,
            config=ControllerConfig(log_dir=state / "logs"),
        )  # fmt: skip
        self.controller.reconcile()  # records node0, so sessions can reserve its seats
        first = random.randrange(20000, 29000, 100)  # apart from another run's labs
        self.settings = LabSettings(python=lab_python(base), ports=(first, first + 99))
        self.keeper = LabKeeper(store=self.store, clock=self.clock, settings=self.settings)
        app = create_app(
            Settings(store=self.store, clock=self.clock, credential_key=state / "issuer.key")
        )
        self.client = TestClient(app)

    def call(self, member: str, method: str, path: str, json: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[member]}"}
        return self.client.request(method, f"/api/v1{path}", json=json, headers=headers)

    def ok(self, member: str, method: str, path: str, json: Any = None) -> Any:
        r = self.call(member, method, path, json)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def turn(self) -> None:
        self.controller.step()
        self.keeper.step()

    def until(self, what: Callable[[], T], timeout: float = 120.0) -> T:
        """Turn until ``what()`` is truthy (real processes take real time to start)."""
        deadline = time.monotonic() + timeout
        while True:
            self.turn()
            found = what()
            if found:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"still waiting after {timeout:.0f} s for {what.__doc__ or what}")
            time.sleep(0.2)

    def close(self) -> None:
        """Stop every job (and whatever it left), then the store."""
        with self.store.session() as s:
            for job in jobs_in_states(session=s, states=[JobState.STARTING, JobState.RUNNING]):
                self.executor.cancel(job.id, job.attempt)
        for child in (self.executor.state_dir / "attempts").glob("*/child.json"):
            with contextlib.suppress(ProcessLookupError, ValueError, KeyError, OSError):
                os.killpg(json.loads(child.read_text())["pid"], signal.SIGKILL)
        self.client.close()
        self.executor.close()
        self.store.close()


def ensure_learners(learners: tuple[str, ...] = LEARNERS) -> None:
    """Create the learners' (and the researcher's) Unix accounts unless they exist (kept for
    the next run)."""
    for m in (*learners, RESEARCHER):
        ensure_user(account(m))


def home(member: str) -> Path:
    return Path(pwd.getpwnam(account(member)).pw_dir)
