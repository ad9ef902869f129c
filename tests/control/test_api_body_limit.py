"""Request bodies are limited as they stream: a body without Content-Length is counted chunk by
chunk and refused with 413 as soon as it passes the limit, before any token is checked."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Api
from server_proc import ServerProcess

LIMIT = 1024 * 1024  # the default of Settings.max_body_bytes
CHUNK = 64 * 1024


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * CHUNK
        sent += CHUNK


def test_a_chunked_body_over_the_limit_is_refused_with_413_naming_the_limit(api: Api) -> None:
    r = api.client.post(
        "/api/v1/jobs",
        content=_chunks(4 * LIMIT),
        headers={"Content-Type": "application/json", **api.auth("alice")},
    )
    assert r.status_code == 413
    assert str(LIMIT) in r.json()["detail"] and r.json()["limit_bytes"] == LIMIT


def test_a_declared_length_over_the_limit_is_refused_before_reading(api: Api) -> None:
    r = api.client.post(
        "/api/v1/jobs", content=b"{" * (LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_a_chunked_body_under_the_limit_is_read_as_usual(api: Api) -> None:
    body = b'{"command": ["true"], "name": "' + b"n" * 100 + b'"}'
    r = api.client.post(
        "/api/v1/jobs",
        content=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/json", **api.auth("alice")},
    )
    assert r.status_code == 201, r.text


def _vm(pid: int, key: str) -> int:
    """``key`` (VmRSS, VmHWM) of process ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} for {pid}")


def _send_chunked(url: str, total: int) -> tuple[int, bytes]:
    """POST ``total`` bytes chunked, without a token, stopping as soon as the server answers.
    Returns the bytes sent and the response."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent, deadline = 0, time.monotonic() + 120
    try:
        while sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                break
            if writable:
                sent += sock.send(chunk)  # a partial send only shifts the framing; it is refused
        response = b""
        sock.settimeout(30)
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            response += data
    finally:
        sock.close()
    return sent, response


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_300_mb_chunked_body_without_a_token_costs_the_server_little_memory(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "state")
    server.start()
    try:
        assert server.proc is not None
        pid = server.proc.pid
        with server.client() as c:
            assert c.get("/me").status_code == 200  # warm: the app has served a request
        rss, peak = _vm(pid, "VmRSS"), _vm(pid, "VmHWM")
        sent, response = _send_chunked(server.url, 300 * 1024 * 1024)
        assert response.startswith(b"HTTP/1.1 413"), response[:200]
        assert str(LIMIT).encode() in response
        assert sent < 300 * 1024 * 1024  # refused long before the client was done
        grown, peak_grown = _vm(pid, "VmRSS") - rss, _vm(pid, "VmHWM") - peak
        mib = 2**20
        print(
            f"sent {sent / mib:.1f} MiB; RSS +{grown / mib:.1f}, peak +{peak_grown / mib:.1f} MiB"
        )
        assert grown < 50 * 1024 * 1024 and peak_grown < 50 * 1024 * 1024
        with server.client() as c:
            assert c.get("/me").status_code == 200  # and it still serves
    finally:
        server.kill()
