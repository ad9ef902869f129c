"""``aitc run``: an interactive job, as ``srun --pty`` runs one.

It submits the job with a ``terminal`` (``pty`` when this terminal is one, else ``pipes``),
waits for its GPUs printing why it waits whenever that changes, then attaches to it through
the API's websocket (``/jobs/{id}/terminal``): what the job writes comes here, what is typed
(or piped) here goes to the job, and the job's exit code becomes this command's.

- With a pty, this terminal is put in raw mode, so every key, Ctrl-C included, goes to the
  job's own terminal (as with ``srun --pty`` or ssh); its size follows this window's.
- With pipes, Ctrl-C cancels the job (as it does while the job waits for its GPUs) and the
  end of this input ends the job's.
- Through an executor that relays no terminal (``slurm``), it follows the job's output as
  ``aitc logs -f`` does, without input.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import echo
from aitc.cli.submit import (
    FLAGS,
    ChdirOpt,
    DependencyOpt,
    EnvOpt,
    ExportOpt,
    GpuModelOpt,
    GpusOpt,
    MigOpt,
    NameOpt,
    NodesOpt,
    PriorityOpt,
    ProjectOpt,
    TimeOpt,
    job_body,
)
from aitc.control.executors.terminal import EOF, INPUT, RESIZE, STDERR, STDOUT, resize_payload

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

ENDED = ("completed", "failed", "cancelled", "timeout")
NO_TERMINAL = 4501
POLL_S = 0.5
INTERRUPTED = 130  # a shell's code for a command ended by Ctrl-C


def run_job(
    command: list[str] = typer.Argument(..., help="The program and its arguments (after --)."),
    project: str | None = ProjectOpt,
    gpus: int | None = GpusOpt,
    mig: str | None = MigOpt,
    nodes: int | None = NodesOpt,
    time_limit: str | None = TimeOpt,
    priority: str = PriorityOpt,
    name: str = NameOpt,
    gpu_model: str | None = GpuModelOpt,
    env: list[str] = EnvOpt,
    export: str = ExportOpt,
    chdir: str | None = ChdirOpt,
    dependency: str | None = DependencyOpt,
    pty: bool | None = typer.Option(
        None, "--pty/--no-pty", help="A terminal for the job (default: when this is one)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Run a job interactively (like srun --pty): wait for its GPUs, then attach this
    terminal to it; its exit code is this command's.

    Example: aitc run --gpus 1 --time 30 -- python -i
    """
    terminal = pty if pty is not None else sys.stdin.isatty() and sys.stdout.isatty()
    body = job_body(
        command=command,
        project=project,
        gpus=gpus,
        mig=mig,
        nodes=nodes,
        time=time_limit,
        priority=priority,
        name=name,
        gpu_model=gpu_model,
        env=env,
        export=export,
        chdir=chdir,
        dependency=dependency,
    )
    body["terminal"] = "pty" if terminal else "pipes"
    code = 0

    def call(client: ApiClient) -> None:
        nonlocal code
        code = Session(client, client.submit(body), terminal).run()

    run(url, token, call, fields=FLAGS)
    raise typer.Exit(code)


