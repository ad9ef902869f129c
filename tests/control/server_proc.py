"""``aitc serve`` as a real subprocess, for end-to-end and crash tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "examples" / "joint-lab.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PortTaken(RuntimeError):
    """Another process took the port between choosing it and binding it."""


class ServerProcess:
    """One ``aitc serve`` on a state directory; ``start()`` again after ``kill()`` restarts it."""

    def __init__(
        self,
        state_dir: Path,
        *,
        db_url: str | None = None,
        gpus: int = 8,
        grace_s: float = 1.0,
        lab: Path = LAB,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.extra_env = dict(env or {})
        self.cwd = cwd or state_dir.parent
        self.state_dir, self.db_url, self.gpus = state_dir, db_url, gpus
        self.grace_s, self.lab, self.extra = grace_s, lab, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token: str | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.starts = 0
        self.output: list[str] = []

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-c",
            "from aitc.cli.main import app; app()",
            "serve",
            "--lab",
            str(self.lab),
            "--virtual-gpus",
            str(self.gpus),
            "--state-dir",
            str(self.state_dir),
            "--port",
            str(self.port),
            "--grace",
            str(self.grace_s),
            "--node-name",
            "node0",
            *self.extra,
        ]
        return cmd + (["--db", self.db_url] if self.db_url else [])

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait for its banner (reads the admin token on first start).

        A port another process took meanwhile is replaced by a new one (read ``url`` again).
        """
        for _ in range(3):
            try:
                return self._start(timeout)
            except PortTaken:
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError("no free port for aitc serve")

    def _start(self, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AITC_")}
        env.update(self.extra_env)
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=self.cwd,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        seen = []
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                output = "".join(seen)
                if "address already in use" in output:
                    raise PortTaken(output)
                raise RuntimeError("aitc serve exited:\n" + output)
            seen.append(line)
            if line.startswith("admin token (shown once"):
                self.token = line.rsplit(" ", 1)[1].strip()
            if line.startswith("admin token"):  # the banner's last line
                self.output.extend(seen)
                threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()
                return
        raise RuntimeError("aitc serve did not start:\n" + "".join(seen))

    def _drain(self, stream: Any) -> None:
        """Keep reading the server's output, so a full pipe never blocks it."""
        for line in stream:
            self.output.append(line)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.proc = None

    def client(self, timeout: float = 30.0) -> httpx.Client:
        assert self.token is not None
        return httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}"},
        )


def wait_until(fetch: Any, done: Any, timeout: float = 30.0, every: float = 0.05) -> Any:
    """Call ``fetch()`` until ``done(value)``; return the value (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s; last value: {value!r}")
