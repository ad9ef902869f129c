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

PostgreSQL is a throwaway server started like the test fixtures (needs root: initdb runs as
the postgres user); pass --pg-url to use one you have instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "control"))  # the throwaway PostgreSQL of the tests


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


def serve(url: str, port: int) -> None:
    """The server process: the API alone on ``url`` (no controller), quiet logs."""
    import uvicorn

    from aitc.control.api import Settings, create_app

    app = create_app(Settings(database_url=url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(url: str, src: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """The server on ``url``; with ``src``, the ``aitc`` package found there (a baseline)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=src) if src else None
    proc = subprocess.Popen([sys.executable, __file__, "--serve", url, str(port)], env=env)
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
    base: str, token: str, count: int, clients: int, submit: bool, raw: bool = False
) -> list[float]:
    """``count`` requests from ``clients`` concurrent clients; returns each latency (s)."""
    latencies: list[float] = []
    body = json.dumps({"command": ["python", "train.py"], "gpus": 1, "time_limit": 3600})

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
            t0 = time.perf_counter()
            if submit:
                key = f"Idempotency-Key: {uuid.uuid4().hex}\r\n"
                status = await client.request("POST", "/api/v1/jobs", body.encode(), key)
            else:
                status = await client.request("GET", "/healthz")
            if status >= 300:
                raise SystemExit(f"the server answered {status}")
            latencies.append(time.perf_counter() - t0)
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


def compare(name: str, urls: tuple[str, str], args: argparse.Namespace) -> None:
    """This tree's server and, with ``--baseline``, the baseline's, back to back."""
    rate = bench(name, urls[0], args.count, args.clients)
    if args.baseline:
        old = bench(name, urls[1], args.count, args.clients, args.baseline)
        print(f"{name:<16} submit, raw asyncio: {rate / old:.2f}× the baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also measure the aitc package in SRC (a copy of an older src/), back to back",
    )
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    load = os.getloadavg()[0]
    print(
        f"{args.count} requests, {args.clients} concurrent clients, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.db:
            compare("sqlite", (f"sqlite:///{tmp}/aitc.db", f"sqlite:///{tmp}/old.db"), args)
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
    try:
        compare("postgresql", (server.fresh_database(), server.fresh_database()), args)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
