"""``output``/``error``/``open_mode`` on ``POST /jobs``: checked at the door, naming the field;
and a job's own file read back only while it is its member's own regular file."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Api
from sqlalchemy import update

from aitc.control.store import JobRow, MemberRow, transition
from aitc.domain.job import JobState
from aitc.domain.outputfiles import MAX_PATTERN_CHARS

MEMBER_ACCOUNT = "bklein"  # a Unix account of this machine that stands for alice


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("output", "out-%s.log", "%s is not a filename pattern aitc knows"),
        ("error", "err-%t.log", "%t is not a filename pattern aitc knows"),
        ("output", "out%", "ends in a lone %"),
        ("output", "a\nb.log", "must not contain line breaks"),
        ("error", "a\x00b.log", "must not contain NUL characters"),
        ("output", "x" * (MAX_PATTERN_CHARS + 1), f"longer than {MAX_PATTERN_CHARS}"),
        ("error", "", "must name a file"),
        ("output", 7, "string"),
        ("open_mode", "overwrite", "'append' or 'truncate'"),
    ],
)
def test_a_bad_output_file_is_a_422_naming_the_field(
    api: Api, field: str, value: object, why: str
) -> None:
    r = api.client.post(
        "/api/v1/jobs", json={"command": ["true"], field: value}, headers=api.auth("alice")
    )
    assert r.status_code == 422, r.text
    (detail,) = r.json()["detail"]
    assert detail["loc"] == ["body", field]
    assert why in detail["msg"]


def test_output_files_are_kept_as_submitted(api: Api) -> None:
    job = api.submit("alice", output="logs/%x-%j.out", error="/tmp/%u/%A_%a.err")
    assert (job["output"], job["error"], job["open_mode"]) == (
        "logs/%x-%j.out",
        "/tmp/%u/%A_%a.err",
        None,
    )
    assert api.submit("alice", output="o", open_mode="append")["open_mode"] == "append"
    assert api.submit("alice")["output"] is None


def test_an_interactive_job_takes_no_output_file(api: Api) -> None:
    r = api.client.post(
        "/api/v1/jobs",
        json={"command": ["bash"], "terminal": "pty", "output": "o.log"},
        headers=api.auth("alice"),
    )
    assert r.status_code == 422, r.text
    assert "output" in r.text and "terminal" in r.text


# --- reading a job's own file back --------------------------------------------------------------


@pytest.fixture
def member_dir(api: Api) -> Iterator[Path]:
    """A directory of alice's Unix account (bklein here), below one every user may enter."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to hand files to the member's account")
    try:
        account = pwd.getpwnam(MEMBER_ACCOUNT)
    except KeyError:
        pytest.skip(f"needs the Unix account {MEMBER_ACCOUNT}")
    with api.store.session() as s:
        s.execute(
            update(MemberRow).where(MemberRow.id == "alice").values(unix_user=account.pw_name)
        )
    base = Path(tempfile.mkdtemp(prefix="aitc-own-files-"))
    base.chmod(0o755)
    mine = base / "mine"
    mine.mkdir()
    os.chown(mine, account.pw_uid, account.pw_gid)
    try:
        yield mine
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _running_with(api: Api, path: Path, **body: object) -> int:
    job_id = int(api.submit("alice", output=str(path), **body)["id"])  # type: ignore[call-overload]
    with api.store.session() as s:
        job = s.get_one(JobRow, job_id)
        transition(session=s, job=job, to=JobState.RUNNING, cause="started", now=api.clock.now())
        job.stdout_path = job.stderr_path = str(path)
    return job_id


def _members_file(path: Path, text: str) -> None:
    path.write_text(text)
    account = pwd.getpwnam(MEMBER_ACCOUNT)
    os.chown(path, account.pw_uid, account.pw_gid)


def _logs(api: Api, job_id: int, stream: str = "stdout") -> tuple[int, str]:
    r = api.client.get(
        f"/api/v1/jobs/{job_id}/logs", params={"stream": stream}, headers=api.auth("alice")
    )
    return r.status_code, r.text


def test_a_members_own_file_is_read_back(api: Api, member_dir: Path) -> None:
    out = member_dir / "train.out"
    _members_file(out, "epoch 1\n")
    job_id = _running_with(api, out)
    assert _logs(api, job_id) == (200, "epoch 1\n")
    assert _logs(api, job_id, "stderr") == (200, "epoch 1\n")  # stderr went with stdout


def test_a_file_swapped_for_a_link_to_roots_file_is_not_shown(api: Api, member_dir: Path) -> None:
    secret = member_dir.parent / "root-secret"
    secret.write_text("root's own\n")
    out = member_dir / "train.out"
    job_id = _running_with(api, out)
    out.symlink_to(secret)
    code, text = _logs(api, job_id)
    assert code == 403
    assert "root's own" not in text
    assert f"job {job_id}'s output file {out} is no longer its own" in text
    assert "(a link or another owner's file): not shown" in text


def test_a_directory_swapped_for_a_link_reaches_nothing_of_roots(
    api: Api, member_dir: Path
) -> None:
    roots = member_dir.parent / "roots"
    roots.mkdir()
    (roots / "train.out").write_text("root's own\n")
    logs = member_dir / "logs"
    logs.symlink_to(roots)  # the member's link in place of their directory
    job_id = _running_with(api, logs / "train.out")
    code, text = _logs(api, job_id)
    assert code == 403 and "root's own" not in text
    assert "no longer its own" in text


def test_a_file_of_the_servers_user_is_not_the_members(api: Api, member_dir: Path) -> None:
    out = member_dir / "train.out"
    out.write_text("written by root\n")  # the server's user (root) owns it
    job_id = _running_with(api, out)
    code, text = _logs(api, job_id)
    assert code == 403 and "written by root" not in text


def test_following_a_members_growing_file(api: Api, member_dir: Path) -> None:
    out = member_dir / "train.out"
    _members_file(out, "one\n")
    job_id = _running_with(api, out)
    with out.open("a") as f:
        f.write("two\n")
    with api.store.session() as s:
        job = s.get_one(JobRow, job_id)
        transition(session=s, job=job, to=JobState.COMPLETED, cause="exited", now=1.0, exit_code=0)
    r = api.client.get(
        f"/api/v1/jobs/{job_id}/logs", params={"follow": "true"}, headers=api.auth("alice")
    )
    assert (r.status_code, r.text) == (200, "one\ntwo\n")
