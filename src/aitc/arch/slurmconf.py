"""Slurm configuration from a ``Cluster``: slurm.conf, gres.conf, topology.conf, cgroup.conf.

aitc's engine decides where jobs run; Slurm launches them. For the two to agree, Slurm must
know the same nodes, the same GPUs (as typed GRES, ``gpu:h100:8``) and the same tree: one switch
per leaf over its nodes, one per scalable unit over its leaves and a top switch over the SUs, so
that Slurm's ``topology/tree`` plugin ranks placements as our placement does.

``render`` is pure: it returns the text of each file. ``RigOptions`` turns the output into a
*test rig*: every node on this host (``NodeHostname=localhost``, one port per node, ``%n`` in
spool, pid and log paths, one ``slurmd -N <node>`` each), fake GPU device files (character
devices, see ``fake_devices``) and every path under one directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from aitc.arch.hostlist import compress, expand
from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS
from aitc.domain.job import MigSlot
from aitc.errors import ConfigError

NVIDIA_MAJOR = 195  # the character-device major of /dev/nvidia*
FILES = ("slurm.conf", "gres.conf", "topology.conf", "cgroup.conf")


@dataclass(frozen=True, slots=True)
class RigOptions:
    """All nodes on one host, for tests and demos.

    Ports: slurmctld on ``base_port``, node *i* (in cluster order) on ``base_port + 2 + i``.
    ``munge_socket`` lets the rig use its own munged instead of the system one.
    ``cgroups`` confines jobs as on a real cluster (``proctrack/cgroup``, ``task/cgroup``,
    cgroup v1) under ``cgroup_dir``, where whoever starts the rig (``SlurmRig``) must first
    bind-mount a freezer, a devices and a memory cgroup of its own (``<cgroup_dir>/freezer``,
    …): one subtree per rig, so that rigs on one host never share a job's cgroup.
    """

    directory: str
    base_port: int = 26800
    fake_gpus: bool = True
    munge_socket: str | None = None
    slurmd_timeout_s: int = 5
    cgroups: bool = False

    def port(self, i: int) -> int:
        return self.base_port + 2 + i

    @property
    def device_dir(self) -> str:
        return f"{self.directory}/dev"

    @property
    def cgroup_dir(self) -> str:
        return f"{self.directory}/cgroup"


@dataclass(frozen=True, slots=True)
class SlurmConfOptions:
    """What the cluster model does not say: names, the controller host, MIG layout, a rig.

    ``mig`` maps a node name to the MIG slices configured on it; a GPU with slices is offered
    as typed slices (``gpu:1g.10gb:7``) instead of a whole GPU. ``os_memory_fraction`` of each
    node's memory is kept out of ``RealMemory`` for the operating system (a node that reports
    less memory than configured is refused by Slurm).
    """

    cluster_name: str | None = None
    partition: str = "gpu"
    control_host: str = "slurmctld"
    mig: Mapping[str, tuple[MigSlot, ...]] = field(default_factory=lambda: MappingProxyType({}))
    rig: RigOptions | None = None
    os_memory_fraction: float = 0.05


@dataclass(frozen=True, slots=True)
class FakeDevice:
    """A character device that stands in for a GPU (or MIG slice) on a test rig."""

    path: str
    major: int
    minor: int


def gres_type(gpu_model: str) -> str:
    """The GRES type Slurm knows a GPU model by: ``H100-80GB`` -> ``h100``.

    The short name is used unless two catalog models share it (A100 40 and 80 GB), then the
    memory is appended (``a100_80gb``).
    """
    short = gpu_model.split("-")[0].lower()
    clash = sum(1 for name in GPU_MODELS if name.split("-")[0].lower() == short) > 1
    return f"{short}_{gpu_model.split('-', 1)[1].lower()}" if clash and "-" in gpu_model else short


def gpu_model_of(gres: str) -> str | None:
    """The catalog GPU model whose GRES type is ``gres`` (None if no model has it)."""
    return next((name for name in GPU_MODELS if gres_type(name) == gres), None)


def render(cluster: Cluster, *, options: SlurmConfOptions) -> dict[str, str]:
    """The four configuration files, by file name, for ``cluster``."""
    _check(cluster, options)
    return {
        "slurm.conf": _slurm_conf(cluster, options),
        "gres.conf": _gres_conf(cluster, options),
        "topology.conf": _topology_conf(cluster),
        "cgroup.conf": _cgroup_conf(options),
    }


def _check(cluster: Cluster, options: SlurmConfOptions) -> None:
    if not cluster.nodes:
        raise ConfigError("the cluster has no nodes; Slurm needs at least one", field="nodes")
    for node, slots in options.mig.items():
        if node not in cluster:
            raise ConfigError(f"MIG layout names unknown node {node!r}", field="mig")
        model = cluster.node(node).model.gpu
        for s in slots:
            model.mig(s.profile)
            if not 0 <= s.gpu < cluster.node(node).gpus:
                raise ConfigError(f"{node}: no GPU {s.gpu} for a MIG slice", field="mig")


def _name(cluster: Cluster, options: SlurmConfOptions) -> str:
    raw = options.cluster_name or cluster.name
    return "".join(c for c in raw.lower() if c.isalnum())[:40] or "aitc"


def _slurm_conf(cluster: Cluster, options: SlurmConfOptions) -> str:
    rig = options.rig
    lines = [
        f"# Slurm configuration for cluster {cluster.name!r}, generated by aitc.",
        "# aitc decides placements; Slurm launches exactly there (sbatch --nodelist --gres).",
        f"ClusterName={_name(cluster, options)}",
        f"SlurmctldHost={'localhost' if rig else options.control_host}",
        *(_rig_core(rig) if rig else _real_core(options.control_host)),
        "AuthType=auth/munge",
        "CredType=cred/munge",
        "MpiDefault=none",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "GresTypes=gpu",
        "TopologyPlugin=topology/tree",
        "ReturnToService=2",
        "JobCompType=jobcomp/none",
        "",
        "# Nodes: CPUs, memory and GPUs (typed GRES) from the node model.",
        *_node_lines(cluster, options),
        "",
        f"PartitionName={options.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


def _real_core(host: str) -> list[str]:
    """Production defaults: cgroups confine each job to its cores, memory and GPUs."""
    return [
        "SlurmctldPort=6817",
        "SlurmdPort=6818",
        "SlurmUser=slurm",
        "ProctrackType=proctrack/cgroup",
        "TaskPlugin=task/affinity,task/cgroup",
        "SelectTypeParameters=CR_Core_Memory",
        "StateSaveLocation=/var/spool/slurmctld",
        "SlurmdSpoolDir=/var/spool/slurmd",
        "SlurmctldPidFile=/run/slurmctld.pid",
        "SlurmdPidFile=/run/slurmd.pid",
        "SlurmctldLogFile=/var/log/slurm/slurmctld.log",
        "SlurmdLogFile=/var/log/slurm/slurmd.log",
        "AccountingStorageType=accounting_storage/slurmdbd",
        f"AccountingStorageHost={host}",
        "JobAcctGatherType=jobacct_gather/cgroup",
    ]


def _rig_core(rig: RigOptions) -> list[str]:
    d = rig.directory
    lines = [
        f"SlurmctldPort={rig.base_port}",
        f"SlurmdPort={rig.base_port + 1}",
        "SlurmUser=root",
        "SlurmdUser=root",
        *(
            [
                "# Test rig: cgroups end every process of a job and confine its GPU devices;",
                "# node sizes come from this file, not from the host.",
                "ProctrackType=proctrack/cgroup",
                "TaskPlugin=task/cgroup",
            ]
            if rig.cgroups
            else [
                "# Test rig: no cgroups; node sizes come from this file, not from the host.",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
            ]
        ),
        "SelectTypeParameters=CR_Core",
        "SlurmdParameters=config_overrides",
        f"SlurmdTimeout={rig.slurmd_timeout_s}",
        "MessageTimeout=5",
        "KillWait=2",
        "SchedulerParameters=batch_sched_delay=0",
        "AccountingStorageType=accounting_storage/none",
        f"StateSaveLocation={d}/state",
        f"SlurmdSpoolDir={d}/spool-%n",
        f"SlurmctldPidFile={d}/slurmctld.pid",
        f"SlurmdPidFile={d}/slurmd-%n.pid",
        f"SlurmctldLogFile={d}/slurmctld.log",
        f"SlurmdLogFile={d}/slurmd-%n.log",
    ]
    if rig.munge_socket:
        lines.append(f"AuthInfo=socket={rig.munge_socket}")
    return lines


def _node_lines(cluster: Cluster, options: SlurmConfOptions) -> list[str]:
    """One NodeName line per run of nodes that share a model (one per node where ports differ)."""
    out: list[str] = []
    for run in _runs(cluster, options):
        first = run[0][1]
        names = [n.name for _, n in run]
        port = ""
        if options.rig is not None:
            lo, hi = options.rig.port(run[0][0]), options.rig.port(run[-1][0])
            port = f" NodeHostname=localhost Port={lo if lo == hi else f'[{lo}-{hi}]'}"
        out.append(
            f"NodeName={compress(names)}{port} {_hardware(first, options)}"
            f" Gres={_gres(first, options)} State=UNKNOWN"
        )
    return out


def _runs(cluster: Cluster, options: SlurmConfOptions) -> list[list[tuple[int, Node]]]:
    """Consecutive nodes with one hardware and GRES line whose host list keeps their order."""
    runs: list[list[tuple[int, Node]]] = []
    for i, node in enumerate(cluster.nodes):
        if runs and _same_line(runs[-1], node, options):
            runs[-1].append((i, node))
        else:
            runs.append([(i, node)])
    return runs


def _same_line(run: Sequence[tuple[int, Node]], node: Node, options: SlurmConfOptions) -> bool:
    last = run[-1][1]
    if (last.model, _gres(last, options)) != (node.model, _gres(node, options)):
        return False
    names = [n.name for _, n in run] + [node.name]
    return expand(compress(names)) == names


def _hardware(node: Node, options: SlurmConfOptions) -> str:
    """CPUs and memory: two sockets, SMT on (as DGX systems ship), RealMemory minus an OS share."""
    cores = node.model.cpu_cores
    memory_mb = int(node.model.ram_gb * 1024 * (1 - options.os_memory_fraction))
    return (
        f"CPUs={cores * 2} Boards=1 SocketsPerBoard=2 CoresPerSocket={cores // 2}"
        f" ThreadsPerCore=2 RealMemory={memory_mb}"
    )


def _mig_gpus(node: Node, options: SlurmConfOptions) -> set[int]:
    return {s.gpu for s in options.mig.get(node.name, ())}


def _gres(node: Node, options: SlurmConfOptions) -> str:
    """``gpu:h100:8``, or whole GPUs plus typed MIG slices (``gpu:h100:7,gpu:1g.10gb:7``)."""
    whole = node.gpus - len(_mig_gpus(node, options))
    parts = [f"gpu:{gres_type(node.gpu_model)}:{whole}"] if whole else []
    counts: dict[str, int] = {}
    for s in options.mig.get(node.name, ()):
        counts[s.profile] = counts.get(s.profile, 0) + 1
    parts += [f"gpu:{profile}:{n}" for profile, n in sorted(counts.items())]
    return ",".join(parts)


def _gres_conf(cluster: Cluster, options: SlurmConfOptions) -> str:
    lines = ["# GPU device files per node, generated by aitc.", "AutoDetect=off"]
    for run in _runs(cluster, options):
        node = run[0][1]
        names = compress(n.name for _, n in run)
        lines += _gres_lines(names, node, options)
    return "\n".join(lines) + "\n"


def _gres_lines(names: str, node: Node, options: SlurmConfOptions) -> list[str]:
    fake = options.rig is not None and options.rig.fake_gpus
    dev = options.rig.device_dir if options.rig and fake else "/dev"
    mig = _mig_gpus(node, options)
    if mig and not fake:
        # Real MIG devices: on these nodes Slurm reads GPUs and slices from the driver (NVML).
        return [f"NodeName={names} AutoDetect=nvml"]
    whole = [g for g in range(node.gpus) if g not in mig]
    lines = []
    if whole:
        lines.append(
            f"NodeName={names} Name=gpu Type={gres_type(node.gpu_model)}"
            f" File={dev}/nvidia{_index_list(whole)}"
        )
    for s in options.mig.get(node.name, ()):
        lines.append(
            f"NodeName={names} Name=gpu Type={s.profile}"
            f" MultipleFiles={dev}/nvidia{s.gpu},{_cap_path(dev, s)}"
        )
    return lines


def _index_list(indices: Sequence[int]) -> str:
    return compress(f"x{i}" for i in indices)[1:] if len(indices) > 1 else str(indices[0])


def _cap_path(dev: str, s: MigSlot) -> str:
    return f"{dev}/nvidia-caps/nvidia-cap-gpu{s.gpu}-slot{s.start}"


def _topology_conf(cluster: Cluster) -> str:
    """The leaf / SU / top tree of the cluster model as Slurm switches."""
    lines = ["# The fabric tree of the cluster model, generated by aitc."]
    sus: dict[int, list[str]] = {}
    for (su, leaf), nodes in _leaves(cluster).items():
        name = f"su{su}-leaf{leaf}"
        sus.setdefault(su, []).append(name)
        lines.append(f"SwitchName={name} Nodes={compress(nodes)}")
    for su, leaves in sus.items():
        lines.append(f"SwitchName=su{su} Switches={compress(leaves)}")
    lines.append(f"SwitchName=top Switches={compress(f'su{su}' for su in sus)}")
    return "\n".join(lines) + "\n"


def _leaves(cluster: Cluster) -> dict[tuple[int, int], list[str]]:
    out: dict[tuple[int, int], list[str]] = {}
    for n in cluster.nodes:
        out.setdefault((n.su, n.leaf), []).append(n.name)
    return dict(sorted(out.items()))


def _cgroup_conf(options: SlurmConfOptions) -> str:
    rig = options.rig
    if rig is not None and rig.cgroups:
        return (
            "# Test rig: the rig's own cgroup v1 subtrees (freezer, devices, memory) are\n"
            "# bind-mounted here; Slurm adds slurm_<node>/uid_<uid>/job_<id> below them.\n"
            "CgroupPlugin=cgroup/v1\n"
            f"CgroupMountpoint={rig.cgroup_dir}\n"
            "# The nodes claim more CPUs than the host has: cores cannot be confined.\n"
            "ConstrainCores=no\n"
            "ConstrainDevices=yes\n"
            "ConstrainRAMSpace=yes\n"
        )
    if rig is not None:
        # Slurm 22.05 has no "disabled"; the rig's plugins never touch cgroups anyway.
        return "CgroupPlugin=autodetect\n"
    return (
        "CgroupPlugin=autodetect\nConstrainCores=yes\nConstrainDevices=yes\nConstrainRAMSpace=yes\n"
    )


def fake_devices(cluster: Cluster, *, options: SlurmConfOptions) -> list[FakeDevice]:
    """The character devices a rig with fake GPUs needs (create them with ``mknod``, as root)."""
    if options.rig is None or not options.rig.fake_gpus:
        return []
    dev = options.rig.device_dir
    most = cluster.max_gpus_per_node
    out = [FakeDevice(f"{dev}/nvidia{i}", NVIDIA_MAJOR, i) for i in range(most)]
    slots = {(s.gpu, s.start) for slots in options.mig.values() for s in slots}
    for gpu, start in sorted(slots):
        path = _cap_path(dev, MigSlot(gpu, "", start))
        out.append(FakeDevice(path, NVIDIA_MAJOR, 64 + gpu * 8 + start))
    return out
