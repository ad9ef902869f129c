"""A server that is not root runs jobs as their members through the privileged helper.

The executor runs as a service user (``aitc-sec-svc``) and starts each supervisor with
``sudo -n`` and a root-owned launcher that a sudoers rule allows, as docs/operators.md tells
operators to. Real sudo, real users, real processes.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from security_lab import ACCOUNT, ensure_user

SRC = Path(__file__).resolve().parents[2] / "src"
SERVICE = "aitc-sec-svc"
LAUNCHER = Path("/usr/local/libexec/aitc-test-supervise")
SUDOERS = Path("/etc/sudoers.d/aitc-sec-test")

# What the service user runs: a LocalExecutor with the helper, three jobs, their reports.
DRIVER = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, SRC)
    from aitc.control.executors.base import ExecJob, ExecStatus
    from aitc.control.executors.local import LocalExecutor
    from aitc.domain.job import NodeAlloc, Placement
    ex = LocalExecutor(STATE, virtual_gpus=2, node_name="node0", grace_s=1,
                       supervisor=("sudo", "-n", LAUNCHER))
    where = Placement((NodeAlloc(node="node0", gpus=(0,)),))
    def job(i, script, user):
        return ExecJob(i, 1, f"j{i}", ("sh", "-c", script), where, unix_user=user)
    ex.start(job(1, "id -u; cat " + STATE + "/attempts/j2-a1/spec.json; echo read=$?", ALICE))
    ex.start(job(2, "sleep 60", ALICE))
    ex.start(job(3, "id -u", "root"))
    ex.start(ExecJob(4, 1, "j4", ("sh", "-c", "id -u; echo e >&2"), where, unix_user=ALICE,
                     stdout_path=OWNFILE, stderr_path=OWNFILE, own_stdout=True, own_stderr=True))
    reports, started = {}, time.monotonic()
    while len(reports) < 4 and time.monotonic() - started < 60:
        for r in ex.poll():
            if r.status == ExecStatus.RUNNING and r.job_id == 2:
                ex.cancel(2, 1)
            elif r.status != ExecStatus.RUNNING:
                reports[r.job_id] = [r.status.value, r.exit_code, r.cause]
        time.sleep(0.05)
    print(json.dumps(reports))
""")


@pytest.fixture(scope="module")
def helper(as_root: None, base: Path) -> Iterator[Path]:
    if shutil.which("sudo") is None:
        pytest.fail("sudo is not installed (scripts/test installs it)")
    for name in (SERVICE, ACCOUNT["alice"]):
        ensure_user(name)
    probe = subprocess.run(["runuser", "-u", SERVICE, "--", "test", "-r", str(SRC / "aitc")])
    if probe.returncode != 0:
        pytest.skip(f"{SERVICE} cannot read {SRC}: the checkout is private to root")
    LAUNCHER.parent.mkdir(parents=True, exist_ok=True)
    LAUNCHER.write_text(
        "#!/bin/sh\n"
        f'exec /usr/bin/python3 -I -c \'import sys; sys.path.insert(0, "{SRC}"); '
        "from aitc.control.executors.supervise import main; "
        'sys.exit(main(["supervise", sys.argv[1]]))\' "$1"\n'
    )
    LAUNCHER.chmod(0o755)
    SUDOERS.write_text(f"{SERVICE} ALL=(root) NOPASSWD: {LAUNCHER}\n")
    SUDOERS.chmod(0o440)
    state = base / "svc-state"
    state.mkdir(mode=0o700)
    os.chown(state, pwd.getpwnam(SERVICE).pw_uid, pwd.getpwnam(SERVICE).pw_gid)
    try:
        yield state
    finally:
        SUDOERS.unlink(missing_ok=True)
        LAUNCHER.unlink(missing_ok=True)


def test_a_service_user_server_runs_jobs_as_members_through_the_helper(helper: Path) -> None:
    script = DRIVER.replace("SRC", repr(str(SRC))).replace("STATE", repr(str(helper)))
    script = script.replace("LAUNCHER", repr(str(LAUNCHER))).replace(
        "ALICE", repr(ACCOUNT["alice"])
    )
    script = script.replace("'" + str(helper) + "'/attempts", repr(str(helper) + "/attempts"))
    alice = pwd.getpwnam(ACCOUNT["alice"])
    own = helper.parent / "alice-own"
    own.mkdir(exist_ok=True)
    os.chown(own, alice.pw_uid, alice.pw_gid)
    script = script.replace("OWNFILE", repr(str(own / "j4.out")))
    done = subprocess.run(
        ["runuser", "-u", SERVICE, "--", "/usr/bin/python3", "-I", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout.strip().splitlines()[-1])
    assert reports["1"][:2] == ["exited", 0], reports
    out = (helper / "logs" / "1" / "1.out").read_text()
    assert out.splitlines()[0] == str(alice.pw_uid)
    assert "read=1" in out  # the service user's records are out of the member's reach
    assert (helper / "logs" / "1" / "1.out").stat().st_uid == alice.pw_uid
    assert reports["2"][0] == "cancelled", reports  # the service user can still stop its jobs
    status, code, cause = reports["3"]
    assert (status, code) == ("exited", 126)
    assert "will not run a job as 'root' (uid 0)" in cause
    # the job's own file (--output): opened by the job's process as alice, not by the helper
    assert reports["4"][:2] == ["exited", 0], reports
    assert (own / "j4.out").read_text() == f"{alice.pw_uid}\ne\n"
    assert (own / "j4.out").stat().st_uid == alice.pw_uid
