"""Members are Unix accounts: `aitc lab check` names those that do not resolve, and
`aitc lab apply --create-unix-users` creates them (never deletes)."""

from __future__ import annotations

import pwd
import stat
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from aitc.cli.main import app

LAB = """\
name: accounts-lab
cluster: {reference_architecture: dgx-h100-superpod, sus: 1}
organisations:
  - {id: uni, name: University, kind: research, share: 1, projects: [{id: vision, name: Vision}]}
members:
  - {id: zoe, name: Zoe, email: zoe@example.org, organisation: uni, role: member,
     projects: [vision], unix_user: aitc-acct-zoe}
  - {id: root-person, name: Root, email: r@example.org, organisation: uni, role: member,
     unix_user: root, uid: 4242}
"""


def _remove(name: str) -> None:
    subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)


def test_check_names_accounts_that_do_not_resolve_or_differ(tmp_path: Path, as_root: None) -> None:
    _remove("aitc-acct-zoe")
    (tmp_path / "lab.yaml").write_text(LAB)
    result = CliRunner().invoke(app, ["lab", "check", str(tmp_path / "lab.yaml")])
    assert result.exit_code == 0, result.output
    assert "Unix accounts: 0 of 2 members resolve here" in result.output
    assert "member zoe: Unix account 'aitc-acct-zoe' does not resolve" in result.output
    assert "member root-person: Unix account 'root' has uid 0, the lab says 4242" in result.output


def test_apply_creates_missing_accounts_once(tmp_path: Path, as_root: None) -> None:
    _remove("aitc-acct-zoe")
    (tmp_path / "lab.yaml").write_text(LAB.replace(", uid: 4242", ""))
    homes = tmp_path / "homes"
    args = ["lab", "apply", str(tmp_path / "lab.yaml"), "--state-dir", str(tmp_path / "state")]
    args += ["--create-unix-users", "--home-root", str(homes)]
    try:
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, first.output
        zoe = pwd.getpwnam("aitc-acct-zoe")
        assert f"member zoe: Unix account aitc-acct-zoe created (uid {zoe.pw_uid})" in first.output
        assert zoe.pw_dir == str(homes / "aitc-acct-zoe")
        assert stat.S_IMODE(Path(zoe.pw_dir).stat().st_mode) == 0o700
        assert Path(zoe.pw_dir).stat().st_uid == zoe.pw_uid
        again = CliRunner().invoke(app, args)
        assert "created" not in again.output and "up to date" in again.output
    finally:
        _remove("aitc-acct-zoe")
