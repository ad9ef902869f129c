"""`aitc run` typed by a member who is neither root nor the server's user.

A real ``aitc serve`` runs as root (the security lab: members with Unix accounts of their own);
the member's own ``aitc run`` is a real process running under their Unix account, on a real
pseudo-terminal, with a token of theirs. The job runs as the member's uid, what is typed on the
terminal reaches it, what it writes comes back, and its exit code is the command's.
"""

from __future__ import annotations

import os
import pwd
import select
import site
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from security_lab import ACCOUNT
from server_proc import ServerProcess

SRC = Path(__file__).resolve().parents[2] / "src"


def token_of(server: ServerProcess, member: str) -> str:
    with server.client() as admin:
        r = admin.post("/tokens", json={"member": member, "name": "aitc-run-test"})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def python_for(account: str) -> str:
    """This Python if ``account`` may run it; else the system's of the same version (this one
    may live where only root looks, as pyenv's under /root)."""
    for python in (sys.executable, f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"):
        probe = subprocess.run(["runuser", "-u", account, "--", python, "-c", "pass"], check=False)
        if probe.returncode == 0:
            return python
    pytest.skip(f"{account} may run no Python {sys.version_info[:2]} here")


def aitc_as(account: str, *args: str) -> list[str]:
    """``aitc ARGS`` as the member runs it: this checkout and its packages, their Python."""
    paths = [str(SRC), *site.getsitepackages()]
    code = f"import sys; sys.path[:0] = {paths!r}; from aitc.cli.main import app; app()"
    return [python_for(account), "-I", "-c", code, *args]


def read_until(fd: int, want: bytes, timeout: float = 90.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while want not in out:
        assert time.monotonic() < deadline, out
        if select.select([fd], [], [], 0.5)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:  # the other side closed: nothing more will come
                break
    return out


def test_a_members_aitc_run_runs_as_them_on_their_terminal(
    server: ServerProcess, tmp_path: Path
) -> None:
    account = ACCOUNT["alice"]
    pw = pwd.getpwnam(account)
    assert pw.pw_uid not in (0, os.geteuid())  # neither root nor the server's user
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": pw.pw_dir,
        "USER": account,
        "LOGNAME": account,
        "TERM": "xterm",
        "AITC_URL": server.url,
        "AITC_TOKEN": token_of(server, "alice"),
    }
    master, slave = os.openpty()
    script = (
        't=$(tty); echo "uid=$(id -u) tty=$t owner=$(stat -c %u $t)"; '
        'read line; echo "got $line"; exit 7'
    )
    proc = subprocess.Popen(
        aitc_as(account, "run", "--time", "5", "--", "sh", "-c", script),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=pw.pw_dir,
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=os.getgrouplist(account, pw.pw_gid),
        start_new_session=True,
    )
    os.close(slave)
    try:
        seen = read_until(master, f"owner={pw.pw_uid}".encode())
        assert os.stat(f"/proc/{proc.pid}").st_uid == pw.pw_uid  # the client is theirs too
        os.write(master, b"typed by alice\r")
        seen += read_until(master, b"got typed by alice")
        assert proc.wait(60) == 7, seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert f"uid={pw.pw_uid} tty=/dev/pts/".encode() in seen  # the job's own terminal, theirs
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as api:
        r = api.get("/jobs", headers={"Authorization": f"Bearer {env['AITC_TOKEN']}"})
        job = r.json()["data"][0]
    assert (job["member"], job["terminal"], job["exit_code"]) == ("alice", "pty", 7)
    assert job["workdir"] == pw.pw_dir


def test_a_members_aitc_run_without_a_terminal_pipes_input_and_output(
    server: ServerProcess,
) -> None:
    account = ACCOUNT["pat"]
    pw = pwd.getpwnam(account)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": pw.pw_dir,
        "AITC_URL": server.url,
        "AITC_TOKEN": token_of(server, "pat"),
    }
    script = 'read line; echo "uid=$(id -u) got $line"; echo "to stderr" >&2; exit 5'
    done = subprocess.run(
        aitc_as(account, "run", "--time", "5", "--", "sh", "-c", script),
        input=b"piped by pat\n",
        capture_output=True,
        env=env,
        cwd=pw.pw_dir,
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=os.getgrouplist(account, pw.pw_gid),
        timeout=120,
        check=False,
    )
    assert done.returncode == 5, done.stderr
    assert done.stdout == f"uid={pw.pw_uid} got piped by pat\n".encode()
    assert b"to stderr" in done.stderr.splitlines()
