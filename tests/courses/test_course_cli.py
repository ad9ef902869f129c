"""`aitc course verify FILE`: exit 0 and one line when the credential verifies, else exit 1
naming the failed step's reason; `aitc course roster import` reads a member column."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_credentials import badge
from typer.testing import CliRunner

from aitc.cli.course import _read_roster
from aitc.cli.main import app


def test_verify_says_verified_or_names_the_reason(tmp_path: Path) -> None:
    good = badge(Ed25519PrivateKey.generate(), validFrom="2020-01-01T00:00:00Z")
    path = tmp_path / "c.json"
    path.write_text(json.dumps(good))
    result = CliRunner().invoke(app, ["course", "verify", str(path)])
    assert result.exit_code == 0 and "verified: Intro" in result.stdout
    good["credentialSubject"]["achievement"]["name"] = "Advanced"
    path.write_text(json.dumps(good))
    result = CliRunner().invoke(app, ["course", "verify", str(path)])
    assert result.exit_code == 1 and "does not verify: signature:" in result.stderr


def test_a_roster_csv_gives_member_ids_in_order(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("name,member\nAnn,ann\n,\nBob,bob\n")
    assert _read_roster(path) == ["ann", "bob"]
