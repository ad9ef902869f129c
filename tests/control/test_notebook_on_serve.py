"""``aitc notebook`` end to end on a real ``aitc serve`` (SQLite, the local executor, the
example lab): bklein starts a notebook with a ten-minute limit; it prints a URL whose token
Jupyter's REST API answers, the server runs as bklein (a file it writes is bklein's), in the
directory ``aitc notebook`` ran in; ``aitc show`` gives bklein the URL and randersen (a
partner of another organisation) not its token; ``aitc cancel`` ends it.

Needs root (jobs run as the members' Unix accounts), as CI has.
"""

from __future__ import annotations

import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_proc import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "courses"))

from lab_rig import lab_python  # noqa: E402

MEMBERS = ("bklein", "randersen")
URL = re.compile(r"http://\S+/\?token=(\S+)")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ServerProcess, dict[str, str], Path]]:
    if os.geteuid() != 0:
        pytest.skip("notebooks run as their members' Unix accounts: needs root (as CI has)")
    for member in MEMBERS:
        try:
            pwd.getpwnam(member)
        except KeyError:
            pytest.skip(f"no Unix account {member}")
    base = Path(tempfile.mkdtemp(prefix="aitc-notebook-"))
    base.chmod(0o755)  # members run the lab interpreter kept here
    work = base / "work"
    work.mkdir()
    shutil.chown(work, "bklein", "bklein")
    first = random.randrange(21000, 29000, 100)  # apart from another run's labs
    server = ServerProcess(
        base / "state",
        gpus=2,
        extra=("--lab-python", lab_python(base), "--lab-ports", f"{first}-{first + 99}"),
    )
    try:
        server.start()
        with server.client() as admin:
            tokens = {
                m: admin.post("/tokens", json={"member": m, "name": "e2e"}).json()["token"]
                for m in MEMBERS
            }
        yield server, tokens, work
    finally:
        with server.client() as admin:
            for job in admin.get("/jobs", params={"state": "running"}).json()["data"]:
                admin.post(f"/jobs/{job['id']}/cancel")
        time.sleep(1)
        server.kill(signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)


def aitc(
    served: tuple[ServerProcess, dict[str, str], Path], member: str, *args: str
) -> subprocess.CompletedProcess[str]:
    server, tokens, work = served
    env = {k: v for k, v in os.environ.items() if not k.startswith("AITC_")}
    env |= {"AITC_URL": server.url, "AITC_TOKEN": tokens[member], "COLUMNS": "200"}
    command = [sys.executable, "-c", "from aitc.cli.main import app; app()", *args]
    return subprocess.run(
        command, env=env, cwd=work, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_notebook_runs_as_its_member_and_its_url_is_theirs(
    served: tuple[ServerProcess, dict[str, str], Path],
) -> None:
    started = aitc(served, "bklein", "notebook", "--time", "10")
    assert started.returncode == 0, started.stdout + started.stderr
    found = URL.search(started.stdout)
    assert found is not None, started.stdout
    url, token = found.group(0), found.group(1)
    job = re.search(r"aitc cancel (\d+)", started.stdout)
    assert job is not None, started.stdout
    job_id = job.group(1)
    base = url.split("/?token=")[0]

    def status(secret: str) -> int:  # a client of its own: no cookie from an earlier call
        with httpx.Client(trust_env=False, timeout=10) as web:
            return web.get(f"{base}/api/status", params={"token": secret}).status_code

    assert (status(token), status("wrong")) == (200, 403)
    with httpx.Client(trust_env=False, timeout=10) as web:
        # What it writes is bklein's, in the directory `aitc notebook` ran in.
        put = web.put(
            f"{base}/api/contents/made-in-notebook.txt",
            params={"token": token},
            json={"type": "file", "format": "text", "content": "hello"},
        )
        assert put.status_code in (200, 201), put.text
    written = served[2] / "made-in-notebook.txt"
    assert written.stat().st_uid == pwd.getpwnam("bklein").pw_uid

    shown = aitc(served, "bklein", "show", job_id)
    assert shown.returncode == 0 and url in shown.stdout, shown.stdout
    with served[0].client() as admin:
        record = admin.get(f"/jobs/{job_id}").json()
    assert (record["member"], record["time_limit"], record["notebook_url"]) == ("bklein", 600, url)
    other = aitc(served, "randersen", "show", job_id)
    assert token not in other.stdout + other.stderr

    cancelled = aitc(served, "bklein", "cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    server = served[0]
    deadline = time.monotonic() + 30
    with server.client() as admin:
        while admin.get(f"/jobs/{job_id}").json()["state"] != "cancelled":
            assert time.monotonic() < deadline, "the notebook did not end"
            time.sleep(0.3)
    with httpx.Client(trust_env=False, timeout=3) as web, pytest.raises(httpx.HTTPError):
        web.get(f"{base}/api/status", params={"token": token})
