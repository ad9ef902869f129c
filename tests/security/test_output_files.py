"""A job's own output files (``--output``/``--error``) are written as its member, never by the
root server, and read back only while they are the member's own.

A real ``aitc serve`` runs as root with the local executor; alice has a real Unix account. The
member's links are planted by the member's own account (``runuser``), as an attacker would.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from security_lab import ACCOUNT
from server_proc import ServerProcess
from test_local_isolation import ENDED, member_client, submit, wait_state
from typer.testing import CliRunner

from aitc.cli.main import app


@pytest.fixture(scope="module")
def alice(server: ServerProcess) -> httpx.Client:
    return member_client(server, "alice")


@pytest.fixture
def mine(server: ServerProcess, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh directory of alice's own, below one every user may enter."""
    path = server.state_dir.parent / f"alice-{request.node.name[:40]}"
    path.mkdir()
    account = pwd.getpwnam(ACCOUNT["alice"])
    os.chown(path, account.pw_uid, account.pw_gid)
    yield path


@pytest.fixture
def roots_file(server: ServerProcess, request: pytest.FixtureRequest) -> Path:
    """A file of root's that any user may read and only root may write."""
    path = server.state_dir.parent / f"root-{request.node.name[:40]}"
    path.write_text("root's own\n")
    path.chmod(0o644)
    return path


def as_alice(*command: str) -> None:
    subprocess.run(["runuser", "-u", ACCOUNT["alice"], "--", *command], check=True)


def ended(client: httpx.Client, script: str, **fields: Any) -> dict[str, Any]:
    return wait_state(client, submit(client, script, **fields), ENDED)


def aitc_logs(server: ServerProcess, client: httpx.Client, *args: str) -> tuple[int, str]:
    token = client.headers["Authorization"].removeprefix("Bearer ")
    env = {"AITC_URL": server.url, "AITC_TOKEN": token, "XDG_CONFIG_HOME": "/-"}
    result = CliRunner().invoke(app, ["logs", *args], env=env)
    return result.exit_code, result.stdout + result.stderr


def test_output_lands_in_the_members_directory_as_theirs(
    server: ServerProcess, alice: httpx.Client, mine: Path
) -> None:
    job = ended(alice, "echo out; echo err >&2; id -u", name="train", output=f"{mine}/%x-%j.out")
    assert job["state"] == "completed", job
    out = mine / f"train-{job['id']}.out"
    st = out.lstat()
    uid = pwd.getpwnam(ACCOUNT["alice"]).pw_uid
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (uid, 0o644)
    assert out.read_text() == f"out\nerr\n{uid}\n"  # stderr went with stdout
    assert aitc_logs(server, alice, str(job["id"])) == (0, f"out\nerr\n{uid}\n")
    assert aitc_logs(server, alice, "--stderr", str(job["id"]))[1] == f"out\nerr\n{uid}\n"


def test_a_relative_path_is_taken_from_the_working_directory(
    alice: httpx.Client, mine: Path
) -> None:
    as_alice("mkdir", str(mine / "logs"))
    job = ended(
        alice,
        "echo out; echo err >&2",
        workdir=str(mine),
        output="logs/o-%j.txt",
        error="logs/e-%j.txt",
    )
    assert job["state"] == "completed", job
    assert (mine / "logs" / f"o-{job['id']}.txt").read_text() == "out\n"
    assert (mine / "logs" / f"e-{job['id']}.txt").read_text() == "err\n"


def test_each_attempt_truncates_unless_asked_to_append(alice: httpx.Client, mine: Path) -> None:
    out = str(mine / "acc.out")
    assert ended(alice, "echo one", output=out)["state"] == "completed"
    assert ended(alice, "echo two", output=out, open_mode="append")["state"] == "completed"
    assert Path(out).read_text() == "one\ntwo\n"
    assert ended(alice, "echo three", output=out)["state"] == "completed"
    assert Path(out).read_text() == "three\n"


def test_a_link_in_place_of_the_file_writes_nothing_of_roots(
    alice: httpx.Client, mine: Path, roots_file: Path
) -> None:
    planted = mine / "train.out"
    as_alice("ln", "-s", str(roots_file), str(planted))
    job = ended(alice, "echo overwritten", output=str(planted))
    assert roots_file.read_text() == "root's own\n"
    assert (job["state"], job["exit_code"]) == ("failed", 126)
    assert (
        f"cannot open its output file '{planted}' as {ACCOUNT['alice']}: Permission denied"
        in job["cause"]
    ), job


def test_a_link_in_place_of_a_directory_writes_nothing_of_roots(
    server: ServerProcess, alice: httpx.Client, mine: Path, roots_file: Path
) -> None:
    as_alice("ln", "-s", str(roots_file.parent), str(mine / "logs"))
    for name in (roots_file.name, "new.out"):
        job = ended(alice, "echo x", error=str(mine / "logs" / name))
        assert (job["state"], job["exit_code"]) == ("failed", 126)
        assert f"cannot open its error file '{mine / 'logs' / name}'" in job["cause"], job
    assert roots_file.read_text() == "root's own\n"
    assert not (roots_file.parent / "new.out").exists()


def test_a_file_swapped_for_a_link_is_not_read_back(
    server: ServerProcess, alice: httpx.Client, mine: Path, roots_file: Path
) -> None:
    out = mine / "swap.out"
    job = ended(alice, "echo mine", output=str(out))
    assert aitc_logs(server, alice, str(job["id"])) == (0, "mine\n")
    as_alice("rm", str(out))
    as_alice("ln", "-s", str(roots_file), str(out))
    code, said = aitc_logs(server, alice, str(job["id"]))
    assert code != 0 and "root's own" not in said
    assert f"job {job['id']}'s output file {out} is no longer its own" in said, said
    r = alice.get(f"/jobs/{job['id']}/logs")
    assert r.status_code == 403 and "root's own" not in r.text
