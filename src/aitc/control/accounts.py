"""Members are Unix accounts: resolving them, creating them, and whether this server may switch.

A member's jobs run as their Unix user (``Member.account``: ``unix_user``, default the member id),
as Slurm runs a job as its submitter. On a real cluster the accounts come from LDAP or SSSD and
aitc only checks that they resolve (through NSS, the same lookup ``getent passwd`` makes); on the
embedded default ``aitc lab apply --create-unix-users`` creates the missing ones with ``useradd``
(no password, a home under a configurable root). Accounts are never deleted by aitc.

Only this module and the executors' privileged helpers look at Unix accounts.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aitc.domain.org import Member
from aitc.errors import ConfigError, ExecutorError

DEFAULT_HOME_ROOT = Path("/home")


@dataclass(frozen=True, slots=True)
class Account:
    """One resolved Unix account: what a job of its member runs with."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str
    groups: tuple[int, ...]  # supplementary groups (initgroups), the primary group included


def resolve(name: str) -> Account | None:
    """The account ``name`` as NSS resolves it (local files, LDAP, SSSD), or None."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return None
    return Account(
        name=pw.pw_name,
        uid=pw.pw_uid,
        gid=pw.pw_gid,
        home=pw.pw_dir,
        shell=pw.pw_shell or "/bin/sh",
        groups=tuple(os.getgrouplist(pw.pw_name, pw.pw_gid)),
    )


def why_cannot_run(program: str, account: Account) -> str | None:
    """Why ``account`` cannot run ``program`` here (None: it can): a directory on the way to it,
    through its links, that the account may not enter, or the file itself not executable by it.
    The kernel's rule for the account's uid and groups, read from the modes (root runs all)."""
    if account.uid == 0:
        return None
    path = Path(program)
    places = [*reversed(path.parents), path, *reversed(path.resolve().parents), path.resolve()]
    for place in dict.fromkeys(places):  # in order, once each
        try:
            st = place.stat()
        except OSError as exc:
            return f"{place}: {exc.strerror}"
        if not may_execute(st, account):
            kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
            return f"the {kind} {place} is closed to {account.name}"
    return None


def may_execute(st: os.stat_result, account: Account) -> bool:
    """Whether ``account`` may execute the file (enter the directory) ``st`` describes: the
    kernel's rule, owner's bit for its owner, group's for its groups, others' for the rest."""
    if st.st_uid == account.uid:
        bit = stat.S_IXUSR
    elif st.st_gid in account.groups or st.st_gid == account.gid:
        bit = stat.S_IXGRP
    else:
        bit = stat.S_IXOTH
    return bool(st.st_mode & bit)


def server_account() -> Account:
    """The account this process runs as."""
    uid = os.geteuid()
    try:
        found = resolve(pwd.getpwuid(uid).pw_name)
    except KeyError:
        found = None
    return found or Account(str(uid), uid, os.getegid(), os.environ.get("HOME", "/"), "/bin/sh", ())


def can_switch_users() -> bool:
    """Whether this process may start jobs as other users (it is root)."""
    return os.geteuid() == 0


def job_account(
    job_id: int, name: str | None, *, server: Account, refuse_others: str | None
) -> Account | None:
    """The account a job of account ``name`` runs as; None when it is the server's own.

    ``refuse_others`` says why this server runs only its own user's jobs (single-user mode), or
    is None when it may switch users. ``ExecutorError`` when the job is refused: another user in
    single-user mode, or an account that does not resolve.
    """
    if name is None or name == server.name:
        return None
    if refuse_others is not None:
        raise ExecutorError(
            f"job {job_id}: this server runs as {server.name!r} and cannot start jobs as "
            f"{name!r} (single-user mode: {refuse_others})"
        )
    account = resolve(name)
    if account is None:
        raise ExecutorError(
            f"job {job_id}: the Unix account {name!r} does not resolve (getent passwd); "
            "create it (aitc lab apply --create-unix-users) or set the member's unix_user"
        )
    return account


@dataclass(frozen=True, slots=True)
class AccountProblem:
    """A member whose Unix account is missing or does not match the lab's uid/gid."""

    member: str
    account: str
    reason: str

    def __str__(self) -> str:
        return f"member {self.member}: Unix account {self.account!r} {self.reason}"


def check_accounts(members: Iterable[Member]) -> list[AccountProblem]:
    """Every member whose account does not resolve, or resolves to another uid/gid."""
    problems = []
    for m in members:
        acct = resolve(m.account)
        if acct is None:
            problems.append(AccountProblem(m.id, m.account, "does not resolve (getent passwd)"))
        elif m.uid is not None and acct.uid != m.uid:
            problems.append(
                AccountProblem(m.id, m.account, f"has uid {acct.uid}, the lab says {m.uid}")
            )
        elif m.gid is not None and acct.gid != m.gid:
            problems.append(
                AccountProblem(m.id, m.account, f"has gid {acct.gid}, the lab says {m.gid}")
            )
    return problems


def create_account(member: Member, *, home_root: Path = DEFAULT_HOME_ROOT) -> Account:
    """Create ``member``'s local account with ``useradd`` (no password, home under ``home_root``).

    uid and gid are the lab's when it gives them. Raises ``ConfigError`` naming the account and
    useradd's reason when it fails (not root, a uid taken by another account).
    """
    name = member.account
    args = ["useradd", "--create-home", "--home-dir", str(home_root / name), "--shell", "/bin/bash"]
    if member.uid is not None:
        args += ["--uid", str(member.uid)]
    if member.gid is not None:
        _ensure_group(name, member.gid)
        args += ["--gid", str(member.gid)]
    else:
        args += ["--user-group"]
    home_root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([*args, name], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(
            f"cannot create Unix account {name!r}: {done.stderr.strip() or done.returncode}",
            field=f"members.{member.id}.unix_user",
        )
    acct = resolve(name)
    if acct is None:
        raise ConfigError(f"useradd created {name!r} but it does not resolve", field="unix_user")
    os.chmod(acct.home, 0o700)
    return acct


def _ensure_group(name: str, gid: int) -> None:
    try:
        grp.getgrgid(gid)
    except KeyError:
        subprocess.run(["groupadd", "--gid", str(gid), name], check=True, capture_output=True)


def create_missing_accounts(
    members: Iterable[Member], *, home_root: Path = DEFAULT_HOME_ROOT
) -> list[str]:
    """Create the accounts that do not resolve yet; return what was done, in words."""
    done = []
    for m in members:
        if resolve(m.account) is None:
            acct = create_account(m, home_root=home_root)
            done.append(f"member {m.id}: Unix account {acct.name} created (uid {acct.uid})")
    return done
