"""The ``aitc`` command: thin typer commands that parse, call a package and render with rich."""

from __future__ import annotations

import typer

from aitc import __version__
from aitc.cli import arch, client, course, lab, plan, report, reservation, serve, sim
from aitc.cli import slurmconf as slurmconf_cli
from aitc.cli.usage import AitcGroup

app = typer.Typer(
    name="aitc",
    help="Design, simulate, plan and operate a shared AI supercomputer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=AitcGroup,
)
app.add_typer(arch.app, name="arch", help="Design a cluster from a reference architecture.")
app.add_typer(lab.app, name="lab", help="Check and apply a lab description (lab.yaml).")
sim.register(app)
plan.register(app)
serve.register(app)
client.register(app)
report.register(app)
course.register(app)
reservation.register(app)
slurmconf_cli.register(arch.app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aitc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """aitc: design, twin, plan, operate, teach and report on a shared GPU cluster."""
