"""`aitc arch slurm-config`: render slurm.conf, gres.conf, topology.conf and cgroup.conf."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import typer

from aitc.arch.slurmconf import (
    RigOptions,
    SlurmConfOptions,
    fake_devices,
    render,
)
from aitc.cli.output import config_failure, echo
from aitc.domain.cluster import Cluster
from aitc.domain.job import MigSlot
from aitc.errors import AitcError, ConfigError


def register(app: typer.Typer) -> None:
    """Add ``slurm-config`` to the ``aitc arch`` app."""
    app.command("slurm-config")(slurm_config)


def slurm_config(
    cluster_file: Path | None = typer.Option(
        None, "--cluster", help="A cluster file (from `aitc arch build --out`)."
    ),
    lab_file: Path | None = typer.Option(None, "--lab", help="A lab.yaml; its cluster is used."),
    out: Path = typer.Option(..., "--out", help="Directory to write the four files into."),
    partition: str = typer.Option("gpu", "--partition", help="Name of the one partition."),
    control_host: str = typer.Option(
        "slurmctld", "--control-host", help="Host of slurmctld (ignored with --test-rig)."
    ),
    mig: list[str] = typer.Option(
        [],
        "--mig",
        help="Split GPU INDEX of every node into MIG slices: INDEX:PROFILE, "
        "e.g. 7:1g.10gb (repeatable).",
    ),
    test_rig: bool = typer.Option(
        False,
        "--test-rig",
        help="All nodes on this host: NodeHostname=localhost, one port per "
        "node, %n in spool/pid/log paths, every path under --out.",
    ),
    base_port: int = typer.Option(
        26800, "--base-port", help="Test rig: slurmctld port; slurmd N listens on base+2+N."
    ),
    fake_gpus: bool = typer.Option(
        False,
        "--fake-gpus",
        help="Test rig: GPUs are character devices under OUT/dev, "
        "created here with mknod when run as root.",
    ),
    munge_socket: str | None = typer.Option(
        None, "--munge-socket", help="Test rig: the socket of a munged of its own."
    ),
) -> None:
    """Render Slurm's configuration from a cluster so that Slurm and aitc see the same nodes,
    GPUs (typed GRES, e.g. gpu:h100:8) and leaf/SU tree."""
    cluster = _cluster(cluster_file, lab_file)
    directory = str(out.resolve())
    rig = RigOptions(directory, base_port, fake_gpus, munge_socket) if test_rig else None
    if fake_gpus and rig is None:
        _fail("--fake-gpus needs --test-rig")
    try:
        options = SlurmConfOptions(
            partition=partition, control_host=control_host, rig=rig, mig=_mig(cluster, mig)
        )
        files = render(cluster, options=options)
    except AitcError as e:
        _fail(str(e))
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
        typer.echo(f"wrote {out / name}")
    _devices(cluster, options)


def _cluster(cluster_file: Path | None, lab_file: Path | None) -> Cluster:
    if (cluster_file is None) == (lab_file is None):
        _fail("give exactly one of --cluster FILE or --lab FILE")
    try:
        if cluster_file is not None:
            from aitc.arch.clusterfile import load_cluster

            return load_cluster(cluster_file)
        from aitc.plan.lab import load_lab

        assert lab_file is not None
        return load_lab(lab_file).cluster
    except ConfigError as e:  # every error of the file, as `aitc lab check` reports them
        config_failure(e)
    except AitcError as e:
        _fail(str(e))


def _mig(cluster: Cluster, specs: list[str]) -> dict[str, tuple[MigSlot, ...]]:
    """``["7:1g.10gb"]`` -> on every node, GPU 7 cut into as many 1g.10gb slices as fit."""
    slots: list[tuple[int, str]] = []
    for spec in specs:
        index, _, name = spec.partition(":")
        if not index.isdigit() or not name:
            _fail(f"--mig: expected INDEX:PROFILE such as 7:1g.10gb, got {spec!r}")
        slots.append((int(index), name))
    out: dict[str, tuple[MigSlot, ...]] = {}
    for node in cluster.nodes:
        found: list[MigSlot] = []
        for gpu, name in slots:
            try:
                profile = node.model.gpu.mig(name)
            except AitcError as e:
                _fail(f"--mig: {e}")
            used: set[int] = set()
            for start in profile.placements:
                if not used & set(profile.slots(start)):
                    used |= set(profile.slots(start))
                    found.append(MigSlot(gpu, name, start))
        if found:
            out[node.name] = tuple(found)
    return out


def _devices(cluster: Cluster, options: SlurmConfOptions) -> None:
    devices = fake_devices(cluster, options=options)
    if not devices:
        return
    if os.geteuid() != 0:
        typer.echo("not root: create the fake GPU devices with")
        for d in devices:
            typer.echo(f"  mknod {d.path} c {d.major} {d.minor}")
        return
    for d in devices:
        Path(d.path).parent.mkdir(parents=True, exist_ok=True)
        if not Path(d.path).exists():
            os.mknod(d.path, 0o666 | 0o020000, os.makedev(d.major, d.minor))
    typer.echo(f"created {len(devices)} fake GPU devices under {Path(devices[0].path).parent}")


def _fail(message: str) -> NoReturn:
    """``message`` (``what: why``) in aitc's one error style on stderr; exit 2."""
    echo(f"aitc: {message}", err=True)
    raise typer.Exit(2)
