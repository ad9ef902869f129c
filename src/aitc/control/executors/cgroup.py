"""One cgroup per attempt: memory, CPU and process limits, GPU device confinement, clean ends.

The supervisor (root) creates the attempt's cgroup before it spawns the job; the job's process
joins it before it execs (so it is confined from its first instruction, and so is everything it
forks, ``setsid`` daemons included). At the end of the attempt every process still in the cgroup
is killed (frozen first, so none can fork away) and the cgroup is removed: nothing outlives its
job while its GPU goes to the next one. This is what Slurm's ``proctrack/cgroup`` and
``task/cgroup`` do.

Both cgroup versions are handled:

- **v1** (separate hierarchies under ``/sys/fs/cgroup/<controller>``): ``memory``, ``cpu``
  (CFS quota), ``pids``, ``freezer`` and ``devices`` (a whitelist: the basic character devices and
  the job's own ``/dev/nvidiaN``, major 195).
- **v2** (one hierarchy, controllers delegated in ``cgroup.subtree_control``): ``memory.max``,
  ``cpu.max``, ``pids.max``, and ``cgroup.kill``. v2 has no device files (device control there is
  an eBPF program), so devices are not confined on v2; ``warnings`` says so.

Where no cgroup can be made (not root, no cgroup file system), ``confine`` returns ``None`` and a
warning; the supervisor then runs the job unconfined and still kills its process group at the end.
This module imports the standard library only (the supervisor loads it at every job start).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
NVIDIA_MAJOR = 195
NVIDIA_CTL_MINORS = (254, 255)  # nvidia-modeset, nvidiactl: every CUDA process opens nvidiactl
# Character devices every job may use: null, zero, full, random, urandom, tty, ptmx, ptys.
BASIC_DEVICES = ("c 1:3", "c 1:5", "c 1:7", "c 1:8", "c 1:9", "c 5:0", "c 5:2", "c 136:*")
# Whole drivers a GPU job needs besides its GPUs: unified memory, MIG capabilities, InfiniBand.
DRIVER_NAMES = ("nvidia-uvm", "nvidia-caps", "infiniband_verbs", "infiniband_mad")
V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer", "devices")
CFS_PERIOD_US = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    """What one attempt may use. ``gpu_minors`` is None when devices are not confined."""

    memory_bytes: int | None = None
    cpus: float | None = None
    pids: int | None = None
    gpu_minors: tuple[int, ...] | None = None


@dataclass(slots=True)
class Cgroup:
    """The cgroup directories of one attempt (one per v1 controller, or one v2 directory)."""

    name: str
    dirs: dict[str, Path]  # controller -> directory ("unified" for v2)
    warnings: list[str] = field(default_factory=list)

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` a process writes ``0`` into to join (before it execs)."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
        return found

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this attempt for exceeding its memory."""
        if "unified" in self.dirs:
            events = _read(self.dirs["unified"] / "memory.events")
        else:
            events = _read(self.dirs.get("memory", Path("/nonexistent")) / "memory.oom_control")
        for line in events.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def kill_all(self, timeout_s: float = 5.0) -> int:
        """Kill every process left in the cgroup; return how many there were."""
        if "unified" in self.dirs:
            return self._kill_v2(timeout_s)
        freezer = self.dirs.get("freezer")
        if freezer is not None:
            _write(freezer / "freezer.state", "FROZEN")
            _wait(lambda: _read(freezer / "freezer.state").strip() != "FREEZING", timeout_s)
        victims = self.pids()
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if freezer is not None:
            _write(freezer / "freezer.state", "THAWED")  # killed tasks die once thawed
        _wait(lambda: not self.pids(), timeout_s)
        return len(victims)

    def _kill_v2(self, timeout_s: float) -> int:
        d = self.dirs["unified"]
        victims = self.pids()
        if victims and not _write(d / "cgroup.kill", "1"):
            for pid in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        _wait(lambda: not self.pids(), timeout_s)
        return len(victims)

    def remove(self) -> None:
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                d.rmdir()


