"""Every job runs as its member, and can touch nothing of the server or of other members.

A real ``aitc serve`` runs as root with the local executor; members of two organisations and a
learner have real Unix accounts; every assertion is about what a real job process could or could
not do, read back from its own output.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from security_lab import ACCOUNT
from server_proc import ServerProcess, wait_until

ENDED = {"completed", "failed", "cancelled", "timeout"}


def member_client(server: ServerProcess, member: str) -> httpx.Client:
    with server.client() as admin:
        r = admin.post("/tokens", json={"member": member, "name": "security-test"})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
    return httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def submit(client: httpx.Client, script: str, **fields: Any) -> int:
    body = {"command": ["sh", "-c", script], "time_limit": 120, **fields}
    r = client.post("/jobs", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def wait_state(client: httpx.Client, job_id: int, states: set[str]) -> dict[str, Any]:
    return wait_until(lambda: client.get(f"/jobs/{job_id}").json(), lambda j: j["state"] in states)


def run(client: httpx.Client, server: ServerProcess, member: str, script: str, **kw: Any) -> str:
    """Run ``script`` as ``member``'s job to its end; return its stdout and stderr."""
    job_id = submit(client, script, **kw)
    job = wait_state(client, job_id, ENDED)
    return log_of(server, member, job_id) + f"\n[state={job['state']} cause={job['cause']}]"


def log_of(server: ServerProcess, member: str, job_id: int) -> str:
    base = server.state_dir / "logs" / ACCOUNT[member] / str(job_id)
    return "".join(p.read_text() for p in sorted(base.glob("1.*")) if p.exists())


def child_pid(server: ServerProcess, job_id: int) -> int:
    record = server.state_dir / "local" / "attempts" / f"j{job_id}-a1" / "child.json"
    wait_until(record.exists, bool)
    return int(re.search(r'"pid": (\d+)', record.read_text()).group(1))  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def alice(server: ServerProcess) -> httpx.Client:
    return member_client(server, "alice")


@pytest.fixture(scope="module")
def pat(server: ServerProcess) -> httpx.Client:
    return member_client(server, "pat")


@pytest.fixture(scope="module")
def dave(server: ServerProcess) -> httpx.Client:
    return member_client(server, "dave")


def test_a_job_runs_as_its_member_in_their_home(server: ServerProcess, alice: httpx.Client) -> None:
    out = run(alice, server, "alice", 'id -u; id -g; id -G; echo "$HOME|$USER|$(pwd)|$PATH"')
    pw = pwd.getpwnam(ACCOUNT["alice"])
    uid, gid, groups, where = out.splitlines()[:4]
    assert (int(uid), int(gid)) == (pw.pw_uid, pw.pw_gid)
    assert set(map(int, groups.split())) == set(os.getgrouplist(pw.pw_name, pw.pw_gid))
    home, user, cwd, path = where.split("|")
    assert (home, user, cwd) == (pw.pw_dir, pw.pw_name, pw.pw_dir)
    assert ".venv" not in path  # the server's PATH is not the job's


def test_the_servers_files_are_private(server: ServerProcess) -> None:
    state = server.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "aitc.db").stat().st_mode) == 0o600
    config = state.parent / "server-home" / ".config" / "aitc" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    for spec in (state / "local").rglob("spec.json"):
        assert spec.stat().st_uid == os.geteuid()


def test_a_job_can_read_nothing_of_the_server_or_of_other_members(
    server: ServerProcess, alice: httpx.Client, pat: httpx.Client
) -> None:
    secret_job = submit(alice, "sleep 60", env={"WANDB_API_KEY": "alices-secret-key"})
    wait_state(alice, secret_job, {"running"})
    alice_pid = child_pid(server, secret_job)
    state, base = server.state_dir, server.state_dir.parent
    (base / "public.txt").write_text("anyone may read this\n")
    (base / "public.txt").chmod(0o644)
    targets = {
        "public": base / "public.txt",  # the control: a file this job may read
        "database": state / "aitc.db",
        "client-config": base / "server-home" / ".config" / "aitc" / "config.toml",
        "attempt-spec": state / "local" / "attempts" / f"j{secret_job}-a1" / "spec.json",
        "alice-log": state / "logs" / ACCOUNT["alice"] / str(secret_job) / "1.out",
        "alice-environ": Path(f"/proc/{alice_pid}/environ"),
    }
    script = "; ".join(
        f'if cat {path} >/dev/null 2>&1; then echo "{name}=read"; else echo "{name}=denied"; fi'
        for name, path in targets.items()
    )
    out = run(pat, server, "pat", script + "; grep -rs alices-secret-key / --include=*.json")
    assert "public=read" in out
    for name in targets.keys() - {"public"}:
        assert f"{name}=denied" in out, out
    assert "alices-secret-key" not in out
    alice.post(f"/jobs/{secret_job}/cancel")


