"""``aitc serve``: run the control plane (store, controller, API) on this machine."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli.output import USAGE, config_failure, fail
from aitc.errors import AitcError, ConfigError

if TYPE_CHECKING:
    from aitc.control.courses.labs import LabSettings
    from aitc.control.mailer import MailSettings

_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")


def serve(
    lab: Path | None = typer.Option(
        None,
        "--lab",
        help="lab.yaml to apply at start-up (organisations, projects, members, courses, "
        "policy; not the calendar's sessions: `aitc lab apply` creates them).",
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="AITC_DATABASE_URL",
        help="Database URL (default: SQLite file STATE_DIR/aitc.db; "
        "PostgreSQL: postgresql+psycopg://user@host/db).",
    ),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="Where jobs run: local (processes on this host), slurm, "
        "or fake (in memory, for tests).",
    ),
    virtual_gpus: int | None = typer.Option(
        None,
        "--virtual-gpus",
        min=0,
        help="Declare N GPUs instead of asking NVML (for machines without GPUs).",
    ),
    virtual_model: str = typer.Option(
        "H100-80GB", "--virtual-model", help="GPU model of the virtual GPUs."
    ),
    state_dir: Path = typer.Option(
        Path("var"),
        "--state-dir",
        help="Where the server keeps its SQLite file, job logs and the executor's records.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8600, "--port", help="Port to listen on."),
    node_name: str | None = typer.Option(
        None, "--node-name", help="Name of this host's node (default: hostname)."
    ),
    grace: float = typer.Option(
        10.0,
        "--grace",
        help="Seconds between SIGTERM and SIGKILL when a job is cancelled or over its time limit.",
    ),
    tick: float = typer.Option(
        0.5,
        "--tick",
        help="Seconds between scheduling passes when nothing wakes the controller earlier.",
    ),
    new_admin_token: bool = typer.Option(
        False,
        "--new-admin-token",
        help="Print a fresh admin token even if this is not the first start.",
    ),
    executor_option: list[str] = typer.Option(
        [],
        "--executor-option",
        help="KEY=VALUE for the executor (repeatable), e.g. slurm_conf=/etc/slurm/slurm.conf.",
    ),
    write_client_config: bool = typer.Option(
        False,
        "--write-client-config",
        help="On the first start, save the URL and admin token for `aitc submit` & co. in "
        "~/.config/aitc/config.toml (if that file does not exist yet).",
    ),
    single_user: bool = typer.Option(
        False,
        "--single-user",
        help="Run every job as this server's own Unix user and refuse jobs of members with "
        "another account (the default when the server is not root).",
    ),
    lab_bind: str | None = typer.Option(
        None,
        "--lab-bind",
        help="Address learners' labs listen on (default: 127.0.0.1; 0.0.0.0: every interface, "
        "and connect URLs name the lab's node).",
    ),
    lab_url_host: str | None = typer.Option(
        None,
        "--lab-url-host",
        help="Host in labs' connect URLs (default: --lab-bind, or the lab's node).",
    ),
    lab_ports: str | None = typer.Option(
        None, "--lab-ports", help="Ports labs are given, FIRST-LAST (default: 20000-20999)."
    ),
    lab_python: str | None = typer.Option(
        None,
        "--lab-python",
        help="Python of the default lab (with jupyter-server, runnable by learners' accounts; "
        "default: the server's own).",
    ),
    smtp_host: str | None = typer.Option(
        None,
        "--smtp-host",
        help="SMTP server that takes the mail jobs ask for (--mail-type), e.g. localhost "
        "(default: none, and no mail is sent).",
    ),
    smtp_port: int = typer.Option(25, "--smtp-port", min=1, max=65535, help="Its port."),
    mail_from: str | None = typer.Option(
        None, "--mail-from", help="The mail's From address (default: aitc@ this host's name)."
    ),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="This server's address as members reach it (https://aitc.lab.example), for the "
        "links to jobs' pages in mail.",
    ),
    access_log: bool = typer.Option(False, "--access-log", help="Log every HTTP request."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log the controller's passes."),
) -> None:
    """Run the control plane: apply the lab, schedule jobs with the engine, serve the API.
    Each job runs as its member's Unix account in its own cgroup (as root; see --single-user).

    Prints the URL and, on the first start, an admin token. Runs until Ctrl-C or SIGTERM;
    jobs keep running and are adopted on the next start.
    """
    from aitc.control.serve import ServeOptions, Server

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    options = ServeOptions(
        state_dir=state_dir,
        lab=lab,
        db_url=db,
        executor=executor,
        virtual_gpus=virtual_gpus,
        virtual_model=virtual_model,
        node_name=node_name,
        host=host,
        port=port,
        grace_s=grace,
        tick_s=tick,
        new_admin_token=new_admin_token,
        access_log=access_log,
        executor_options=_key_values(executor_option),
        write_client_config=write_client_config,
        single_user=single_user,
        labs=_lab_settings(lab_bind, lab_url_host, lab_ports, lab_python),
        mail=_mail_settings(smtp_host, smtp_port, mail_from, public_url),
    )
    os.umask(0o077)  # the server's files (database, records, logs) are its own
    server = Server(options)
    try:
        server.prepare()
    except ConfigError as exc:  # the lab: every error, as `aitc lab check` reports them
        server.close()
        config_failure(exc)
    except AitcError as exc:
        server.close()
        fail("serve", str(exc), USAGE)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after its shutdown
        server.serve()
    typer.echo("aitc serve: stopped; running jobs keep running and are adopted on the next start")


def _key_values(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--executor-option")
        out[key] = value
    return out


def _mail_settings(
    host: str | None, port: int, mail_from: str | None, public_url: str | None
) -> MailSettings:
    from aitc.control.mailer import MailSettings

    if mail_from is not None and not _ADDRESS.fullmatch(mail_from):
        raise typer.BadParameter(
            f"{mail_from!r} is not an e-mail address", param_hint="--mail-from"
        )
    given: dict[str, Any] = {"smtp_host": host, "mail_from": mail_from, "public_url": public_url}
    return MailSettings(smtp_port=port, **{k: v for k, v in given.items() if v is not None})


def _lab_settings(
    bind: str | None, url_host: str | None, ports: str | None, python: str | None
) -> LabSettings:
    """The labs' settings from the --lab-* flags (the defaults where a flag is not given)."""
    from aitc.control.courses.labs import LabSettings

    given: dict[str, Any] = {"bind": bind, "url_host": url_host, "python": python}
    if ports is not None:
        first, sep, last = ports.partition("-")
        numbers = sep and first.isdigit() and last.isdigit()
        if not (numbers and 1 <= int(first) <= int(last) <= 65535):
            raise typer.BadParameter(
                f"{ports!r} is not a port range FIRST-LAST (1-65535)", param_hint="--lab-ports"
            )
        given["ports"] = (int(first), int(last))
    return LabSettings(**{k: v for k, v in given.items() if v is not None})


def register(app: typer.Typer) -> None:
    """Add ``aitc serve`` to the top-level app."""
    app.command("serve")(serve)
