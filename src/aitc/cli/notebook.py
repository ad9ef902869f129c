"""``aitc notebook``: a Jupyter server as a job of yours, as Open OnDemand's Jupyter app.

It asks the server for a notebook (``POST /notebooks``): the server picks the command, the port
and a fresh token; this picks the GPUs, time limit, project, name and working directory (where
``aitc notebook`` runs, unless ``--chdir``), with ``aitc submit``'s flags. Then it waits (unless
``--no-wait``) for the job to run and for its server to answer its token, saying why it waits
whenever that changes, and prints the URL to open, the job number and how to stop it. Ctrl-C
while it waits cancels the notebook.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import typer

from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import echo, usage
from aitc.cli.submit import (
    FLAGS,
    ChdirOpt,
    GpusOpt,
    MigOpt,
    NameOpt,
    ProjectOpt,
    TimeOpt,
    _time,
)

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

ENDED = ("completed", "failed", "cancelled", "timeout")
POLL_S = 0.5
INTERRUPTED = 130


def notebook(
    project: str | None = ProjectOpt,
    gpus: int | None = GpusOpt,
    mig: str | None = MigOpt,
    time_limit: str | None = TimeOpt,
    name: str = NameOpt,
    chdir: str | None = ChdirOpt,
    wait: bool = typer.Option(
        True,
        "--wait/--no-wait",
        help="Wait until the notebook answers and print its URL (default), or print its job "
        "number at once (aitc show N gives the URL once it runs).",
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Start a Jupyter notebook server as a job of yours and print its URL (with its token).

    Example: aitc notebook --gpus 1 --time 2h
    """
    if gpus is not None and mig is not None:
        usage("--gpus", "give --gpus or --mig, not both")
    body: dict[str, Any] = {
        "project": project,
        "gpus": gpus,
        "mig": mig,
        "time_limit": _time(time_limit, "--time"),
        "name": name,
        "workdir": os.path.abspath(os.path.join(os.getcwd(), chdir or "")),
    }
    body = {k: v for k, v in body.items() if v not in (None, "")}
    code = 0

    def call(client: ApiClient) -> None:
        nonlocal code
        job = client.request("POST", "/notebooks", json=body, subject="notebook")
        if not wait:
            echo(f"notebook: job {job['id']} (aitc show {job['id']} gives its URL once it runs)")
            return
        code = Waiting(client, job).run()

    run(url, token, call, fields=FLAGS)
    raise typer.Exit(code)


class Waiting:
    """A notebook from its submission until its server answers (or its job ends)."""

    def __init__(self, client: ApiClient, job: dict[str, Any]) -> None:
        self.client, self.job, self.id = client, job, int(job["id"])
        self.said = ""

    def say(self, text: str) -> None:
        if text != self.said:
            echo(f"aitc notebook: job {self.id}: {text}", err=True)
            self.said = text

    def run(self) -> int:
        try:
            job = self._wait()
        except KeyboardInterrupt:
            self.client.request("POST", f"/jobs/{self.id}/cancel", subject=f"job {self.id}")
            self.say("cancelled (Ctrl-C)")
            return INTERRUPTED
        if job["state"] in ENDED:
            self.say(f"{job['state']}: {job['cause'] or 'it ended'} (see aitc logs {self.id})")
            return 1
        echo(f"Notebook (job {self.id}) is ready: {job['notebook_url']}")
        echo(f"Stop it with: aitc cancel {self.id}")
        return 0

    def _wait(self) -> dict[str, Any]:
        """Poll until the job ends or its server answers its token."""
        from aitc.control.courses.labprobe import ProbeTarget, probe_all

        job = self.job
        while job["state"] not in ENDED:
            if job["state"] == "pending":
                why = " ".join(r["message"] for r in job["pending_reasons"]) or "queued"
                self.say(f"pending: {why}")
            elif job.get("notebook_url"):
                self.say("running; waiting for Jupyter to answer")
                base, _, secret = job["notebook_url"].partition("/?token=")
                if probe_all([ProbeTarget(self.id, base, unquote(secret))])[self.id]:
                    return job
            time.sleep(POLL_S)
            job = self.client.request("GET", f"/jobs/{self.id}", subject=f"job {self.id}")
        return job