class Session:
    """One interactive job, from waiting to its exit code."""

    def __init__(self, client: ApiClient, job: dict[str, Any], pty: bool) -> None:
        self.client, self.job, self.pty = client, job, pty
        self.id = int(job["id"])

    def say(self, text: str) -> None:
        echo(f"aitc run: job {self.id}: {text}", err=True)

    def run(self) -> int:
        try:
            job = self._wait()
        except KeyboardInterrupt:
            return self._cancel()
        if job["state"] in ENDED:
            self._print_logs()
            return self._exit_code(job)
        return self._attach()

    # -- waiting -----------------------------------------------------------------------------
    def _wait(self) -> dict[str, Any]:
        """Poll until the job starts (or ends), saying why it waits whenever that changes."""
        said = ""
        job = self.job
        while job["state"] == "pending":
            why = " ".join(r["message"] for r in job["pending_reasons"]) or "queued"
            if why != said:
                self.say(f"pending: {why}")
                said = why
            time.sleep(POLL_S)
            job = self._fetch()
        if job["state"] not in ENDED:
            where = ", ".join(
                f"{a['node']} ({a['mig'] or 'GPUs ' + ','.join(map(str, a['gpus']))})"
                for a in job["placement"] or []
            )
            self.say(f"running on {where or 'its node'}")
        return job

    def _fetch(self) -> dict[str, Any]:
        job: dict[str, Any] = self.client.request(
            "GET", f"/jobs/{self.id}", subject=f"job {self.id}"
        )
        return job

    def _cancel(self) -> int:
        self.client.request("POST", f"/jobs/{self.id}/cancel", subject=f"job {self.id}")
        self.say("cancelled (Ctrl-C)")
        return INTERRUPTED

    # -- attached ----------------------------------------------------------------------------
    def _attach(self) -> int:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        target = self.client.target
        ws_url = "ws" + target.url.removeprefix("http") + f"/api/v1/jobs/{self.id}/terminal"
        size = self._size()
        if size is not None:
            ws_url += f"?rows={size.lines}&cols={size.columns}"
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        with connect(ws_url, additional_headers=headers, max_size=None) as ws:
            try:
                with self._raw_terminal(), self._input(ws):
                    for message in ws:
                        self._output(message if isinstance(message, bytes) else b"")
            except KeyboardInterrupt:  # pipes only: with a pty, Ctrl-C is a key for the job
                return self._cancel()
            except ConnectionClosed:
                pass
            code = ws.close_code
        if code == NO_TERMINAL:
            self.say("this server's executor relays no terminal: following its output")
            self._print_logs(follow=True)
        elif code != 1000:
            self._print_logs()  # it ended before this could attach: what it wrote
        return self._exit_code(self._ended())

    def _output(self, message: bytes) -> None:
        kind, data = message[:1], message[1:]
        stream = sys.stderr.buffer if kind == STDERR else sys.stdout.buffer
        if kind in (STDOUT, STDERR):
            stream.write(data)
            stream.flush()

    @contextlib.contextmanager
    def _raw_terminal(self) -> Iterator[None]:
        """With a pty: this terminal raw (keys go to the job as typed) and its size followed."""
        if not (self.pty and sys.stdin.isatty()):
            yield
            return
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        tty.setraw(fd)
        try:
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    @contextlib.contextmanager
    def _input(self, ws: Any) -> Iterator[None]:
        """Send this input (and, with a pty, this window's size) to the job."""
        if self.pty:
            previous = signal.signal(signal.SIGWINCH, lambda *_: self._send_size(ws))
        threading.Thread(target=self._pump, args=(ws,), daemon=True).start()
        try:
            yield
        finally:
            if self.pty:
                signal.signal(signal.SIGWINCH, previous)

    def _size(self) -> os.terminal_size | None:
        if not self.pty:
            return None
        try:
            return os.get_terminal_size(sys.stdout.fileno())
        except OSError:
            return None

    def _send_size(self, ws: Any) -> None:
        size = self._size()
        if size is not None:
            ws.send(RESIZE + resize_payload(size.lines, size.columns))

    def _pump(self, ws: Any) -> None:
        """Standard input to the job until it ends (then the job's input ends too)."""
        fd = sys.stdin.fileno()
        with contextlib.suppress(Exception):  # the connection closed: nothing left to feed
            while data := os.read(fd, 65536):
                ws.send(INPUT + data)
            ws.send(EOF)

    # -- the end -----------------------------------------------------------------------------
    def _ended(self, timeout: float = 60.0) -> dict[str, Any]:
        """The job once the controller has recorded its end."""
        deadline = time.monotonic() + timeout
        job = self._fetch()
        while job["state"] not in ENDED and time.monotonic() < deadline:
            time.sleep(0.1)
            job = self._fetch()
        return job

    def _print_logs(self, follow: bool = False) -> None:
        for chunk in self.client.stream_logs(self.id, stream="stdout", follow=follow):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        for chunk in self.client.stream_logs(self.id, stream="stderr", follow=False):
            sys.stderr.buffer.write(chunk)
            sys.stderr.buffer.flush()

    def _exit_code(self, job: dict[str, Any]) -> int:
        """The job's exit code; 1 when it has none (lost, never started, still running)."""
        if job["state"] not in ENDED:
            self.say(f"still {job['state']} (see aitc show {self.id})")
            return 1
        if job["state"] != "completed" and job["cause"]:
            self.say(f"{job['state']}: {job['cause']}")
        code = job.get("exit_code")
        return int(code) if code is not None else (0 if job["state"] == "completed" else 1)