def confine(name: str, limits: Limits, root: Path = ROOT) -> tuple[Cgroup | None, list[str]]:
    """Create the cgroup ``aitc/<name>`` with ``limits``; ``(None, warnings)`` where none can be."""
    if os.geteuid() != 0:
        return None, ["not root: jobs are not confined in cgroups"]
    if (root / "cgroup.controllers").exists():
        return _confine_v2(name, limits, root)
    if all((root / c).is_dir() for c in ("memory", "cpu", "pids", "freezer")):
        return _confine_v1(name, limits, root)
    return None, [f"no cgroup file system at {root}: jobs are not confined"]


def _confine_v1(name: str, limits: Limits, root: Path) -> tuple[Cgroup | None, list[str]]:
    cg = Cgroup(name, {})
    for ctrl in V1_CONTROLLERS:
        d = root / ctrl / "aitc" / name
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            cg.warnings.append(f"cgroup controller {ctrl} unavailable ({exc.strerror})")
            continue
        cg.dirs[ctrl] = d
    if "freezer" not in cg.dirs:
        cg.remove()
        return None, [*cg.warnings, "no freezer cgroup: jobs are not confined"]
    mem, cpu, pids, dev = (cg.dirs.get(c) for c in ("memory", "cpu", "pids", "devices"))
    if mem is not None and limits.memory_bytes:
        _write(mem / "memory.limit_in_bytes", str(limits.memory_bytes))
    if cpu is not None and limits.cpus:
        _write(cpu / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        _write(cpu / "cpu.cfs_quota_us", str(int(limits.cpus * CFS_PERIOD_US)))
    if pids is not None and limits.pids:
        _write(pids / "pids.max", str(limits.pids))
    if dev is not None and limits.gpu_minors is not None:
        _restrict_devices(dev, limits.gpu_minors)
    elif limits.gpu_minors is not None:
        cg.warnings.append("no devices cgroup: a job can open every GPU's device file")
    return cg, cg.warnings


def _restrict_devices(d: Path, gpu_minors: tuple[int, ...]) -> None:
    _write(d / "devices.deny", "a")
    allowed = list(BASIC_DEVICES)
    allowed += [f"c {NVIDIA_MAJOR}:{m}" for m in (*NVIDIA_CTL_MINORS, *gpu_minors)]
    allowed += [f"c {major}:*" for major in driver_majors()]
    for rule in allowed:
        _write(d / "devices.allow", f"{rule} rwm")


def driver_majors(proc_devices: Path = Path("/proc/devices")) -> list[int]:
    """Character-device majors of the GPU and fabric drivers this host has loaded."""
    majors = []
    in_char = False
    for line in _read(proc_devices).splitlines():
        if line.startswith("Character devices"):
            in_char = True
        elif line.startswith("Block devices"):
            in_char = False
        elif in_char:
            number, _, driver = line.strip().partition(" ")
            if driver in DRIVER_NAMES and number.isdigit():
                majors.append(int(number))
    return majors


def _confine_v2(name: str, limits: Limits, root: Path) -> tuple[Cgroup | None, list[str]]:
    parent = root / "aitc"
    try:
        parent.mkdir(exist_ok=True)
        available = _read(root / "cgroup.controllers").split()
        wanted = [c for c in ("memory", "cpu", "pids") if c in available]
        _write(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
        _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
        d = parent / name
        d.mkdir(exist_ok=True)
    except OSError as exc:
        return None, [f"cannot create a cgroup under {root} ({exc.strerror}): not confined"]
    cg = Cgroup(name, {"unified": d})
    if limits.memory_bytes:
        _write(d / "memory.max", str(limits.memory_bytes))
    if limits.cpus:
        _write(d / "cpu.max", f"{int(limits.cpus * CFS_PERIOD_US)} {CFS_PERIOD_US}")
    if limits.pids:
        _write(d / "pids.max", str(limits.pids))
    if limits.gpu_minors is not None:
        cg.warnings.append("cgroup v2 has no device files: a job can open every GPU's device file")
    return cg, cg.warnings


def _write(path: Path, value: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError:
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _wait(done: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
