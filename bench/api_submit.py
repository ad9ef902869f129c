"""Submissions per second over HTTP, with 16 concurrent clients, on SQLite and on PostgreSQL.

Starts the real server (uvicorn on 127.0.0.1, in its own process) on a fresh database, seeds
one organisation, project, member and token, then has 16 clients (asyncio + httpx, keep-alive)
submit jobs as fast as the server answers, each with its own Idempotency-Key. Prints, per
database: submissions/s, p50 and p99 latency and the server's CPU time per submission, once with
minimal asyncio clients (raw HTTP/1.1 on keep-alive sockets: nearly all the CPU goes to the
server) and once with httpx clients, and ``GET /healthz`` (the HTTP floor, no database write)
as the baseline, with the ratio between the two.

    .venv/bin/python bench/api_submit.py [--count 4000] [--clients 16] [--db sqlite,postgresql]
        [--baseline /path/to/old/src]

``--baseline`` runs a second server from another source tree (a copy of an earlier ``src/``)
right after this one's, on a fresh database of its own, and prints the ratio between the two.

``--pending N`` measures submissions while the controller plans over a long queue (the
target: with 20,000 pending, at least 80% of the submissions/s of an empty queue). The server
is then ``aitc serve`` itself, controller included, with the ``fake`` executor (one node of
8 GPUs, no processes). Each database gets two fresh servers, up at the same time: one with an
empty queue and one with N pending jobs (1-4 GPUs, stored through the store's ``create_job``
as job arrays before it starts). In both, an 8-GPU job seeded first runs on the whole node,
so every job the clients submit stays pending too, and the controller, woken by each
submission, passes over the whole queue while they submit. Once each controller has started
that job and written the queue's reasons, 16 raw clients per server submit to both servers
at once until one of them has answered ``--count`` (default 12,000 here: the measurement
lasts more than the 10 s after which a controller explains a changing queue again, so that
work is in it), so a change in the machine's load hits both alike. Prints, per server, the
figures above and the controller's passes in that time (from ``/metrics``), then the ratio
and the target. With ``--baseline``, the other tree seeds (its own schema) and serves
databases of its own the same way.

    .venv/bin/python bench/api_submit.py --pending 20000 [--count 12000] [--db sqlite]

PostgreSQL is a throwaway server started like the test fixtures (needs root: initdb runs as
the postgres user); pass --pg-url to use one you have instead (not with ``--pending``, which
needs fresh databases).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "control"))  # the throwaway PostgreSQL of the tests
TARGET_RATIO = 0.80  # submissions/s with the queue seeded, at least this share of an empty one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str) -> str:
    """One organisation, project, member with a token, and one 8-GPU node; returns the token."""
    from aitc.control.store import NodeRecord, Store, apply_lab, create_token, upsert_nodes
    from aitc.domain.cluster import Cluster
    from aitc.domain.lab import Lab
    from aitc.domain.org import Member, Organisation, OrgKind, Project, Role

    org = Organisation("uni", "Uni", OrgKind.RESEARCH, 1.0, (Project("p", "P", "uni"),))
    member = Member("m", "M", "m@uni.example", "uni", Role.MEMBER, ("p",))
    store = Store.open(url)
    with store.session() as s:
        apply_lab(session=s, lab=Lab("bench", Cluster("c", ()), (org,), (member,)))
        upsert_nodes(session=s, nodes=[NodeRecord("n1", 8, "H100-80GB")], now=time.time())
        secret = create_token(session=s, member_id="m", name="bench", now=time.time())[1]
    store.close()
    return secret


def admin_token(url: str) -> str:
    """A token of the operators' admin (``GET /metrics``)."""
    from aitc.control.store import Store
    from aitc.control.store.tokens import bootstrap_admin

    store = Store.open(url)
    with store.session() as s:
        secret = bootstrap_admin(session=s, now=time.time())
    store.close()
    return secret


def seed_all(url: str, pending: int) -> dict[str, Any]:
    """What ``--pending`` seeds, run by the code that will serve ``url`` (a baseline's own
    schema and store): the member's and the admin's tokens, the queue's first and last job."""
    token, admin = seed(url), admin_token(url)
    began = time.perf_counter()
    first, last = seed_queue(url, pending)
    return dict(
        token=token, admin=admin, first=first, last=last, seconds=time.perf_counter() - began
    )