def test_a_job_cannot_signal_another_members_job_or_the_server(
    server: ServerProcess, alice: httpx.Client, pat: httpx.Client
) -> None:
    victim = submit(alice, "sleep 60")
    wait_state(alice, victim, {"running"})
    pid = child_pid(server, victim)
    assert server.proc is not None
    script = f"kill -KILL {pid}; echo job=$?; kill -KILL {server.proc.pid}; echo server=$?"
    out = run(pat, server, "pat", script)
    assert "job=1" in out and "server=1" in out, out
    assert out.count("Operation not permitted") == 2, out
    with server.client() as admin:
        assert admin.get(server.url + "/healthz").status_code == 200
    assert alice.get(f"/jobs/{victim}").json()["state"] == "running"
    alice.post(f"/jobs/{victim}/cancel")
    wait_state(alice, victim, ENDED)


def test_a_daemon_started_by_a_job_is_gone_when_the_job_ends(
    server: ServerProcess, alice: httpx.Client
) -> None:
    out = run(alice, server, "alice", "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo pid=$!")
    daemon = int(re.search(r"pid=(\d+)", out).group(1))  # type: ignore[union-attr]
    wait_until(lambda: Path(f"/proc/{daemon}").exists(), lambda alive: not alive, timeout=10)


def test_a_job_cannot_escalate_its_role(
    server: ServerProcess, dave: httpx.Client, as_root: None
) -> None:
    db = server.state_dir / "aitc.db"
    script = (
        f"sqlite3 {db} \"UPDATE members SET role='admin' WHERE id='dave'\"; echo update=$?; "
        "env | grep -c -e AITC_TEST_SERVER_SECRET -e server-secret-value; "
        "env | grep -o '^AITC_[A-Z_]*' | sort | tr '\\n' ' '"
    )
    out = run(dave, server, "dave", script)
    assert "update=1" in out, out  # sqlite3 cannot even open the file
    assert "\n0\n" in out  # nothing of the server's environment
    assert re.search(r"^AITC_ATTEMPT AITC_JOB_ID AITC_NODE $", out, re.M), out
    assert dave.get("/me").json()["role"] == "learner"
    made = dave.post(
        "/members",
        json={
            "id": "eve",
            "name": "Eve",
            "email": "eve@example.org",
            "organisation": "school",
            "role": "admin",
        },
    )
    assert made.status_code == 403


def test_a_job_opens_only_its_own_gpu_device_files(
    server: ServerProcess, alice: httpx.Client
) -> None:
    dev = server.state_dir.parent / "dev"
    dev.mkdir(exist_ok=True)
    dev.chmod(0o755)
    for n in range(8):
        node = dev / f"nvidia{n}"
        if not node.exists():
            subprocess.run(["mknod", "-m", "666", str(node), "c", "195", str(n)], check=True)
    probe = (
        "import errno, os\n"
        f"for n in range(8):\n"
        f"    try:\n"
        f"        os.close(os.open('{dev}/nvidia%d' % n, os.O_RDWR))\n"
        f"        print(n, 'opened')\n"
        f"    except OSError as e:\n"
        f"        print(n, errno.errorcode[e.errno])\n"
    )
    job_id = submit(alice, f'echo gpus=$CUDA_VISIBLE_DEVICES; python3 -c "{probe}"', gpus=2)
    wait_state(alice, job_id, ENDED)
    out = log_of(server, "alice", job_id)
    mine = {int(g) for g in re.search(r"gpus=([\d,]+)", out).group(1).split(",")}  # type: ignore[union-attr]
    seen = dict(line.split() for line in out.splitlines() if re.match(r"^\d ", line))
    # ENXIO: the cgroup let the open through and no driver answered; EPERM: the cgroup refused.
    assert {int(n) for n, what in seen.items() if what == "ENXIO"} == mine, out
    assert {int(n) for n, what in seen.items() if what == "EPERM"} == set(range(8)) - mine, out


def test_a_workdir_the_member_may_not_enter_is_refused_with_the_reason(
    server: ServerProcess, alice: httpx.Client
) -> None:
    private = server.state_dir.parent / "root-only"
    private.mkdir(mode=0o700, exist_ok=True)
    job = wait_state(alice, submit(alice, "pwd", workdir=str(private)), ENDED)
    assert job["state"] == "failed" and job["exit_code"] == 126
    assert job["cause"] == (
        f"cannot start in working directory '{private}': user {ACCOUNT['alice']} may not enter it"
    )
    # the job never ran: its log holds only aitc's line
    assert "may not enter it" in log_of(server, "alice", job["id"])
