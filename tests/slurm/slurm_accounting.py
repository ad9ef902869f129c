"""A Slurm test cluster with accounting: the rig plus its own MariaDB and slurmdbd.

``AccountedRig`` is a ``SlurmRig`` whose slurm.conf stores accounting through a slurmdbd of
its own (``AccountingStorageType=accounting_storage/slurmdbd``, ``JobAcctGatherType=
jobacct_gather/linux`` every second, ``AccountingStorageTRES=gres/gpu``), which keeps it in a
MariaDB server of its own (a data directory, a socket and a loopback port below the rig's
directory; started as root with ``--skip-grant-tables``: a throwaway database that only this
host's loopback reaches). The cluster, an account and the test users are registered with
``sacctmgr`` before slurmctld starts. ``stop`` ends slurmdbd with the other daemons, then
MariaDB. Needs ``slurmdbd`` and ``mariadb-server`` (``scripts/test`` installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from aitc.control.executors.slurm_cli.rig import SlurmRig
from aitc.domain.cluster import Cluster
from aitc.errors import SlurmError

BINARIES = ("slurmdbd", "sacctmgr", "sacct", "mariadbd", "mariadb-install-db")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AccountedRig(SlurmRig):
    """The rig with slurmdbd and MariaDB (see the module docstring)."""

    def __init__(self, cluster: Cluster, directory: Path, users: Sequence[str] = ()) -> None:
        super().__init__(cluster, directory)
        self.users = tuple(users)
        self.db_port, self.dbd_port = free_port(), free_port()
        self._maria: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_s: float = 60.0) -> None:
        missing = [b for b in BINARIES if shutil.which(b, path=self.env["PATH"]) is None]
        if missing:
            raise SlurmError(
                f"missing {', '.join(missing)}: apt-get install slurmdbd mariadb-server"
            )
        self._start_database()
        super().start(wait_s=wait_s)

    def _write_files(self) -> None:
        super()._write_files()
        conf = (self.dir / "slurm.conf").read_text()
        accounting = [
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=localhost",
            f"AccountingStoragePort={self.dbd_port}",
            f"AccountingStoragePass={self.dir / 'munge/sock'}",  # the munge socket, for slurmdbd
            "AccountingStorageTRES=gres/gpu",
            "JobAcctGatherType=jobacct_gather/linux",
            "JobAcctGatherFrequency=task=1",
        ]
        none = "AccountingStorageType=accounting_storage/none"
        if none not in conf:
            raise SlurmError("the rig's slurm.conf no longer says " + none)
        (self.dir / "slurm.conf").write_text(conf.replace(none, "\n".join(accounting)))
        dbd = self.dir / "slurmdbd.conf"  # slurmdbd reads it beside slurm.conf
        dbd.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={self.dir / 'munge/sock'}",
                    "DbdHost=localhost",
                    f"DbdPort={self.dbd_port}",
                    "SlurmUser=root",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=127.0.0.1",
                    f"StoragePort={self.db_port}",
                    "StorageUser=root",
                    "StorageLoc=aitc_rig_accounting",
                    f"PidFile={self.dir / 'slurmdbd.pid'}",
                    f"LogFile={self.dir / 'slurmdbd.log'}",
                    "",
                ]
            )
        )
        dbd.chmod(0o600)

    def start_controller(self) -> None:
        if "slurmdbd" not in self.daemon_pids():
            self._spawn("slurmdbd", ["slurmdbd", "-D"])
            self._register()
        super().start_controller()

    def _register(self) -> None:
        """The cluster, an account and every user (root and the test users) in accounting."""
        cluster = _cluster_name(self.dir / "slurm.conf")
        users = ",".join(["root", *self.users])
        steps = [
            ["sacctmgr", "-i", "add", "cluster", cluster],
            ["sacctmgr", "-i", "add", "account", "lab", f"cluster={cluster}"],
            ["sacctmgr", "-i", "add", "user", users, "account=lab", f"cluster={cluster}"],
        ]
        deadline = time.monotonic() + 30.0
        for args in steps:
            while True:
                done = subprocess.run(args, env=self.env, capture_output=True, text=True)
                if done.returncode == 0 or "already exists" in done.stdout + done.stderr:
                    break
                if time.monotonic() > deadline:  # slurmdbd may take a moment to answer
                    raise SlurmError(f"{' '.join(args)}: {done.stderr}\n{self.log_tails()}")
                time.sleep(0.5)

    def _start_database(self) -> None:
        data = self.dir / "mariadb"
        data.mkdir(parents=True, exist_ok=True)
        if not (data / "mysql").exists():
            subprocess.run(
                ["mariadb-install-db", "--user=root", f"--datadir={data}", "--skip-test-db"],
                check=True,
                capture_output=True,
            )
        self._maria = subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                "--user=root",
                f"--datadir={data}",
                f"--socket={self.dir / 'mariadb.sock'}",
                f"--port={self.db_port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.dir / 'mariadb.pid'}",
                f"--log-error={self.dir / 'mariadb.log'}",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=32M",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30.0
        while not _listening(self.db_port):
            if self._maria.poll() is not None or time.monotonic() > deadline:
                log = (self.dir / "mariadb.log").read_text(errors="replace")[-2000:]
                raise SlurmError(f"MariaDB did not start:\n{log}")
            time.sleep(0.2)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self._maria is not None and self._maria.poll() is None:
                self._maria.terminate()
                try:
                    self._maria.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(self._maria.pid, 9)
                    self._maria.wait(10)
            self._maria = None


def _cluster_name(conf: Path) -> str:
    for line in conf.read_text().splitlines():
        if line.startswith("ClusterName="):
            return line.split("=", 1)[1].strip()
    raise SlurmError(f"no ClusterName in {conf}")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