def seed_queue(url: str, pending: int) -> tuple[int, int]:
    """An 8-GPU job that the controller starts first (the oldest) and that fills the node, then
    ``pending`` jobs of 1-4 GPUs that cannot start while it runs; returns the ids of the first
    and the last. Stored through the store's ``create_job`` in one transaction, the pending
    ones as job arrays of up to 5,000 tasks (one bulk ``INSERT`` each: 20,000 jobs one by one
    take minutes on PostgreSQL). To the controller and the engine an array's task is a job like
    any other."""
    from sqlalchemy import func, select

    from aitc.control.store import JobRow, JobSpec, Store, create_job, load_caller

    store = Store.open(url)
    now = time.time()
    with store.session() as s:
        caller = load_caller(session=s, member_id="m")
        fill = JobSpec(command=("train",), gpus=8, time_limit=3600)
        first = create_job(session=s, spec=fill, caller=caller, now=now)[0].id
        for k, at in enumerate(range(0, pending, 5000)):
            tasks = f"0-{min(pending - at, 5000) - 1}"
            spec = JobSpec(command=("train",), gpus=1 + k % 4, time_limit=3600, array=tasks)
            create_job(session=s, spec=spec, caller=caller, now=now)
        last = s.scalar(select(func.max(JobRow.id)))
    store.close()
    return first, int(last or first)


