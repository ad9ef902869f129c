"""A submission the database cannot store is answered 507 (disk full) or 503 (database
read-only or unavailable) with the reason, never a bare 500; tested on a real tiny tmpfs."""

from __future__ import annotations

import gc
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from seed import seed

from aitc.control.api import Settings, create_app
from aitc.control.clock import FakeClock
from aitc.control.store import Store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def app_on(tiny: Path) -> Iterator[tuple[TestClient, dict[str, str], Store]]:
    store = Store.open(f"sqlite:///{tiny / 'aitc.db'}")
    clock = FakeClock()
    tokens = seed(store, clock)
    try:
        with TestClient(create_app(Settings(store=store, clock=clock))) as client:
            yield client, {"Authorization": f"Bearer {tokens['alice']}"}, store
    finally:
        store.close()


def _fill(mnt: Path) -> None:
    with (mnt / "ballast").open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def _submit_until_refused(client: TestClient, auth: dict[str, str]) -> tuple[int, str]:
    body = {"command": ["train", "x" * 60_000]}
    for _ in range(200):
        r = client.post("/api/v1/jobs", json=body, headers=auth)
        if r.status_code != 201:
            return r.status_code, r.text
    raise AssertionError("the database never ran out of space")


def test_a_full_disk_is_507_with_the_reason(
    app_on: tuple[TestClient, dict[str, str], Store], tiny: Path
) -> None:
    client, auth, _ = app_on
    _fill(tiny)
    code, text = _submit_until_refused(client, auth)
    assert code == 507, text
    assert "disk is full" in text
    (tiny / "ballast").unlink()  # and once there is room again, it stores
    assert client.post("/api/v1/jobs", json={"command": ["true"]}, headers=auth).status_code == 201


def test_a_read_only_database_is_503_with_the_reason(
    app_on: tuple[TestClient, dict[str, str], Store], tiny: Path
) -> None:
    client, auth, store = app_on
    assert client.get("/api/v1/me", headers=auth).status_code == 200  # the caller is cached
    _remount_read_only(store, tiny)
    r = client.post("/api/v1/jobs", json={"command": ["true"]}, headers=auth)
    assert r.status_code == 503, r.text
    assert "read-only" in r.json()["detail"] and "Retry-After" in r.headers
    assert "nothing was stored" in r.json()["detail"]


def _remount_read_only(store: Store, tiny: Path) -> None:
    """Make the database's file system read-only. The kernel refuses ("mount point is busy")
    while any file on it is open for writing: the pool's connections are closed first, and a
    connection the app's background work still holds is waited for (a few seconds at most),
    and one only garbage still refers to is collected."""
    deadline = time.monotonic() + 10.0
    while True:
        gc.collect()
        store.engine.dispose()
        done = subprocess.run(
            ["mount", "-o", "remount,ro", str(tiny)], capture_output=True, text=True
        )
        if done.returncode == 0:
            return
        assert time.monotonic() < deadline, done.stderr
        time.sleep(0.1)
