"""lab.yaml ``sign_in.oidc``: the web pages' OpenID Connect sign-in, read into the domain."""

from __future__ import annotations

from pathlib import Path

from aitc.domain.lab import OidcSignIn
from aitc.plan.lab import load_lab

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "joint-lab.yaml"


def lab_with(tmp_path: Path, section: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8").replace("roster: members.csv", "roster: m.csv")
    (tmp_path / "m.csv").write_text((ROOT / "examples" / "members.csv").read_text())
    path = tmp_path / "lab.yaml"
    path.write_text(text + section, encoding="utf-8")
    return path


def test_a_lab_without_sign_in_has_tokens_only() -> None:
    assert load_lab(EXAMPLE).oidc is None


def test_the_oidc_section_is_read_with_defaults_and_the_secret_file_beside_the_lab(
    tmp_path: Path,
) -> None:
    section = (
        "sign_in:\n  oidc:\n    issuer: https://login.example.edu/realms/lab\n"
        "    client_id: aitc-dashboard\n    client_secret_file: secrets/oidc\n"
    )
    assert load_lab(lab_with(tmp_path, section)).oidc == OidcSignIn(
        issuer="https://login.example.edu/realms/lab",
        client_id="aitc-dashboard",
        client_secret_file=str(tmp_path / "secrets" / "oidc"),
        claim="preferred_username",
        matches="member",
        scopes=("openid", "profile", "email"),
    )


def test_every_key_of_the_oidc_section_is_read(tmp_path: Path) -> None:
    section = (
        "sign_in:\n  oidc:\n    issuer: https://login.microsoftonline.com/t/v2.0\n"
        "    client_id: 0000-1111\n    client_secret_env: AITC_OIDC_SECRET\n"
        "    claim: email\n    matches: email\n    scopes: [openid, email]\n"
        "    redirect_uri: https://aitc.example.edu/signin/oidc/callback\n"
        "    label: University account\n"
    )
    assert load_lab(lab_with(tmp_path, section)).oidc == OidcSignIn(
        "https://login.microsoftonline.com/t/v2.0",
        "0000-1111",
        None,
        "AITC_OIDC_SECRET",
        "email",
        "email",
        ("openid", "email"),
        "https://aitc.example.edu/signin/oidc/callback",
        "University account",
    )
