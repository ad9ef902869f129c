"""`aitc course session create --check`, `verify FILE|URL`, `revoke` and `render` against a
real server (uvicorn on 127.0.0.1, SQLite): the verifier reads the status list over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from course_harness import DAY
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.control.api import Settings, create_app
from aitc.control.clock import FakeClock
from aitc.control.report.history import write_history
from aitc.control.store import Store


@dataclass
class Server:
    url: str
    tokens: dict[str, str]
    clock: FakeClock
    store: Store

    def api(self, member: str, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[member]}"}
        r = httpx.request(method, f"{self.url}/api/v1{path}", json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def aitc(self, member: str, *args: str) -> tuple[int, str, str]:
        env = {"AITC_URL": self.url, "AITC_TOKEN": self.tokens[member]}
        env["XDG_CONFIG_HOME"] = "/nonexistent"
        result = CliRunner().invoke(app, list(args), env=env)
        return result.exit_code, result.stdout, result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(name="server", scope="module")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from seed import seed

    root = tmp_path_factory.mktemp("credcli")
    store, clock = Store.open(f"sqlite:///{root / 'aitc.db'}"), FakeClock()
    tokens = seed(store, clock)
    settings = Settings(store=store, clock=clock, credential_key=root / "issuer.key")
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    yield Server(f"http://127.0.0.1:{port}", tokens, clock, store)
    srv.should_exit = True
    thread.join(10)
    store.close()


def at(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def test_check_then_certify_verify_revoke_render(server: Server, tmp_path: Path) -> None:
    now = server.clock.now()
    body = {"id": "intro", "title": "Intro to DL", "org": "school", "seats": 8, "hours": 8}
    server.api("admin", "POST", "/courses", {**body, "criteria": "Trains a CNN"})
    server.api("admin", "POST", "/courses/intro/instructors", {"member": "carol"})
    write_history(server.store, jobs=400, start=now - 14 * DAY, stop=now, seed=5)
    window = ("--start", at(now + 2 * DAY), "--end", at(now + 2 * DAY + 3 * 3600))
    code, out, err = server.aitc(
        "carol", "course", "session", "create", "intro", *window, "--check"
    )
    assert code == 0, err
    assert "not created (--check)" in out and "replayed: 400 jobs" in out
    assert "job-hours more waiting" in out and "organisation" in out
    assert server.api("carol", "GET", "/course-sessions")["count"] == 0
    code, out, err = server.aitc("carol", "course", "session", "create", "intro", *window)
    assert code == 0 and "8 seats reserved" in out, err
    server.api("carol", "POST", "/course-sessions/1/roster", {"members": ["alice", "bob"]})
    server.clock.advance(2 * DAY + 3600)
    for member in ("alice", "bob"):
        body = {"member": member, "result": "passed"}
        server.api("carol", "POST", "/course-sessions/1/results", body)
    issued = server.api("carol", "POST", "/course-sessions/1/certificates")["data"]
    credential = next(c for c in issued if c["credentialStatus"]["statusListIndex"] == "1")
    assert credential["credentialStatus"]["statusListCredential"].startswith(server.url)
    url = f"{server.url}/api/v1/credentials/{credential['id']}"
    file = tmp_path / "alice.json"
    file.write_text(json.dumps(credential))

    code, out, err = server.aitc("alice", "course", "verify", url)
    assert code == 0 and "verified: Intro to DL" in out and out.rstrip().endswith("not revoked")

    code, out, err = server.aitc(
        "alice", "course", "render", str(file), "--out", str(tmp_path / "r"),
        "--email", "alice@uni.example", "--format", "html,pdf,png",
    )  # fmt: skip
    assert code == 0, err
    stem = tmp_path / "r" / credential["id"].removeprefix("urn:uuid:")
    page = stem.with_suffix(".html").read_text()
    assert "Intro to DL" in page and "alice@uni.example" in page and "Trains a CNN" in page
    embedded = page.split('id="credential">')[1].split("</script>")[0]
    assert json.loads(embedded) == credential
    assert stem.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = server.aitc("alice", "course", "render", str(file), "--email", "x@y.example")
    assert code == 1 and "--email: x@y.example is not the address" in err

    code, _, err = server.aitc("alice", "course", "revoke", credential["id"])
    assert code == 1 and "instructors or an admin" in err
    code, out, err = server.aitc("carol", "course", "revoke", str(file))
    assert code == 0 and f"credential {credential['id']} (alice): revoked at" in out, err

    code, out, err = server.aitc("alice", "course", "verify", str(file))
    assert code == 1 and "does not verify: revoked: revoked by its issuer" in err
    assert err.rstrip().endswith("(status check)")
    code, out, err = server.aitc("alice", "course", "verify", str(file), "--offline")
    assert code == 0 and out.rstrip().endswith("status not checked (--offline)")


def test_a_tampered_credential_is_neither_verified_nor_rendered(
    server: Server, tmp_path: Path
) -> None:
    (one, *_) = server.api("carol", "GET", "/course-sessions/1/certificates")["data"]
    tampered = {**one, "name": "Advanced DL: certificate of achievement"}
    file = tmp_path / "tampered.json"
    file.write_text(json.dumps(tampered))
    code, _, err = server.aitc("bob", "course", "verify", str(file))
    assert code == 1 and "does not verify: signature:" in err and "(signature check)" in err
    code, _, err = server.aitc("bob", "course", "render", str(file), "--out", str(tmp_path))
    assert code == 1 and "not rendered" in err
    assert not list(tmp_path.glob("*.html"))
    code, _, err = server.aitc("bob", "course", "verify", f"{server.url}/api/v1/credentials/nope")
    assert code == 1 and "cannot read a JSON credential" in err
