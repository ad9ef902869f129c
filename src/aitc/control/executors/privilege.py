"""The supervisor as a privileged helper for a server that is not root (Slurm's slurmstepd shape).

A production server runs as a dedicated service user (``aitc``); only the supervisor needs root,
to create the attempt's cgroup and to become the member. The server then starts each supervisor
through ``sudo -n`` and a root-owned launcher that a sudoers rule allows for exactly that one
command (``--executor-option supervisor="sudo -n /usr/local/libexec/aitc-supervise"``, see
docs/operators.md). Started that way (root, with ``SUDO_UID``), the supervisor trusts nothing of
the service user but its own identity:

- the attempt directory and its two parents must belong to the invoking user and be writable by
  it alone, and none of them may be a link;
- the account the job runs as is resolved again here from its name (the uid, gid and groups in
  ``spec.json`` are ignored), and must not be a system account (uid below ``MIN_UID``), root
  least of all; a job of the service user itself runs as the service user;
- everything the supervisor does in the state directory it does *as the invoking user* (real and
  effective uid), taking root back (saved uid 0) only to create and clean the cgroup, to hand
  the log files to the member, to signal the member's processes and, in the job's process, to
  switch to the member. So a link planted in the state directory gains the service user nothing,
  and the server can still signal its supervisors (cancel), which the members cannot.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from aitc.control.accounts import Account, resolve
from aitc.control.executors.attempts import AttemptSpec

MIN_UID = 1000


class HelperRefused(Exception):
    """The supervisor, started as a privileged helper, refuses this attempt; says why."""


@dataclass(frozen=True, slots=True)
class Invoker:
    """The unprivileged user who started the supervisor through sudo."""

    uid: int
    gid: int

    @classmethod
    def of_this_process(cls) -> Invoker | None:
        """The invoking user when this process runs as root through sudo, else None."""
        uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
        if os.geteuid() != 0 or not uid.isdigit() or not gid.isdigit() or int(uid) == 0:
            return None
        return cls(int(uid), int(gid))

    def check_attempt_dir(self, root: Path) -> None:
        """Refuse an attempt directory the invoking user does not own alone."""
        for d in (root, root.parent, root.parent.parent):
            st = os.lstat(d)
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
                raise HelperRefused(f"{d} is not a directory")
            if st.st_uid != self.uid or st.st_mode & 0o022:
                raise HelperRefused(
                    f"{d} must belong to uid {self.uid} and be writable by it alone"
                )

    def trusted(self, spec: AttemptSpec) -> AttemptSpec:
        """``spec`` with the account resolved here; refuses system accounts."""
        account = self._account(spec.user)
        if account.uid != self.uid and account.uid < MIN_UID:
            raise HelperRefused(
                f"will not run a job as {account.name!r} (uid {account.uid}): system accounts "
                f"(uid below {MIN_UID}) never run jobs"
            )
        return replace(
            spec,
            user=account.name,
            uid=account.uid,
            gid=account.gid,
            groups=account.groups,
            home=account.home,
        )

    def _account(self, name: str | None) -> Account:
        if name is None:
            found = [a for a in (resolve_uid(self.uid),) if a is not None]
            if found:
                return found[0]
            return Account(str(self.uid), self.uid, self.gid, "/", "/bin/sh", (self.gid,))
        account = resolve(name)
        if account is None:
            raise HelperRefused(f"the Unix account {name!r} does not resolve")
        return account

    def drop(self) -> None:
        """Act as the invoking user, keeping root as the saved uid to take it back."""
        os.setgroups([self.gid])
        os.setresgid(self.gid, self.gid, 0)
        os.setresuid(self.uid, self.uid, 0)

    @contextlib.contextmanager
    def as_root(self) -> Iterator[None]:
        os.seteuid(0)
        os.setegid(0)
        try:
            yield
        finally:
            self.drop()


def resolve_uid(uid: int) -> Account | None:
    import pwd

    try:
        return resolve(pwd.getpwuid(uid).pw_name)
    except KeyError:
        return None


@contextlib.contextmanager
def as_root(invoker: Invoker | None) -> Iterator[None]:
    """Root for the block when running as a helper; nothing to do when the server is root."""
    if invoker is None:
        yield
        return
    with invoker.as_root():
        yield


def regain_root(invoker: Invoker | None) -> None:
    """In the job's process before it switches to the member: take root back (saved uid 0)."""
    if invoker is not None:
        os.seteuid(0)
        os.setegid(0)
