"""`aitc run` as a Slurm user runs `srun --pty`, against a real `aitc serve` (8 virtual GPUs,
the local executor), with `aitc run` a real process: input piped or typed on a real
pseudo-terminal, output streamed back, the job's exit code passed on, the pending reason
printed while it waits, Ctrl-C cancelling, and a client that goes away hanging the job up."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from typing import Any

import pytest
from server_proc import ServerProcess, wait_until
from test_cli_slurm_habits import aitc, ended, job, submitted
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("run") / "var")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def command(server: ServerProcess, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "AITC_URL": server.url, "AITC_TOKEN": server.token or ""}
    env["XDG_CONFIG_HOME"] = "/-"
    return [sys.executable, "-c", "from aitc.cli.main import app; app()", "run", *args], env


def run(
    server: ServerProcess, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    cmd, env = command(server, *args)
    return subprocess.run(cmd, input=stdin, capture_output=True, env=env, timeout=120)


def started(server: ServerProcess, proc: subprocess.Popen[bytes], state: str) -> int:
    """The job of a running `aitc run`, once its stderr says it is ``state``."""
    assert proc.stderr is not None
    line = b""
    while f": {state}".encode() not in line:
        line = proc.stderr.readline()
        assert line, "aitc run ended early"
    return int(line.split(b"job ", 1)[1].split(b":")[0])


def last_job(server: ServerProcess) -> dict[str, Any]:
    data = json.loads(aitc(server, "history", "--json", "--limit", "1")[1])["data"]
    return dict(data[0])


def test_piped_input_reaches_the_job_and_its_exit_code_is_the_commands(
    server: ServerProcess,
) -> None:
    script = 'read line; echo "got $line"; echo oops >&2; cat; exit 3'
    done = run(server, "--", "sh", "-c", script, stdin=b"first\nsecond\nthird\n")
    assert done.returncode == 3
    assert done.stdout == b"got first\nsecond\nthird\n"
    lines = done.stderr.decode().splitlines()
    assert lines[0].startswith("aitc run: job ") and ": pending: " in lines[0]
    assert ": running on node0 (GPUs " in lines[1]
    assert "oops" in lines and lines[-1].endswith(": failed: exited with code 3")
    assert last_job(server)["terminal"] == "pipes"


def test_a_job_on_a_pty_follows_the_terminal_typed_into(server: ServerProcess) -> None:
    """The client's own terminal is a real pty: raw mode, the window's size, keys typed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    script = 'tty; stty size; read x; echo "got $x"; exit 7'
    cmd, env = command(server, "--", "sh", "-c", script)
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = _read_until(master, b"31 97")
    os.write(master, b"typed\r")
    seen += _read_until(master, b"got typed")
    assert proc.wait(60) == 7
    assert b"/dev/pts/" in seen
    assert termios.tcgetattr(master)[3] & termios.ECHO  # the client's terminal restored
    os.close(master)


def _read_until(fd: int, want: bytes, timeout: float = 60.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while want not in out:
        assert time.monotonic() < deadline, out
        if select.select([fd], [], [], 0.5)[0]:
            out += os.read(fd, 4096)
    return out


def interruptible() -> None:
    """The client as a terminal starts it: Ctrl-C (SIGINT) at its default, even where this
    test itself was started in the background with SIGINT ignored (which the child would
    inherit, and then Python never turns SIGINT into KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_it_says_why_it_waits_and_ctrl_c_cancels_the_waiting_job(server: ServerProcess) -> None:
    code, out, _ = aitc(server, "submit", "--gpus", "8", "--", "sleep", "60")
    hog = submitted(out)
    wait_until(lambda: job(server, hog), lambda j: j["state"] == "running")
    cmd, env = command(server, "--gpus", "4", "--", "true")
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=interruptible,
    )
    waiting = started(server, proc, "pending: It needs 4 GPUs")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    assert job(server, waiting)["state"] == "cancelled"
    aitc(server, "cancel", str(hog))
    ended(server, hog)


def test_ctrl_c_cancels_a_running_job_without_a_terminal(server: ServerProcess) -> None:
    cmd, env = command(server, "--", "sleep", "60")
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=interruptible
    )
    running = started(server, proc, "running on")
    time.sleep(0.5)  # attached
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    assert ended(server, running)["state"] == "cancelled"


def test_a_client_gone_hangs_the_jobs_terminal_up(server: ServerProcess) -> None:
    cmd, env = command(server, "--pty", "--", "sleep", "60")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    running = started(server, proc, "running on")
    time.sleep(1.0)  # attached
    proc.kill()
    proc.wait()
    gone = ended(server, running)
    assert (gone["state"], gone["exit_code"]) == ("failed", 128 + signal.SIGHUP)


def test_only_an_interactive_job_of_ones_own_has_a_terminal(server: ServerProcess) -> None:
    code, out, _ = aitc(server, "submit", "--hold", "--", "true")
    batch = submitted(out)
    url = server.url.replace("http", "ws", 1) + f"/api/v1/jobs/{batch}/terminal"
    cases = [
        ({}, "a valid API token is required"),
        (
            {"Authorization": f"Bearer {server.token}"},
            f"job {batch} was not submitted with aitc run",
        ),
    ]
    for headers, reason in cases:
        with connect(url, additional_headers=headers) as ws:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert (ws.close_code, ws.close_reason) == (4403, reason)
    aitc(server, "cancel", str(batch))
