"""Fixtures of the security tests: real Unix users for members, a real ``aitc serve`` as root.

These tests need root (to create users and to let the server switch to them), as CI has; on a
machine where they are not root they are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))

from security_lab import PEOPLE, ensure_user, lab_yaml  # noqa: E402
from server_proc import ServerProcess  # noqa: E402


@pytest.fixture(scope="session")
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the security tests create Unix users and need root (CI runs as root)")


@pytest.fixture(scope="module")
def base(as_root: None) -> Iterator[Path]:
    """A directory every user may traverse, so that only aitc's own modes keep jobs out."""
    path = Path(tempfile.mkdtemp(prefix="aitc-sec-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def server(base: Path) -> Iterator[ServerProcess]:
    """``aitc serve`` as root with the security lab, its admin's client config under base."""
    for _, account, *_ in PEOPLE:
        ensure_user(account)
    lab = base / "lab.yaml"
    lab.write_text(lab_yaml())
    lab.chmod(0o644)
    home = base / "server-home"
    home.mkdir(mode=0o755)
    proc = ServerProcess(
        base / "state",
        lab=lab,
        extra=("--write-client-config",),
        env={"HOME": str(home), "AITC_TEST_SERVER_SECRET": "server-secret-value"},
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()
