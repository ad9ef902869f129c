"""``aitc serve``: the store, the controller thread and the HTTP API in one process.

Start-up, in order: open (and migrate) the store; apply the lab (organisations, projects,
members) when one is given, and read the web sign-in's OpenID Connect client secret if it
configures one; build the executor by name and the cluster from its inventory;
make sure an operators' admin exists and, on the first start, print a fresh admin token; start
the controller thread (which reconciles first); then serve ``create_app`` with uvicorn until
SIGINT or SIGTERM. Shutting down stops the loop and the HTTP server only: jobs keep running,
and the next start adopts them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from aitc.control.accounts import server_account
from aitc.control.clock import Clock, SystemClock
from aitc.control.controller import Controller, ControllerConfig
from aitc.control.courses.issuer import KEY_FILE
from aitc.control.courses.keeper import LabKeeper
from aitc.control.courses.labs import LabSettings
from aitc.control.executors.base import Executor, KnowsTopology
from aitc.control.executors.inventory import cluster_from_inventory
from aitc.control.executors.registry import ExecutorSettings, create_executor
from aitc.control.mailer import Mailer, MailSettings
from aitc.control.metrics import ControlMetrics
from aitc.control.report import rate_card_of
from aitc.control.store import MemberRow, Store, apply_lab
from aitc.control.store.directory import ensure_operators_project
from aitc.control.store.tokens import bootstrap_admin
from aitc.domain.lab import Lab, PolicySpec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Everything ``aitc serve`` is told on its command line."""

    state_dir: Path
    lab: Path | None = None
    db_url: str | None = None
    executor: str = "local"
    virtual_gpus: int | None = None
    virtual_model: str = "H100-80GB"
    node_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8600
    grace_s: float = 10.0
    tick_s: float = 0.5
    new_admin_token: bool = False
    access_log: bool = False
    write_client_config: bool = False
    single_user: bool = False
    executor_options: dict[str, str] = field(default_factory=dict)
    labs: LabSettings = field(default_factory=LabSettings)
    mail: MailSettings = field(default_factory=MailSettings)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def default_db_url(state_dir: Path) -> str:
    return f"sqlite:///{(state_dir / 'aitc.db').resolve()}"


