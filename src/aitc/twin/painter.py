"""Draw a run's plots in a process of its own, started before the run.

Importing matplotlib and drawing a run's three figures take about half a second of one core,
and a run simulates on one core. A ``Painter`` starts a Python process at once, which imports
matplotlib and loads its font while the run simulates, then draws the plots it is handed
(``paint``; all at once, on copies of itself, where there is a core to spare) while the
run writes its tables; ``wait`` returns when every file is written. If that process cannot
start or fails, ``wait`` draws the plots here, with the same code, so the files are the same
either way and a drawing error is raised here as usual.

    with Painter() as painter:
        ...  # simulate
        painter.paint([plots.timeline(...), ...])
        ...  # write the tables
        painter.wait()
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from aitc.twin.plots import Plot, draw

WAIT_S = 300.0  # far more than three figures take; then they are drawn here
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from aitc.twin.painter import main; main()"


class Painter:
    """A process that draws plots; a context manager that ends it however the run ends."""

    def __init__(self) -> None:
        self._plots: list[Plot] = []
        root = str(Path(__file__).resolve().parents[2])  # where this aitc is imported from
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-c", _CHILD, root],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except (OSError, ValueError):
            self._proc = None

    def paint(self, plots: Sequence[Plot]) -> None:
        """Hand ``plots`` over; they are drawn while the caller goes on."""
        self._plots.extend(plots)
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(pickle.dumps(list(plots), protocol=pickle.HIGHEST_PROTOCOL))
            proc.stdin.close()
        except OSError:  # the process is gone: ``wait`` draws them here
            self._end(kill=True)

    def wait(self) -> None:
        """Return when every plot handed over is drawn (here, if the process failed)."""
        proc, plots, self._plots = self._proc, self._plots, []
        self._proc = None
        done = proc is not None and _join(proc, WAIT_S) == 0
        if proc is not None and not done:
            proc.kill()
            proc.wait()
        if not done:
            for plot in plots:
                draw(plot)

    def _end(self, *, kill: bool) -> None:
        """End the process: at once (``kill``), or when it has drawn what it was handed."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        elif proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # nothing handed over: it ends at once
        if _join(proc, WAIT_S) is None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Painter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._plots and kind is None:
            self.wait()
        self._end(kill=kind is not None)


def _join(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """``proc``'s exit status once it ends, or None if it is still running after ``timeout``
    seconds. Where the kernel gives a process descriptor (Linux), this sleeps until the exit
    itself; ``Popen.wait(timeout=...)`` polls instead, with pauses growing to 50 ms, which a
    run would wait on after its plots are drawn."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # (no pidfd here: poll)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
    try:
        ended, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return proc.wait() if ended else None


def main() -> None:
    """The painting process: get ready, then draw what arrives on stdin (nothing: exit).
    It ends without the interpreter's teardown (a fifth of a second with matplotlib loaded,
    which the run would wait for): every file it wrote is closed by then."""
    from aitc.twin.plots import warm

    warm()
    data = sys.stdin.buffer.read()
    _draw_all(pickle.loads(data) if data else [])
    os._exit(0)


def _draw_all(plots: list[Plot]) -> None:
    """Draw ``plots``: with a core to spare, forked copies of this process (matplotlib loaded
    already) draw all but the last (a run's three figures take about as long each) while this
    one draws the last; a plot whose copy failed is drawn here afterwards."""
    forked: dict[int, Plot] = {}  # child process -> the plot it draws
    if len(plots) > 1 and (os.cpu_count() or 1) > 1 and hasattr(os, "fork"):
        for plot in plots[:-1]:
            try:
                child = os.fork()
            except OSError:
                break
            if child == 0:  # a copy: draws its plot and ends
                code = 1
                try:
                    draw(plot)
                    code = 0
                finally:
                    os._exit(code)
            forked[child] = plot
    for plot in plots[len(forked) :]:  # (those no copy took)
        draw(plot)
    for child, plot in forked.items():
        if os.waitpid(child, 0)[1] != 0:
            draw(plot)
