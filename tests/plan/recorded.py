"""A history recorded by the controller (FakeExecutor, simulated clock, one pass a second):
ten jobs of three organisations (uni, acme, globex) on one 8-GPU node."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "control"))

from controller_rig import Rig  # noqa: E402

from aitc.control.clock import FakeClock  # noqa: E402
from aitc.control.store import Store  # noqa: E402

# (submit second, member, GPUs, runtime seconds): more work than one 8-GPU node holds at once
JOBS = [
    (0, "alice", 4, 120),
    (5, "pat", 4, 80),
    (10, "bob", 8, 160),
    (20, "quinn", 2, 40),
    (25, "alice", 2, 100),
    (40, "pat", 6, 60),
    (60, "erin", 1, 200),
    (70, "bob", 4, 50),
    (90, "quinn", 8, 25),
    (95, "alice", 1, 12),
]


def record(tmp: Path, policy: str) -> tuple[str, float]:
    """Run JOBS through the controller and return the store's URL and the start time."""
    url = f"sqlite:///{tmp / 'aitc.db'}"
    store, clock = Store.open(url), FakeClock()
    t0 = clock.now()
    rig = Rig(store, clock, tmp, nodes=1, gpus=8, policy=policy)
    runtime: dict[int, float] = {}
    pending = list(JOBS)
    for _ in range(3000):
        now = clock.now() - t0
        while pending and pending[0][0] <= now:
            _, member, gpus, seconds = pending.pop(0)
            runtime[rig.submit(member, gpus=gpus, time_limit=3600)] = seconds
        for job_id, _attempt in rig.fake.running():
            started = rig.job(job_id).started_at
            if started is not None and clock.now() - started >= runtime[job_id]:
                rig.fake.finish(job_id)
        rig.step(1.0)
        if not pending and not rig.fake.running() and len(runtime) == len(JOBS):
            rig.step(1.0)  # record the last exits
            break
    store.close()
    return url, t0
