"""Crash safety: kill -9 the server at random moments while clients submit concurrently.

After every restart the server must keep its promises: every acknowledged job exists exactly
once (clients retry with the same Idempotency-Key until they get an answer), no job runs twice
(each job appends its id to a file; the test counts), and every process that ran while the
server was down was adopted (its job completes) or marked with the cause.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_proc import ServerProcess, wait_until
from sqlalchemy import select

from aitc.control.store import JobEventRow, JobRow, Store

TERMINAL = ("completed", "failed", "cancelled", "timeout")


@dataclass
class CrashRun:
    """Clients submitting through kills and restarts; what they were told is recorded."""

    server: ServerProcess
    runs_file: Path
    submissions: int
    clients: int
    seed: int
    acknowledged: dict[str, int] = field(default_factory=dict)
    kill_times: list[float] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def command(self, key: str) -> list[str]:
        return ["sh", "-c", f'echo "$AITC_JOB_ID {key}" >> {self.runs_file}; sleep 0.2']

    def guarded(self, fn: Any, *args: Any) -> None:
        """Run ``fn`` in a thread, keeping any exception for the test to report."""
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by run()
            with self.lock:
                self.errors.append(exc)

    def submit_all(self, keys: list[str]) -> None:
        client = httpx.Client(
            timeout=10.0, headers={"Authorization": f"Bearer {self.server.token}"}
        )
        with client:
            for key in keys:
                self.acknowledged_as(key, self.submit_until_acknowledged(client, key))

    def submit_until_acknowledged(self, client: httpx.Client, key: str) -> int:
        body = {"command": self.command(key), "gpus": 1, "project": "vision"}
        while True:
            try:
                url = self.server.url + "/api/v1/jobs"  # a restart may have moved the port
                r = client.post(url, json=body, headers={"Idempotency-Key": key})
                if r.status_code in (200, 201):
                    return int(r.json()["id"])
                assert r.status_code >= 500, r.text  # a 4xx would be a bug, not a crash
            except httpx.TransportError:
                pass
            with self.lock:
                self.retries += 1
            time.sleep(0.05)

    def acknowledged_as(self, key: str, job_id: int) -> None:
        with self.lock:
            assert self.acknowledged.setdefault(key, job_id) == job_id

    def kill_and_restart(self, kills: int, stop: threading.Event) -> None:
        rng = random.Random(self.seed)
        for _ in range(kills):
            time.sleep(rng.uniform(0.2, 1.5))
            self.kill_times.append(time.time())
            self.server.kill()
            self.server.start()
        stop.set()

    def run(self, kills: int) -> None:
        keys = [f"crash-{i}-{uuid.uuid4().hex[:8]}" for i in range(self.submissions)]
        threads = [
            threading.Thread(target=self.guarded, args=(self.submit_all, keys[i :: self.clients]))
            for i in range(self.clients)
        ]
        done = threading.Event()
        killer = threading.Thread(target=self.guarded, args=(self.kill_and_restart, kills, done))
        for t in [*threads, killer]:
            t.start()
        for t in [*threads, killer]:
            t.join(timeout=600)
        if self.errors:
            raise self.errors[0]
        assert done.is_set() and not any(t.is_alive() for t in threads)


def _db_url(server: ServerProcess) -> str:
    return server.db_url or f"sqlite:///{(server.state_dir / 'aitc.db').resolve()}"


def check_promises(run: CrashRun) -> None:
    """Every acknowledged job exists once, ran at most once, and ended with a cause."""
    server = run.server
    with server.client() as c:
        wait_until(
            lambda: c.get(
                "/jobs", params={"state": ["pending", "starting", "running"], "limit": 1}
            ).json()["count"],
            lambda n: n == 0,
            timeout=180,
            every=0.5,
        )
    store = Store.open(_db_url(server), upgrade=False)
    try:
        with store.session() as s:
            keys = Counter(s.scalars(select(JobRow.idempotency_key)))
            rows = list(s.scalars(select(JobRow)))
            starts = Counter(
                s.scalars(select(JobEventRow.job_id).where(JobEventRow.to_state == "starting"))
            )
            spans = [(r.started_at or 0.0, r.ended_at or 0.0) for r in rows]
    finally:
        store.close()
    assert len(run.acknowledged) == run.submissions
    assert set(keys) == set(run.acknowledged) and max(keys.values()) == 1
    assert {r.idempotency_key: r.id for r in rows} == run.acknowledged
    ran = Counter(line.split()[0] for line in run.runs_file.read_text().splitlines())
    assert max(ran.values()) == 1, [j for j, n in ran.items() if n > 1]
    for row in rows:
        assert row.state in TERMINAL and row.cause, (row.id, row.state, row.cause)
        if row.state == "completed":
            assert ran[str(row.id)] == 1 and starts[row.id] == row.attempt == 1
    completed = sum(r.state == "completed" for r in rows)
    adopted = sum(1 for k in run.kill_times for a, b in spans if a < k < b)
    print(
        f"\ncrash run: {run.submissions} submissions, {server.starts - 1} kills, "
        f"{run.retries} retries, {completed} completed, {adopted} job-kills survived "
        f"(running at a kill, completed after), seed {run.seed}"
    )
    assert adopted > 0, "no kill hit a running job: the run did not test adoption"


def crash_run(
    tmp_path: Path, *, kills: int, submissions: int, clients: int, db_url: str | None = None
) -> CrashRun:
    server = ServerProcess(tmp_path / "var", db_url=db_url, grace_s=1.0)
    server.start()
    run = CrashRun(
        server,
        tmp_path / "runs.txt",
        submissions,
        clients,
        seed=random.SystemRandom().randrange(1 << 30),
    )
    run.runs_file.touch()
    try:
        run.run(kills)
        check_promises(run)
    except BaseException:
        print("server output (last lines):\n" + "".join(server.output[-80:]))
        raise
    finally:
        server.kill()
    return run


def test_kill_9_at_20_moments_during_500_submissions_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    crash_run(tmp_path, kills=20, submissions=500, clients=4)


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_9_at_20_moments_during_500_submissions_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    crash_run(tmp_path, kills=20, submissions=500, clients=4, db_url=postgres_url)
