"""The terminal of an interactive job (``aitc run``): the supervisor's side and the frames.

An interactive attempt (``AttemptSpec.terminal``) runs with its standard streams on a
pseudo-terminal (``pty``: one terminal for input and both outputs, as ``srun --pty``) or on
three pipes (``pipes``: input, output and errors apart, for a client whose input or output is
not a terminal). The supervisor relays them through one Unix socket in the attempt's private
directory (``io.sock``, mode 0600: only the server's user reaches it), where the API's
``/jobs/{id}/terminal`` websocket connects:

- the job starts once its client attached (``wait_for_client``; the API's first frame is the
  client's window size, so the job starts on a terminal of the right size); with none within
  ``ATTACH_WAIT_S`` it does not start at all (``aitc run`` went away while it waited);
- what the job writes goes to its log files (so ``aitc logs`` shows the session afterwards)
  and, as ``STDOUT``/``STDERR`` frames, to the client;
- ``INPUT`` frames feed the job's input, ``RESIZE`` sets the terminal's size (rows, columns),
  ``EOF`` ends the input (``pipes``: closes it; ``pty``: the terminal's end-of-file character);
- a client that leaves hangs the terminal up: the job gets SIGHUP (``pty``), or the end of its
  input (``pipes``), as when an ssh session drops.

Every frame is a type byte, a 4-byte big-endian length and the payload (on the websocket, one
message per frame, without the length). Nothing blocks: input waits in a buffer while the job
does not read (and the socket is not read while that buffer is full), so a job that writes
while its input is full never deadlocks with the supervisor. Standard library only: the
supervisor imports it on the submit-to-running path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import selectors
import socket
import struct
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

SOCKET = "io.sock"
MODES = ("pty", "pipes")
INPUT, RESIZE, EOF, STDOUT, STDERR = b"i", b"r", b"e", b"o", b"E"
ATTACH_WAIT_S = 60.0
FIRST_FRAME_S = 2.0
INPUT_BUFFER_BYTES = 1 << 20
CHUNK = 65536
_HEADER = struct.Struct(">cI")


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame for the Unix socket."""
    return _HEADER.pack(kind, len(payload)) + payload


def resize_payload(rows: int, cols: int) -> bytes:
    return struct.pack(">HH", rows, cols)