class Server:
    """One aitc server: built by ``prepare()``, run by ``serve()`` (blocks until a signal)."""

    def __init__(
        self, options: ServeOptions, *, clock: Clock | None = None, out: TextIO = sys.stdout
    ) -> None:
        self.options = options
        self.clock = clock or SystemClock()
        self.out = out
        self.store: Store | None = None
        self.executor: Executor | None = None
        self.controller: Controller | None = None
        self.keeper: LabKeeper | None = None
        self.mailer: Mailer | None = None
        self.admin_token: str | None = None
        self.client_config: Path | None = None
        self.lab: Lab | None = None
        self.oidc_secret = ""

    def prepare(self) -> Controller:
        """Open the store, apply the lab, build executor, cluster and controller."""
        o = self.options
        private_state_dir(o.state_dir)
        self.store = Store.open(o.db_url or default_db_url(o.state_dir))
        private_files(o.state_dir)
        lab = self.lab = _load_lab(o.lab) if o.lab else None
        if lab is not None and lab.oidc is not None:  # before anything changes in the store
            from aitc.control.api.settings import read_client_secret

            self.oidc_secret = read_client_secret(lab.oidc)
        if lab is not None:
            with self.store.session() as s:
                changes = apply_lab(session=s, lab=lab)
            log.info("lab %s applied: %d changes", lab.name, len(changes))
        self.executor = create_executor(
            o.executor,
            ExecutorSettings(
                state_dir=o.state_dir / o.executor,
                virtual_gpus=o.virtual_gpus,
                virtual_model=o.virtual_model,
                node_name=o.node_name,
                grace_s=o.grace_s,
                options=self._executor_options(),
            ),
        )
        topology = self.executor.topology() if isinstance(self.executor, KnowsTopology) else {}
        cluster = cluster_from_inventory(
            lab.name if lab else "local", self.executor.inventory(), topology
        )
        self.admin_token = self._admin_token()
        if self.admin_token and o.write_client_config:
            self.client_config = write_client_config(o.url, self.admin_token)
        self.controller = Controller(
            store=self.store,
            executor=self.executor,
            cluster=cluster,
            policy=lab.policy if lab else PolicySpec(),
            clock=self.clock,
            config=ControllerConfig(log_dir=self._log_dir(), tick_s=o.tick_s),
        )
        return self.controller

    def _executor_options(self) -> dict[str, str]:
        o = self.options
        options = dict(o.executor_options)
        if o.single_user:
            options["single_user"] = "1"
        if o.executor == "slurm":
            # Slurm writes logs and exit records as the member: outside the private state dir.
            options.setdefault("jobs_dir", str(jobs_dir_of(o.state_dir)))
        return options

    def _log_dir(self) -> Path:
        """Job logs: in the private state directory, unless the executor's jobs write their
        logs themselves as the member (Slurm), then where its members can reach."""
        root = getattr(self.executor, "log_root", None)
        return Path(root) if root is not None else self.options.state_dir / "logs"

    def _admin_token(self) -> str | None:
        """A fresh admin token on the first start (or when asked), else ``None``."""
        assert self.store is not None
        with self.store.session() as s:
            first = s.get(MemberRow, "admin") is None
            token = None
            if first or self.options.new_admin_token:
                token = bootstrap_admin(session=s, now=self.clock.now())
            admin = s.get(MemberRow, "admin")
            if admin is not None and admin.unix_user is None:
                # The operators' admin runs jobs as the account that runs the server.
                admin.unix_user = server_account().name
            if admin is not None:  # its jobs go to the operators' project without --project
                ensure_operators_project(session=s)
            return token

    def banner(self) -> str:
        """What the server prints once it is ready to start."""
        assert self.controller is not None
        cluster = self.controller.cluster
        lines = [
            f"aitc serving on {self.options.url}  (API docs: {self.options.url}/docs)",
            f"executor: {self.options.executor}; nodes: "
            + ", ".join(f"{n.name} ({n.gpus}x {n.gpu_model})" for n in cluster.nodes),
            f"policy: {self.controller.planner.policy.name}",
        ]
        lines.append(self.identity_line())
        mail = self.options.mail
        lines.append(
            f"mail: through {mail.smtp_host}:{mail.smtp_port}, from {mail.mail_from}"
            if mail.smtp_host
            else "mail: none (--smtp-host sends jobs' --mail-type mail)"
        )
        oidc = self.lab.oidc if self.lab else None
        lines.append(
            f"web sign-in: API tokens, and OpenID Connect through {oidc.issuer}"
            if oidc
            else "web sign-in: API tokens (lab.yaml sign_in.oidc adds OpenID Connect)"
        )
        if self.admin_token and self.client_config is not None:
            lines.append(f"client config: {self.client_config} (url and this token)")
        if self.admin_token:
            lines.append(f"admin token (shown once, keep it): {self.admin_token}")
        else:
            lines.append(
                "admin token: the one printed on first start "
                "(aitc serve --new-admin-token prints another)"
            )
        return "\n".join(lines)

    def identity_line(self) -> str:
        """Who jobs run as: each member's account, or only the server's own (single-user)."""
        me = server_account().name
        if getattr(self.executor, "single_user", False):
            why = getattr(self.executor, "single_user_reason", "")
            return (
                f"single-user: jobs run as {me!r}; jobs of members with another Unix account "
                f"are refused ({why})"
            )
        return "jobs run as: each member's Unix account (unix_user), each in its own cgroup"

    def serve(self) -> None:
        """Run the controller and the API until SIGINT/SIGTERM; jobs keep running after."""
        import uvicorn

        from aitc.control.api import Settings, create_app

        controller = self.controller or self.prepare()
        app = create_app(
            Settings(
                store=self.store,
                wake=controller.wake,
                clock=self.clock,
                credential_key=self.options.state_dir / KEY_FILE,
                policy=self.lab.policy if self.lab else PolicySpec(),
                oidc=self.lab.oidc if self.lab else None,
                oidc_client_secret=self.oidc_secret,
                log_dir=self._log_dir(),
            )
        )
        self._watch(controller, app.state.metrics)
        app.state.rate_card = rate_card_of(self.lab)  # invoices of GET /api/v1/report
        # where interactive jobs' terminals are (GET /api/v1/jobs/{id}/terminal); None: none
        app.state.terminals = getattr(self.executor, "terminal_socket", None)
        app.state.lab_settings = self.options.labs  # a learner's lab started again by the API
        self.keeper = LabKeeper(
            store=self.store, clock=self.clock, settings=self.options.labs, wake=controller.wake
        )
        config = uvicorn.Config(
            app,
            host=self.options.host,
            port=self.options.port,
            log_level="warning",
            access_log=self.options.access_log,
        )
        server = uvicorn.Server(config)
        self.mailer = Mailer(store=self.store, clock=self.clock, settings=self.options.mail)
        controller.start()
        self.keeper.start()
        self.mailer.start()
        threading.Thread(target=self._announce, args=(server,), daemon=True).start()
        try:
            server.run()
        finally:
            self.close()

    def _watch(self, controller: Controller, metrics: ControlMetrics) -> None:
        """Let /metrics count the controller's passes and errors and show sampled GPUs."""
        controller.metrics = metrics
        sampler = getattr(self.executor, "gpu_sampler", None)
        if sampler is not None:
            node = controller.cluster.nodes[0].name if controller.cluster.nodes else ""
            metrics.watch_gpus(sampler, getattr(self.executor, "_gpus", ()), node)

    def _announce(self, server: object) -> None:
        """Print the banner once uvicorn listens, so whoever reads it may connect at once."""
        while not getattr(server, "started", False) and not getattr(server, "should_exit", True):
            time.sleep(0.02)
        if getattr(server, "started", False):
            print(self.banner(), file=self.out, flush=True)

    def close(self) -> None:
        if self.mailer is not None:
            self.mailer.stop()
        if self.keeper is not None:
            self.keeper.stop()
        if self.controller is not None:
            self.controller.stop()
        if self.executor is not None:
            self.executor.close()
        if self.store is not None:
            self.store.close()


