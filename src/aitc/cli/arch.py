"""`aitc arch` commands: list the reference architectures and build a design from one."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

from aitc.arch import REFERENCE_ARCHITECTURES, Design, build, dump_cluster
from aitc.cli.output import echo
from aitc.errors import CatalogError, ConfigError

app = typer.Typer(no_args_is_help=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


_FLAGS = {"sus": "--sus", "nodes": "--nodes", "size": "--sus/--nodes"}


@app.command("list")
def list_ras() -> None:
    """List the reference architectures aitc can build."""
    table = Table(title="Reference architectures")
    for col in ("name", "node model", "GPU", "SU size", "switch"):
        table.add_column(col, no_wrap=True)
    for ra in REFERENCE_ARCHITECTURES.values():
        sw = ra.compute_switch
        table.add_row(
            ra.name,
            ra.node_model_name,
            ra.node_model.gpu.name,
            str(ra.su_nodes),
            f"{sw.name} {sw.ports}×{sw.port_gbps}G",
        )
    Console().print(table)


@app.command("build")
def build_cmd(
    ra: str = typer.Argument(
        ..., help="Reference architecture, e.g. dgx-h100-superpod (see `aitc arch list`)."
    ),
    sus: int | None = typer.Option(None, "--sus", help="Size in scalable units."),
    nodes: int | None = typer.Option(None, "--nodes", help="Size in nodes."),
    fmt: OutputFormat = typer.Option(
        OutputFormat.table, "--format", help="Output: a table, or JSON/YAML with the design."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Also write the cluster file here (for `aitc sim --cluster`, `aitc serve`, lab.yaml).",
    ),
) -> None:
    """Size a reference architecture (by --sus or --nodes) and print its bill of materials."""
    try:
        design = build(ra, sus=sus, nodes=nodes)
    except CatalogError as e:
        _fail(f"RA: {e}")
    except ConfigError as e:
        _fail(f"{_FLAGS.get(e.field or '', e.field)}: {e.reason}")
    if out is not None:
        try:
            dump_cluster(design.cluster, out)
        except OSError as e:
            _fail(f"--out: cannot write {out}: {e.strerror}")
    _render(design, fmt)


def _fail(message: str) -> NoReturn:
    """``message`` (``what: why``) in aitc's one error style on stderr; exit 2."""
    echo(f"aitc: {message}", err=True)
    raise typer.Exit(2)


def _render(design: Design, fmt: OutputFormat) -> None:
    data = design.to_dict()
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2))
    elif fmt is OutputFormat.yaml:
        typer.echo(yaml.safe_dump(data, sort_keys=False), nl=False)
    else:
        Console().print(design_table(design))


def design_table(design: Design) -> Table:
    """The design as a two-column rich table (what, how many)."""
    ra = design.ra
    table = Table(title=f"{ra.name} ({ra.document})")
    table.add_column("item")
    table.add_column("count", justify="right")
    for key, value in design.to_dict().items():
        if isinstance(value, dict):
            for sub, v in value.items():
                table.add_row(f"{key}.{sub}", _fmt(v))
        elif key != "reference_architecture":
            table.add_row(key, _fmt(value))
    return table


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def register(root: typer.Typer) -> None:
    """Add ``aitc arch`` (with ``slurm-config``) to the top-level app."""
    from aitc.cli import slurmconf

    slurmconf.register(app)
    root.add_typer(app, name="arch", help="Design a cluster from a reference architecture.")
