"""The files of a member's attempt: made safely by root in a directory the member controls, and
read back defensively (exit.json is the member's to write). No Slurm cluster needed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitc.control.accounts import Account
from aitc.control.executors.slurm_cli import SlurmCli
from aitc.control.executors.slurm_cli.batch import Ended, member_dir, parse_exit, read_exit
from aitc.errors import ExecutorError


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A fresh directory the test users may reach (pytest's ``tmp_path`` is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="aitc-member-files-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _owner_mode(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return st.st_uid, stat.S_IMODE(st.st_mode)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (b'{"status": "exited", "exit_code": 3}', Ended("exited", 3)),
        (b'{"status": "timeout", "exit_code": 124}', Ended("timeout", 124)),
        (b'{"status": "cancelled", "exit_code": 0}', None),
        (b'{"status": "exited", "exit_code": true}', None),
        (b'{"status": "exited", "exit_code": 256}', None),
        (b'{"status": "exited", "exit_code": "0"}', None),
        (b'["exited", 0]', None),
        (b"\xff\xfe", None),
        (b"[" * 100_000, None),
        (b"not json", None),
    ],
)
def test_exit_records_are_validated(raw: bytes, want: Ended | None) -> None:
    assert parse_exit(raw) == want


def test_exit_json_is_read_without_following_links_or_blocking(
    open_tmp: Path, test_users: list[Account]
) -> None:
    alice = test_users[0]
    attempt = member_dir(open_tmp / "jobs", alice, "aitc-1-0")
    (attempt / "exit.json").write_text(json.dumps({"status": "exited", "exit_code": 7}))
    assert read_exit(open_tmp / "jobs", alice.name, "aitc-1-0") == Ended("exited", 7)

    elsewhere = open_tmp / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "exit.json").write_text(json.dumps({"status": "exited", "exit_code": 0}))
    (attempt / "exit.json").unlink()
    (attempt / "exit.json").symlink_to(elsewhere / "exit.json")
    assert read_exit(open_tmp / "jobs", alice.name, "aitc-1-0") is None
    (attempt / "exit.json").unlink()
    os.mkfifo(attempt / "exit.json")  # would hang a plain open()
    assert read_exit(open_tmp / "jobs", alice.name, "aitc-1-0") is None
    (attempt.parent / "aitc-2-0").symlink_to(elsewhere)
    assert read_exit(open_tmp / "jobs", alice.name, "aitc-2-0") is None
    assert read_exit(open_tmp / "jobs", alice.name, "aitc-3-0") is None


def test_member_directories_are_theirs_and_private(
    open_tmp: Path, test_users: list[Account]
) -> None:
    alice = test_users[0]
    made = member_dir(open_tmp / "jobs", alice, "aitc-1-0")
    assert _owner_mode(open_tmp / "jobs") == (os.geteuid(), 0o711)
    assert _owner_mode(made.parent) == (alice.uid, 0o700)
    assert _owner_mode(made) == (alice.uid, 0o700)
    assert member_dir(open_tmp / "jobs", alice, "aitc-1-0") == made  # idempotent


def test_a_planted_symlink_or_foreign_directory_is_refused_not_chowned(
    open_tmp: Path, test_users: list[Account]
) -> None:
    alice, bob = test_users
    member_dir(open_tmp / "jobs", alice)
    target = open_tmp / "root-owned"
    target.mkdir(mode=0o755)
    (open_tmp / "jobs" / alice.name / "aitc-1-0").symlink_to(target)
    with pytest.raises(ExecutorError, match="aitc-1-0"):
        member_dir(open_tmp / "jobs", alice, "aitc-1-0")
    assert _owner_mode(target) == (os.geteuid(), 0o755)
    foreign = open_tmp / "jobs" / alice.name / "aitc-2-0"
    foreign.mkdir()
    (foreign / "bobs-file").write_text("")
    os.chown(foreign, bob.uid, bob.gid)
    with pytest.raises(ExecutorError, match="not to aitc-t-alice"):
        member_dir(open_tmp / "jobs", alice, "aitc-2-0")
    assert foreign.stat().st_uid == bob.uid


def test_a_directory_the_member_cannot_reach_is_an_error_naming_it(
    open_tmp: Path, test_users: list[Account]
) -> None:
    private = open_tmp / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(ExecutorError, match=f"{private} \\(mode 700\\)"):
        member_dir(private / "logs", test_users[0], "12")


def test_slurm_commands_get_aitcs_own_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITC_SECRET_FOR_TEST", "server-only")
    monkeypatch.setenv("PATH", "/tmp/evil")
    cli = SlurmCli({"SLURM_CONF": "/etc/slurm/slurm.conf"})
    assert set(cli.env) == {"PATH", "LC_ALL", "SLURM_CONF"}
    assert "/tmp/evil" not in cli.env["PATH"]