def jobs_dir_of(state_dir: Path) -> Path:
    """The default directory of what Slurm jobs write as their members: next to the state
    directory (``var`` -> ``var-jobs``), since the state directory is private."""
    state_dir = state_dir.resolve()
    return state_dir.with_name(f"{state_dir.name}-jobs")


def private_state_dir(state_dir: Path) -> None:
    """Create the state directory for the server's user only (``aitc serve`` also sets the
    umask to 077, so that what it creates there is private too).

    The database, the attempt records (which hold each job's environment) and the logs live
    there; no job, running as its member, may read any of it.
    """
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if state_dir.stat().st_uid == os.geteuid():
        state_dir.chmod(0o700)


def private_files(state_dir: Path) -> None:
    """Files created before the umask was set (an older server's database): 0600."""
    for entry in state_dir.iterdir():
        if entry.is_file() and entry.stat().st_uid == os.geteuid():
            entry.chmod(0o600)


def write_client_config(url: str, token: str) -> Path | None:
    """Write ``url`` and ``token`` for ``aitc submit`` & co. to the client's config file (mode
    0600), unless that file exists already; returns its path when written."""
    from aitc.control.apiclient import config_path

    path = config_path()
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f'url = "{url}"\ntoken = "{token}"\n')
    return path


def _load_lab(path: Path) -> Lab:
    from aitc.plan.lab import load_lab

    return load_lab(path)
