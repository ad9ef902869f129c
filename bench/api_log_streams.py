"""Many log-follow streams from one member must not hurt another member's requests.

Starts the real server (uvicorn on 127.0.0.1, the API alone, in its own process) on a fresh
SQLite database, seeds two members of one project and a running job of the first whose output
file grows by a line every 0.1 s. The first member opens ``--streams`` concurrent
``GET /jobs/{id}/logs?follow=true`` streams; while they are open the second member sends
``--requests`` ``GET /api/v1/jobs`` (8 at a time). Prints how many streams were accepted and
refused (429), and for the second member's requests: how many got no 5xx, and p50/p99 latency.

    .venv/bin/python bench/api_log_streams.py [--streams 200] [--requests 400]
        [--max-follows 200] [--baseline /path/to/old/src]

``--max-follows`` is the server's per-member cap on follow streams (the default server caps at
16; the bench raises it so that all streams are open and their cost shows). ``--baseline``
runs the same on a server from another source tree (a copy of an earlier ``src/``) afterwards.
Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str, log: Path) -> tuple[str, str, int]:
    """Two members of one project, a running job of the first logging to ``log``; returns
    both tokens and the job's id."""
    from aitc.control.store import (
        JobRow,
        NodeRecord,
        Store,
        apply_lab,
        create_token,
        transition,
        upsert_nodes,
    )
    from aitc.control.store.access import load_caller
    from aitc.control.store.jobs import create_job
    from aitc.control.store.specs import JobSpec
    from aitc.domain.cluster import Cluster
    from aitc.domain.job import JobState
    from aitc.domain.lab import Lab
    from aitc.domain.org import Member, Organisation, OrgKind, Project, Role

    org = Organisation("uni", "Uni", OrgKind.RESEARCH, 1.0, (Project("p", "P", "uni"),))
    members = tuple(
        Member(m, m, f"{m}@uni.example", "uni", Role.MEMBER, ("p",)) for m in ("m1", "m2")
    )
    store = Store.open(url)
    now = time.time()
    with store.session() as s:
        apply_lab(session=s, lab=Lab("bench", Cluster("c", ()), (org,), members))
        upsert_nodes(session=s, nodes=[NodeRecord("n1", 8, "H100-80GB")], now=now)
        tokens = [create_token(session=s, member_id=m.id, name="b", now=now)[1] for m in members]
        for _ in range(50):  # something for m2 to list
            create_job(
                session=s,
                spec=JobSpec(command=("true",)),
                caller=load_caller(session=s, member_id="m2"),
                now=now,
            )
        job, _ = create_job(
            session=s,
            spec=JobSpec(command=("train",)),
            caller=load_caller(session=s, member_id="m1"),
            now=now,
        )
        s.flush()
        row = s.get_one(JobRow, job.id)
        transition(session=s, job=row, to=JobState.RUNNING, cause="started", now=now)
        row.stdout_path, row.stderr_path = str(log), str(log)
        job_id = job.id
    store.close()
    return tokens[0], tokens[1], job_id


def serve(url: str, port: int, max_follows: int) -> None:
    """The server process: the API alone on ``url`` (no controller), quiet logs."""
    import uvicorn

    from aitc.control.api import Settings, create_app

    known = {f.name for f in dataclasses.fields(Settings)}
    extra = {"max_follows_per_member": max_follows} if "max_follows_per_member" in known else {}
    app = create_app(Settings(database_url=url, **extra))  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(
    url: str, max_follows: int, src: str | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=src) if src else None
    cmd = [sys.executable, __file__, "--serve", url, str(port), str(max_follows)]
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def grow(log: Path, stop: threading.Event) -> None:
    """Append a line to the job's output every 0.1 s."""
    n = 0
    while not stop.wait(0.1):
        with log.open("a") as f:
            f.write(f"step {n} loss {1 / (n + 1):.4f}\n")
        n += 1


async def follow(
    base: str, token: str, job_id: int, opened: list[int], stop: asyncio.Event
) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as http:
        url = f"/api/v1/jobs/{job_id}/logs"
        timeout = httpx.Timeout(30.0, read=None)
        try:
            async with http.stream("GET", url, params={"follow": "true"}, timeout=timeout) as r:
                opened.append(r.status_code)
                if r.status_code != 200:
                    return
                async for _ in r.aiter_bytes():
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            opened.append(-1)


async def other_member(base: str, token: str, count: int) -> list[tuple[int, float]]:
    """``count`` ``GET /api/v1/jobs`` of the second member, 8 at a time: (status, seconds)."""
    out: list[tuple[int, float]] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:

        async def one_client(n: int) -> None:
            for _ in range(n):
                t0 = time.perf_counter()
                try:
                    code = (await http.get("/api/v1/jobs")).status_code
                except httpx.HTTPError:
                    code = -1
                out.append((code, time.perf_counter() - t0))

        await asyncio.gather(*(one_client(count // 8) for _ in range(8)))
    return out


async def run(base: str, tokens: tuple[str, str], job_id: int, streams: int, requests: int) -> None:
    stop = asyncio.Event()
    opened: list[int] = []
    followers = [
        asyncio.create_task(follow(base, tokens[0], job_id, opened, stop)) for _ in range(streams)
    ]
    for _ in range(200):  # until every stream has its answer
        if len(opened) >= streams:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    results = await other_member(base, tokens[1], requests)
    stop.set()
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    accepted = sum(1 for c in opened if c == 200)
    refused = sum(1 for c in opened if c == 429)
    ok = sum(1 for c, _ in results if 0 < c < 500)
    times = sorted(t for _, t in results)
    p99 = times[max(0, int(len(times) * 0.99) - 1)]
    print(
        f"  streams: {accepted} open, {refused} refused (429), "
        f"{len(opened) - accepted - refused} failed, {streams - len(opened)} unanswered"
    )
    print(
        f"  other member GET /api/v1/jobs: {ok}/{len(results)} answered without 5xx or timeout; "
        f"p50 {statistics.median(times) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )


def bench(label: str, args: argparse.Namespace, src: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/aitc.db"
        log = Path(tmp) / "job.out"
        log.write_text("")
        tokens = seed(url, log)
        proc, base = start_server(url, args.max_follows, src)
        stop = threading.Event()
        writer = threading.Thread(target=grow, args=(log, stop), daemon=True)
        writer.start()
        try:
            print(f"{label}: {args.streams} follow streams of one member, cap {args.max_follows}")
            asyncio.run(run(base, tokens[:2], tokens[2], args.streams, args.requests))
        finally:
            stop.set()
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--max-follows", type=int, default=200)
    parser.add_argument("--baseline", default=None, help="another src/ to compare with")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), int(args.serve[2]))
        return
    bench("this tree", args, None)
    if args.baseline:
        bench(f"baseline {args.baseline}", args, args.baseline)


if __name__ == "__main__":
    main()