class FrameReader:
    """Splits a byte stream into frames."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buf)
            if len(self._buf) < _HEADER.size + size:
                break
            out.append((kind, self._buf[_HEADER.size : _HEADER.size + size]))
            self._buf = self._buf[_HEADER.size + size :]
        return out


class Terminal:
    """The job's streams on a pty or pipes, relayed to one client on ``io.sock``."""

    def __init__(
        self,
        mode: str,
        attempt_dir: Path,
        out: IO[bytes],
        err: IO[bytes],
        *,
        owner: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown terminal mode {mode!r} (known: {', '.join(MODES)})")
        self.mode, self._out, self._err, self._clock = mode, out, err, clock
        path = attempt_dir / SOCKET
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        os.chmod(path, 0o600)
        self._listener.listen(1)
        self._listener.setblocking(False)
        self._client: socket.socket | None = None
        self._reader = FrameReader()
        self._input = b""
        self._input_closed = False
        self._writing = self._reading = False  # registered for room in the input, for the client
        self._sel: selectors.BaseSelector | None = None
        if mode == "pty":
            master, slave = os.openpty()
            if owner is not None:
                os.fchown(slave, *owner)  # as sshd does: the member owns its terminal
            self._stdin_w, self._outputs = master, {master: STDOUT}
            self.child_fds = (slave, slave, slave)
        else:
            in_r, in_w = os.pipe()
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            self._stdin_w, self._outputs = in_w, {out_r: STDOUT, err_r: STDERR}
            self.child_fds = (in_r, out_w, err_w)
        for fd in (self._stdin_w, *self._outputs):
            os.set_blocking(fd, False)

    # -- set-up ------------------------------------------------------------------------------
    def spawned(self, sel: selectors.BaseSelector) -> None:
        """The job runs: close its ends here and wait on ours in ``sel``."""
        for fd in set(self.child_fds):
            os.close(fd)
        self._sel = sel
        sel.register(self._listener, selectors.EVENT_READ, self)
        for fd in self._outputs:
            sel.register(fd, selectors.EVENT_READ, self)
        self._write_input()  # what the client sent already; and wait for more

    @staticmethod
    def controlling(fd: int) -> None:
        """In the job's process (a session leader): make ``fd``, its pty, its terminal."""
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)

    def wait_for_client(self, stop: Callable[[], bool]) -> str:
        """Wait for the client and its first frame (its window size); "" once attached, else
        why the job must not start (``stop()``: a cancel; or nobody came in time)."""
        deadline = self._clock() + ATTACH_WAIT_S
        while self._client is None:
            if stop():
                return "cancel requested before its terminal was attached"
            if self._clock() >= deadline:
                return f"no terminal attached within {ATTACH_WAIT_S:g} s (aitc run went away)"
            if select.select([self._listener], [], [], 0.2)[0]:
                self._accept()
        client = self._client
        client.settimeout(FIRST_FRAME_S)
        with contextlib.suppress(OSError):
            while not self._take(client.recv(CHUNK)):
                pass
        client.settimeout(10.0)  # a client that stops reading for that long is dropped
        return ""

    # -- events ------------------------------------------------------------------------------
    def handle(self, key: selectors.SelectorKey, events: int) -> None:
        """One ready file of ours."""
        if key.fileobj is self._listener:
            self._accept()
        elif key.fileobj is self._client:
            self._from_client()
        else:
            if key.fd == self._stdin_w and events & selectors.EVENT_WRITE:
                self._write_input()
            if key.fd in self._outputs and events & selectors.EVENT_READ:
                self._read_output(key.fd)

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self._client is not None:  # one client at a time
            conn.close()
            return
        conn.setblocking(True)
        self._client, self._reading = conn, False
        self._watch_input()

    def _from_client(self) -> None:
        assert self._client is not None
        try:
            data = self._client.recv(CHUNK)
        except OSError:
            data = b""
        if not data:
            self._drop_client()
            self._hang_up()
            return
        self._take(data)
        self._write_input()

    def _take(self, data: bytes) -> int:
        """Act on the client's frames in ``data``; how many there were (an empty ``data``:
        the client left)."""
        if not data:
            raise ConnectionResetError("the client left")
        frames = self._reader.feed(data)
        for kind, payload in frames:
            if kind == INPUT and not self._input_closed:
                self._input += payload
            elif kind == RESIZE and self.mode == "pty" and len(payload) == 4:
                rows, cols = struct.unpack(">HH", payload)
                winsize = struct.pack("HHHH", rows, cols, 0, 0)
                with contextlib.suppress(OSError):
                    fcntl.ioctl(self._stdin_w, termios.TIOCSWINSZ, winsize)
            elif kind == EOF:
                self._end_input()
        return len(frames)

    def _write_input(self) -> None:
        if self._input and not self._input_closed:
            try:
                written = os.write(self._stdin_w, self._input)
                self._input = self._input[written:]
            except BlockingIOError:
                pass
            except OSError:  # the job closed its input
                self._input = b""
        self._watch_input()

    def _watch_input(self) -> None:
        """Wait for room in the job's input while some waits; read the client only while the
        input buffer has room (back-pressure)."""
        sel = self._sel
        if sel is None:
            return
        want = bool(self._input) and not self._input_closed
        if self.mode == "pty" and self._stdin_w in self._outputs:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            sel.modify(self._stdin_w, events, self)
        elif self.mode == "pipes" and want != self._writing:
            if want:
                sel.register(self._stdin_w, selectors.EVENT_WRITE, self)
            else:
                sel.unregister(self._stdin_w)
        self._writing = want
        read = self._client is not None and len(self._input) < INPUT_BUFFER_BYTES
        if self._client is not None and read != self._reading:
            if read:
                sel.register(self._client, selectors.EVENT_READ, self)
            else:
                sel.unregister(self._client)
        self._reading = read

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: the pty's last writer is gone
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self._close_output(fd)
            return
        kind = self._outputs[fd]
        log = self._out if kind == STDOUT else self._err
        log.write(data)
        log.flush()
        self._send(frame(kind, data))

    def _send(self, data: bytes) -> None:
        if self._client is None:
            return  # gone: the logs keep it
        try:
            self._client.sendall(data)
        except OSError:
            self._drop_client()
            self._hang_up()

    # -- endings -----------------------------------------------------------------------------
    def _end_input(self) -> None:
        if self.mode == "pty":
            self._input += b"\x04"  # the terminal's end-of-file character (^D)
        elif not self._input_closed:
            self._flush_then_close()

    def _flush_then_close(self) -> None:
        """Pipes: hand the job what input is left (blocking, briefly), then close it."""
        if self._input:
            with contextlib.suppress(OSError):
                os.set_blocking(self._stdin_w, True)
                os.write(self._stdin_w, self._input)
        if self._writing and self._sel is not None:
            self._sel.unregister(self._stdin_w)
        self._input, self._input_closed, self._writing = b"", True, False
        os.close(self._stdin_w)

    def _hang_up(self) -> None:
        """Nobody is there: the job's terminal hangs up (``pty``) or its input ends."""
        if self._input_closed:
            return
        if self.mode == "pty":
            self._input_closed = True  # closing the master below sends SIGHUP
            for fd in list(self._outputs):
                self._close_output(fd)
        else:
            self._flush_then_close()

    def _close_output(self, fd: int) -> None:
        kind = self._outputs.pop(fd, None)
        if kind is None:
            return
        if self._sel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(fd)
        if fd == self._stdin_w:
            self._input_closed = True
        os.close(fd)

    def _drop_client(self) -> None:
        if self._client is None:
            return
        if self._reading and self._sel is not None:
            self._sel.unregister(self._client)
        self._client.close()
        self._client, self._reading = None, False

    def finish(self, deadline_s: float = 2.0) -> None:
        """The job ended: relay what it still wrote (at most ``deadline_s`` more, in case a
        leftover process holds its output open), then close everything."""
        own = selectors.DefaultSelector()
        for fd in self._outputs:
            own.register(fd, selectors.EVENT_READ)
        end = self._clock() + deadline_s
        while self._outputs and self._clock() < end:
            for key, _ in own.select(max(0.0, end - self._clock())):
                if key.fd in self._outputs:
                    self._read_output(key.fd)
                if key.fd not in self._outputs:
                    own.unregister(key.fd)
        own.close()
        for fd in list(self._outputs):
            self._close_output(fd)
        if not self._input_closed and self.mode == "pipes":
            self._flush_then_close()
        self._drop_client()
        if self._sel is not None:
            self._sel.unregister(self._listener)
        self._listener.close()