def serve(url: str, port: int) -> None:
    """The server process: the API alone on ``url`` (no controller), quiet logs."""
    import uvicorn

    from aitc.control.api import Settings, create_app

    app = create_app(Settings(database_url=url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def aitc_serve(url: str, port: int, state_dir: str) -> list[str]:
    """``aitc serve`` on ``url``, controller included, with the ``fake`` executor: one node
    (``n1``, the node ``seed`` records) of 8 GPUs, jobs that run without processes."""
    return [
        sys.executable,
        "-c",
        "from aitc.cli.main import app; app()",
        "serve",
        *("--executor", "fake", "--virtual-gpus", "8", "--node-name", "n1"),
        *("--db", url, "--state-dir", state_dir, "--port", str(port)),
    ]


def server_env(src: str | None) -> dict[str, str]:
    """The environment of a server (and of its seeding): ``src``'s package, if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AITC_")}
    if src:
        env["PYTHONPATH"] = src
    return env


def start_server(
    url: str, src: str | None = None, state_dir: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The server on ``url``: the API alone, or with ``state_dir`` ``aitc serve`` with its
    controller; with ``src``, the ``aitc`` package found there (a baseline)."""
    port = free_port()
    env = server_env(src)
    cmd = [sys.executable, __file__, "--serve", url, str(port)]
    if state_dir is not None:
        cmd = aitc_serve(url, port, state_dir)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


class RawClient:
    """A keep-alive HTTP/1.1 client on asyncio streams: a few microseconds per request, so the
    16 clients leave the CPU to the server (httpx costs about as much CPU as the server does)."""

    def __init__(self, base: str, token: str) -> None:
        self.host, self.port = base.removeprefix("http://").split(":")
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, int(self.port))
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}{headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(
    base: str,
    token: str,
    count: int,
    clients: int,
    submit: bool,
    raw: bool = False,
    stop: asyncio.Event | None = None,
) -> list[float]:
    """``count`` requests from ``clients`` concurrent clients; returns each latency (s). With
    ``stop``: fewer, if it is set first, and it is set once ``count`` have been answered."""
    latencies: list[float] = []
    body = json.dumps({"command": ["python", "train.py"], "gpus": 1, "time_limit": 3600})
    count -= count % clients  # each client makes as many

    async def with_httpx(n: int) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            for _ in range(n):
                t0 = time.perf_counter()
                if submit:
                    r = await http.post(
                        "/api/v1/jobs", content=body, headers={"Idempotency-Key": uuid.uuid4().hex}
                    )
                else:
                    r = await http.get("/healthz")
                r.raise_for_status()
                latencies.append(time.perf_counter() - t0)

    async def with_raw(n: int) -> None:
        client = RawClient(base, token)
        for _ in range(n):
            if stop is not None and stop.is_set():
                break
            t0 = time.perf_counter()
            if submit:
                key = f"Idempotency-Key: {uuid.uuid4().hex}\r\n"
                status = await client.request("POST", "/api/v1/jobs", body.encode(), key)
            else:
                status = await client.request("GET", "/healthz")
            if status >= 300:
                raise SystemExit(f"the server answered {status}")
            latencies.append(time.perf_counter() - t0)
            if stop is not None and len(latencies) >= count:
                stop.set()
        await client.close()

    run = with_raw if raw else with_httpx
    await asyncio.gather(*(run(count // clients) for _ in range(clients)))
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    base: str, token: str, count: int, clients: int, submit: bool, pid: int, raw: bool
) -> tuple[float, float, float, float]:
    """Requests/s, p50 and p99 latency (ms), and the server's CPU time per request (ms)."""
    asyncio.run(drive(base, token, min(count, 200), clients, submit, raw))  # warm up
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    lat = asyncio.run(drive(base, token, count, clients, submit, raw))
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    q = statistics.quantiles(lat, n=100)
    return len(lat) / wall, q[49] * 1000, q[98] * 1000, cpu / len(lat) * 1000


def line(name: str, what: str, figures: tuple[float, float, float, float]) -> str:
    rate, p50, p99, cpu = figures
    return (
        f"{name:<16} {what:<24} {rate:6.0f}/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
        f"server CPU {cpu:.2f} ms/request"
    )


def bench(name: str, url: str, count: int, clients: int, src: str | None = None) -> float:
    """Print the figures of one server (``src``: a baseline's source tree); its submissions/s."""
    token = seed(url)
    proc, base = start_server(url, src)
    try:
        floor = measure(base, token, count, clients, submit=False, pid=proc.pid, raw=True)
        raw = measure(base, token, count, clients, submit=True, pid=proc.pid, raw=True)
        lib = measure(base, token, count, clients, submit=True, pid=proc.pid, raw=False)
    finally:
        proc.terminate()
        proc.wait(10)
    if src:
        name = f"{name} (old)"
    print(line(name, "submit, raw asyncio", raw))
    print(line(name, "submit, httpx clients", lib))
    print(line(name, "healthz, raw asyncio", floor))
    print(
        f"{name:<16} submit/healthz {raw[0] / floor[0]:.2f}; one core would submit "
        f"{1000 / raw[3]:.0f}/s at {raw[3]:.2f} ms CPU each"
    )
    return raw[0]


def wait_until_planned(base: str, token: str, first: int, last: int, timeout: float = 600) -> None:
    """Until the controller runs job ``first`` (the node is full) and has written why job
    ``last`` waits (it has read the whole queue and explained it once)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fill = httpx.get(f"{base}/api/v1/jobs/{first}", headers=headers, timeout=30).json()
        tail = httpx.get(f"{base}/api/v1/jobs/{last}", headers=headers, timeout=30).json()
        if fill["state"] == "running" and (last == first or tail["pending_reasons"]):
            return
        time.sleep(0.5)
    raise SystemExit(f"the controller did not start job {first} or explain job {last} in time")


@dataclass
class Queued:
    """One ``aitc serve`` of a ``--pending`` run and what was measured on it."""

    label: str
    proc: subprocess.Popen[bytes]
    base: str
    token: str
    admin: str
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    passes: tuple[float, float] = (0.0, 0.0)  # the controller's passes, and their seconds

    async def submit(self, count: int, clients: int, stop: asyncio.Event) -> None:
        """Submissions from ``clients`` raw clients until ``stop`` (set by the first server
        to have answered ``count``)."""
        cpu0, t0 = cpu_seconds(self.proc.pid), time.perf_counter()
        self.latencies = await drive(self.base, self.token, count, clients, True, True, stop)
        self.wall = time.perf_counter() - t0
        self.cpu = cpu_seconds(self.proc.pid) - cpu0

    def controller(self) -> tuple[float, float]:
        """Passes of the controller so far and their seconds, from ``/metrics``."""
        headers = {"Authorization": f"Bearer {self.admin}"}
        text = httpx.get(f"{self.base}/metrics", headers=headers, timeout=60).text
        figures = dict(line.split(" ", 1) for line in text.splitlines() if line[:1] != "#")
        name = "aitc_scheduler_pass_duration_seconds"
        return float(figures.get(f"{name}_count", 0)), float(figures.get(f"{name}_sum", 0))

    def figures(self) -> tuple[float, float, float, float]:
        n, q = len(self.latencies), statistics.quantiles(self.latencies, n=100)
        return n / self.wall, q[49] * 1000, q[98] * 1000, self.cpu / n * 1000


def start_queued(name: str, url: str, pending: int, state: str, src: str | None) -> Queued:
    """``aitc serve`` (controller on the fake executor) on ``url`` with ``pending`` jobs
    waiting behind a job that fills the node, once its controller has read and explained
    them, warmed up with 200 submissions."""
    cmd = [sys.executable, __file__, "--seed", url, str(pending)]
    out = subprocess.run(cmd, env=server_env(src), check=True, capture_output=True, text=True)
    seeded = json.loads(out.stdout.splitlines()[-1])
    token = seeded["token"]
    what = f"{pending} pending" if pending else "empty queue"
    if pending:
        print(f"{name:<16} {pending} jobs seeded in {seeded['seconds']:.1f} s", flush=True)
    proc, base = start_server(url, src, state_dir=state)
    queued = Queued(f"{what}, controller", proc, base, token, seeded["admin"])
    try:
        wait_until_planned(base, token, seeded["first"], seeded["last"])
        asyncio.run(drive(base, token, 200, 16, True, True))
    except BaseException:
        proc.kill()
        raise
    return queued


def compare_queues(
    name: str, fresh: Callable[[], str], args: argparse.Namespace, src: str | None = None
) -> float:
    """An empty queue and ``--pending`` jobs, each on a fresh database and server, measured at
    the same time (a change in the machine's load hits both alike); prints their figures and
    the ratio against the target, and returns the ratio."""
    label = f"{name} (old)" if src else name

    async def both(servers: list[Queued]) -> None:
        stop = asyncio.Event()
        await asyncio.gather(*(s.submit(args.count, args.clients, stop) for s in servers))

    def measure_both(servers: list[Queued]) -> None:
        before = [s.controller() for s in servers]
        asyncio.run(both(servers))
        for server, (passes, seconds) in zip(servers, before, strict=True):
            now = server.controller()
            server.passes = (now[0] - passes, now[1] - seconds)

    with tempfile.TemporaryDirectory() as tmp:
        servers: list[Queued] = []
        try:
            for i, pending in enumerate((0, args.pending)):
                servers.append(start_queued(label, fresh(), pending, f"{tmp}/{i}", src))
            measure_both(servers)
        finally:
            for server in servers:
                server.proc.terminate()
                server.proc.wait(30)
    empty, full = (s.figures() for s in servers)
    for server in servers:
        print(line(label, server.label, server.figures()), flush=True)
        count, seconds = server.passes
        print(
            f"{'':<16} {'':<24} {len(server.latencies)} submissions in {server.wall:.1f} s, "
            f"{count:.0f} controller passes of {seconds / max(count, 1) * 1000:.1f} ms",
            flush=True,
        )
    ratio = full[0] / empty[0]
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"{label:<16} {args.pending} pending / empty queue: {ratio:.2f} of the submissions/s, "
        f"{full[3] / empty[3]:.2f}x the server CPU per submission "
        f"(target: at least {TARGET_RATIO:.2f}) {verdict}",
        flush=True,
    )
    return ratio


def compare(name: str, fresh: Callable[[], str], args: argparse.Namespace) -> None:
    """This tree's server and, with ``--baseline``, the baseline's, back to back."""
    if args.pending is not None:
        compare_queues(name, fresh, args)
        if args.baseline:
            compare_queues(name, fresh, args, args.baseline)
        return
    rate = bench(name, fresh(), args.count, args.clients)
    if args.baseline:
        old = bench(name, fresh(), args.count, args.clients, args.baseline)
        print(f"{name:<16} submit, raw asyncio: {rate / old:.2f}× the baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--count", type=int, default=None, help="default: 4000, with --pending 12000"
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also measure the aitc package in SRC (a copy of an older src/), back to back",
    )
    parser.add_argument(
        "--pending",
        type=int,
        metavar="N",
        help="measure aitc serve with its controller, on an empty queue and with N jobs "
        "pending (e.g. 20000)",
    )
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", nargs=2, metavar=("URL", "PENDING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    if args.seed:
        print(json.dumps(seed_all(args.seed[0], int(args.seed[1]))))
        return
    if args.pending is not None and args.pending < 1:
        parser.error(f"--pending: must be at least 1 (got {args.pending})")
    if args.pending is not None and args.pg_url:
        parser.error("--pending: needs a fresh database per server, not one given by --pg-url")
    if args.count is None:
        args.count = 4000 if args.pending is None else 12_000
    load = os.getloadavg()[0]
    print(
        f"{args.count} requests, {args.clients} concurrent clients, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.db:
            names = (f"sqlite:///{tmp}/aitc{i}.db" for i in itertools.count())
            compare("sqlite", lambda: next(names), args)
    if "postgresql" in args.db:
        bench_postgres(args)


def bench_postgres(args: argparse.Namespace) -> None:
    if args.pg_url:
        bench("postgresql", args.pg_url, args.count, args.clients)  # one database: no baseline
        return
    from pgserver import postgres_available, start_server, stop_server

    reason = postgres_available()
    if reason:
        print(f"postgresql  skipped: {reason}")
        return
    server = start_server()
    names = itertools.count()

    def empty() -> str:
        """An empty database: with --pending the code that serves it migrates it (a baseline
        has a schema of its own)."""
        name = f"pending{next(names)}"
        server.execute(f"CREATE DATABASE {name}")
        return server.url(name)

    try:
        compare("postgresql", server.fresh_database if args.pending is None else empty, args)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
