"""A real multi-node Slurm cluster on this host, for tests, benchmarks and demos.

``SlurmRig`` renders the configuration with ``aitc.arch.slurmconf`` (all nodes on localhost,
one port each, fake GPU character devices), then starts its own ``munged`` (own key, socket and
pid file, so a system munged is left alone), ``slurmctld`` and one ``slurmd -N <node>`` per node
(Debian builds Slurm with ``--enable-multiple-slurmd``). Daemons run in the foreground as our
children and write pid files; ``stop`` ends them, then any job process that still carries this
rig's ``SLURM_CONF`` in its environment, so nothing is left behind. It installs nothing: the
binaries come from ``slurm-wlm`` and ``munge`` (``scripts/test`` installs them). Needs root
(``mknod`` and ``SlurmUser=root``).

Jobs may run as other Unix users (``sbatch`` through ``runuser``, as the Slurm executor does for
members): the munge socket and the slurmd spool directories are open to every user (the munge
key and slurmctld's state stay private), and ``ensure_test_users`` creates the test accounts.
For such jobs ``directory`` itself must be reachable by those users (not under pytest's private
``/tmp/pytest-of-root``).

Jobs are confined as on a real cluster where the host has cgroup v1 (``proctrack/cgroup``,
``task/cgroup`` with ``ConstrainDevices`` and ``ConstrainRAMSpace``): every process a job
started, ``setsid`` daemons included, is killed when it ends, and a job opens only its own GPUs'
device files. Slurm 22.05 puts every ``slurmd -N`` of a host under ``slurm_<node>`` of the
``CgroupMountpoint``, so two rigs with the same node names would share job cgroups; each rig
therefore creates a cgroup of its own (``aitc-rig-<port>``, below this process's cgroup) in the
freezer, devices and memory hierarchies and bind-mounts it at ``<directory>/cgroup/<controller>``,
the rig's ``CgroupMountpoint``. ``stop`` kills what is left in those cgroups, removes them and
unmounts. ``cgroups=False`` (or a host without cgroup v1, such as cgroup v2 only) runs the old
way: ``proctrack/linuxproc``, no confinement.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from aitc.arch.slurmconf import RigOptions, SlurmConfOptions, fake_devices, render
from aitc.control.accounts import Account, resolve
from aitc.control.executors.slurm_cli import SBIN
from aitc.domain.cluster import Cluster
from aitc.errors import SlurmError

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel", "scontrol")
# The cgroup v1 controllers Slurm's cgroup plugins use with the rig's cgroup.conf.
CGROUP_CONTROLLERS = ("freezer", "devices", "memory")


class SlurmRig:
    """Start, break and stop a one-host Slurm cluster for ``cluster`` under ``directory``."""

    def __init__(
        self,
        cluster: Cluster,
        directory: Path,
        *,
        base_port: int | None = None,
        cgroups: bool | None = None,
    ) -> None:
        """``cgroups``: confine jobs (True: ``SlurmError`` at start if the host cannot), run
        them unconfined (False), or confine them where the host has cgroup v1 (None)."""
        self.cluster = cluster
        self.dir = directory
        port = base_port or free_port_block(len(cluster) + 2)
        roots = cgroup_v1_roots() if cgroups is not False else None
        if cgroups and roots is None:
            raise SlurmError(
                "cannot confine the Slurm test cluster's jobs: no writable cgroup v1 "
                f"hierarchies of {', '.join(CGROUP_CONTROLLERS)} are mounted here"
            )
        # Where this rig's own cgroup of each controller lives in the host's hierarchy.
        self._cgroups = {c: root / f"aitc-rig-{port}" for c, root in (roots or {}).items()}
        self.options = SlurmConfOptions(
            partition="batch",
            rig=RigOptions(
                directory=str(directory),
                base_port=port,
                munge_socket=str(directory / "munge/sock"),
                cgroups=bool(self._cgroups),
            ),
        )
        self.conf = directory / "slurm.conf"
        self.env: dict[str, str] = {
            "SLURM_CONF": str(self.conf),
            "PATH": f"{os.environ.get('PATH', '/usr/bin:/bin')}:{SBIN}",
        }
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def nodes(self) -> list[str]:
        return [n.name for n in self.cluster.nodes]

    @property
    def confined(self) -> bool:
        """Whether jobs run in cgroups (killed whole at their end, only their own GPUs)."""
        return bool(self._cgroups)

    def daemon_pids(self) -> dict[str, int]:
        """The pid of each running daemon: ``munged``, ``slurmctld``, ``slurmd-<node>``."""
        return {k: p.pid for k, p in self._procs.items() if p.poll() is None}

    def start(self, *, wait_s: float = 30.0) -> None:
        """Write the configuration, start every daemon and wait until every node is idle."""
        check_prerequisites()
        self._write_files()
        self._mount_cgroups()
        self._start_munge()
        self.start_controller()
        for node in self.nodes:
            self.start_node(node)
        self.wait_idle(wait_s)

    def _write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, text in render(self.cluster, options=self.options).items():
            (self.dir / name).write_text(text)
            (self.dir / name).chmod(0o644)  # every user's sbatch reads it, whatever the umask
        (self.dir / "state").mkdir(mode=0o700, exist_ok=True)
        # Every user submits through the munge socket; slurmstepd runs a job's script from its
        # node's spool directory after it has switched to the job's user.
        for sub in ["munge", *(f"spool-{n}" for n in self.nodes)]:
            (self.dir / sub).mkdir(exist_ok=True)
            (self.dir / sub).chmod(0o755)
        for dev in fake_devices(self.cluster, options=self.options):
            Path(dev.path).parent.mkdir(parents=True, exist_ok=True)
            Path(dev.path).parent.chmod(0o755)
            if not Path(dev.path).exists():
                os.mknod(dev.path, 0o666 | 0o020000, os.makedev(dev.major, dev.minor))
                os.chmod(dev.path, 0o666)

    def _mount_cgroups(self) -> None:
        """This rig's cgroup in each hierarchy, bind-mounted where its cgroup.conf says."""
        for controller, host in self._cgroups.items():
            host.mkdir(exist_ok=True)
            target = self.dir / "cgroup" / controller
            target.mkdir(parents=True, exist_ok=True)
            if os.path.ismount(target):
                continue
            done = subprocess.run(
                ["mount", "--bind", str(host), str(target)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SlurmError(f"cannot mount {host} at {target}: {done.stderr.strip()}")

    def _release_cgroups(self) -> None:
        """Kill every process left in this rig's cgroups (frozen first, so that none forks
        meanwhile), remove the cgroups and unmount them."""
        freezer = self._cgroups.get("freezer")
        state = freezer / "freezer.state" if freezer else None
        if state is not None and state.exists():
            with contextlib.suppress(OSError):
                state.write_text("FROZEN")
        pids = {pid for host in self._cgroups.values() for pid in _cgroup_pids(host)}
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if state is not None and state.exists():
            with contextlib.suppress(OSError):
                state.write_text("THAWED")
        left: dict[str, set[int]] = {}
        for controller, host in self._cgroups.items():
            deadline = time.monotonic() + 10.0
            while (pids := _cgroup_pids(host)) and time.monotonic() < deadline:
                time.sleep(0.1)
            if pids:
                left[str(host)] = pids
            target = self.dir / "cgroup" / controller
            if os.path.ismount(target):
                done = subprocess.run(["umount", str(target)], capture_output=True, check=False)
                if done.returncode != 0:
                    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
            _remove_cgroup(host)
        if left:
            raise SlurmError(f"processes survived the test cluster's end: {left}")

    def _start_munge(self) -> None:
        m = self.dir / "munge"
        key = m / "key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            key.chmod(0o600)
        self._spawn(
            "munged",
            [
                "munged",
                "-F",
                "--force",
                f"--socket={m / 'sock'}",
                f"--key-file={key}",
                f"--pid-file={m / 'pid'}",
                f"--log-file={m / 'log'}",
                f"--seed-file={m / 'seed'}",
            ],
        )
        _wait_for(
            lambda: (m / "sock").exists(),
            10.0,
            lambda: f"munged did not create its socket:\n{self.log_tails()}",
        )

    def _spawn(self, key: str, args: list[str]) -> None:
        out = open(self.dir / f"{key}.stdout", "ab")  # noqa: SIM115 - owned by the child
        self._procs[key] = subprocess.Popen(
            args,
            env=self.env,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()

    def start_node(self, node: str) -> None:
        """Start (or restart) the slurmd of ``node``."""
        self._spawn(f"slurmd-{node}", ["slurmd", "-D", "-N", node])

    def stop_controller(self) -> None:
        """Stop slurmctld (the nodes keep running), as when the controller host is down."""
        _terminate(self._procs.pop("slurmctld"))

    def start_controller(self) -> None:
        """Start slurmctld again; the running slurmd register with it."""
        self._spawn("slurmctld", ["slurmctld", "-D", "-i"])

    def revive(self) -> list[str]:
        """Start every daemon (slurmctld, slurmd) that is not running; their names."""
        dead = [
            key
            for key in ["slurmctld", *(f"slurmd-{n}" for n in self.nodes)]
            if (p := self._procs.get(key)) is None or p.poll() is not None
        ]
        for key in dead:
            if key == "slurmctld":
                self.start_controller()
            else:
                self.start_node(key.removeprefix("slurmd-"))
        return dead

    def kill_node(self, node: str) -> None:
        """SIGKILL the slurmd of ``node`` (its jobs' processes stay, as on a crashed host)."""
        proc = self._procs.pop(f"slurmd-{node}")
        proc.kill()
        proc.wait(10)

    def node_states(self) -> dict[str, str]:
        out = subprocess.run(
            ["sinfo", "--json"], env=self.env, capture_output=True, text=True, timeout=15
        )
        if out.returncode != 0:
            return {}
        return {
            n["name"]: n["state"] + "".join(f"+{f}" for f in n.get("state_flags") or [])
            for n in json.loads(out.stdout).get("nodes", [])
        }

    def wait_idle(self, wait_s: float = 30.0, nodes: list[str] | None = None) -> None:
        """Wait until ``nodes`` (default all) are idle; ``SlurmError`` with the log tails if not."""
        want = nodes or self.nodes
        last: dict[str, str] = {}

        def idle() -> bool:
            nonlocal last
            last = self.node_states()
            return all(last.get(n) == "idle" for n in want)

        _wait_for(
            idle, wait_s, lambda: f"nodes not idle after {wait_s:.0f} s: {last}\n{self.log_tails()}"
        )

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for log in sorted(self.dir.glob("*.log")) + sorted(self.dir.glob("*.stdout")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def cancel_all(self, *, timeout_s: float = 20.0) -> None:
        """Cancel every job in the cluster, whoever submitted it."""
        out = subprocess.run(
            ["squeue", "-h", "-o", "%i"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if out.returncode != 0:
            raise SlurmError(f"squeue failed: {out.stderr.strip()}")
        ids = out.stdout.split()
        if ids:
            subprocess.run(["scancel", *ids], env=self.env, capture_output=True, timeout=timeout_s)

    def stop(self) -> None:
        """Cancel every job, stop every daemon, then end what is left of this rig's jobs."""
        with contextlib.suppress(OSError, subprocess.SubprocessError, SlurmError):
            self.cancel_all(timeout_s=10)
        for key in sorted(self._procs, key=lambda k: k == "munged"):
            _terminate(self._procs[key])
        self._procs.clear()
        for pid in _pids_with_env("SLURM_CONF", str(self.conf)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._release_cgroups()


def ensure_test_users(names: Sequence[str]) -> list[Account]:
    """The Unix accounts ``names``, created with ``useradd`` when missing (each its own group
    and home, no password); idempotent. Test users only: aitc never deletes them."""
    out = []
    for name in names:
        if resolve(name) is None:
            done = subprocess.run(
                ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name],
                capture_output=True,
                text=True,
                check=False,
            )
            # A concurrent run may have created it meanwhile (exit 9: the name is taken).
            if done.returncode not in (0, 9):
                raise SlurmError(f"useradd {name} failed: {done.stderr.strip()}")
        account = resolve(name)
        if account is None:
            raise SlurmError(f"test user {name} does not resolve after useradd")
        out.append(account)
    return out


def cgroup_v1_roots() -> dict[str, Path] | None:
    """This process's own cgroup in each of ``CGROUP_CONTROLLERS``' v1 hierarchies, as a
    directory (``/sys/fs/cgroup/freezer``, …), or None unless all of them are mounted
    read-write (a host with cgroup v2 only, a container without them)."""
    try:
        own_lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    own: dict[str, str] = {}
    for line in own_lines:
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            own[c] = path
    out: dict[str, Path] = {}
    for line in mounts:
        fields, _, rest = line.partition(" - ")
        f, r = fields.split(), rest.split()
        if len(f) < 6 or len(r) < 3 or r[0] != "cgroup" or "rw" not in f[5].split(","):
            continue
        root, mountpoint = f[3], f[4]
        for c in CGROUP_CONTROLLERS:
            if c in out or c not in r[2].split(",") or c not in own:
                continue
            rel = os.path.relpath(own[c], root)
            if not rel.startswith("..") and (where := Path(mountpoint) / rel).is_dir():
                out[c] = where.resolve()
    return out if len(out) == len(CGROUP_CONTROLLERS) else None


def _cgroup_pids(host: Path) -> set[int]:
    """Every process in the cgroup ``host`` and below it."""
    out: set[int] = set()
    for procs in host.rglob("cgroup.procs") if host.is_dir() else ():
        with contextlib.suppress(OSError, ValueError):
            out.update(int(p) for p in procs.read_text().split())
    return out


def _remove_cgroup(host: Path) -> None:
    """Remove the (empty) cgroup ``host`` and every cgroup below it, deepest first."""
    if not host.is_dir():
        return
    for parent, dirs, _ in os.walk(host, topdown=False):
        for d in dirs:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(parent, d))
    with contextlib.suppress(OSError):
        host.rmdir()


def check_prerequisites() -> None:
    """``SlurmError`` naming what is missing to run a rig here."""
    path = f"{os.environ.get('PATH', '')}:{SBIN}"
    missing = [b for b in BINARIES if shutil.which(b, path=path) is None]
    if missing:
        raise SlurmError(
            f"cannot start the Slurm test cluster: {', '.join(missing)} not found. "
            "Install them with `apt-get install -y slurm-wlm munge` "
            "(scripts/test does this)."
        )
    if os.geteuid() != 0:
        raise SlurmError(
            "the Slurm test cluster must run as root (mknod for fake GPUs, SlurmUser=root)"
        )


def free_port_block(count: int) -> int:
    """A base port such that ``count`` consecutive ports are free on loopback."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count < 65000 and all(_free(base + i) for i in range(count)):
            return base
    raise SlurmError(f"no block of {count} free ports found on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _pids_with_env(key: str, value: str) -> list[int]:
    """Processes whose environment has ``key=value`` (this rig's slurmstepd and job processes)."""
    needle = f"{key}={value}".encode()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (d / "environ").read_bytes().split(b"\0"):
                out.append(int(d.name))
    return out


def _wait_for(ok: Callable[[], bool], timeout_s: float, message: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.2)
    raise SlurmError(message())
