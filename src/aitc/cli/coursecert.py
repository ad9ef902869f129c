"""``aitc course verify``, ``revoke`` and ``render``: a certificate checked, revoked, shown.

``verify`` reads a credential from a file or a URL and checks it with
``aitc.control.courses.credentials`` (schema, signature, status, validity window), reading its
status list over HTTP unless ``--offline``; ``revoke`` asks the API; ``render`` writes the
HTML page and PDF of a credential that verifies (``aitc.control.courses.rendering``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import Rows, config_failure, echo, fail, usage, when
from aitc.errors import ConfigError

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

HTTP_TIMEOUT_S = 10.0
SourceArg = typer.Argument(..., help="A credential: a JSON file, or the URL it is served at.")


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _get_json(url: str) -> Any:
    """The JSON at ``url`` (``ValueError`` saying why not)."""
    import httpx

    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=True)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None


def read_credential(source: str) -> dict[str, Any]:
    """The credential in a file or at a URL; exit 1 naming ``source`` when it cannot be read."""
    try:
        data = _get_json(source) if _is_url(source) else json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        fail(source, f"cannot read a JSON credential ({exc})")
    if not isinstance(data, dict):
        fail(source, "cannot read a JSON credential (not a JSON object)")
    return data


def _fetch_list(url: str) -> Any:
    from aitc.control.courses.statuslist import StatusListUnavailable

    if not _is_url(url):
        raise StatusListUnavailable(f"{url!r} is not an http(s) URL")
    try:
        return _get_json(url)
    except ValueError as exc:
        raise StatusListUnavailable(str(exc)) from None


def verify(
    source: str = SourceArg,
    issuer: str | None = typer.Option(
        None, "--issuer", help="The issuer id (did:key:…) you trust; default: any."
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Do not read the status list: skip the revocation check."
    ),
) -> None:
    """Verify a credential: schema, signature (eddsa-jcs-2022), issuer, status, validity."""
    from aitc.control.courses.credentials import verify as check
    from aitc.control.courses.statuslist import checker

    credential = read_credential(source)
    status = None if offline else checker(_fetch_list)
    failure = check(credential, now=time.time(), issuer=issuer, status=status)
    if failure is not None:
        fail(source, f"does not verify: {failure.reason}: {failure.message} ({failure.step} check)")
    who = credential["issuer"]
    name = who.get("name", who.get("id")) if isinstance(who, dict) else who
    achievement = credential["credentialSubject"]["achievement"]["name"]
    if offline:
        standing = "status not checked (--offline)"
    elif credential.get("credentialStatus"):
        standing = "not revoked"
    else:
        standing = "no status list (it cannot be revoked)"
    echo(
        f"{source}: verified: {achievement}, issued by {name} from {credential['validFrom']}; "
        f"{standing}"
    )


def revoke(
    credential: str = typer.Argument(
        ..., help="The credential: its id (urn:uuid:…, or the UUID) or its JSON file."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Revoke a credential for good (the session's instructors, admins)."""
    ident = (
        str(read_credential(credential).get("id", ""))
        if credential.endswith(".json")
        else credential
    )

    def call(client: ApiClient) -> None:
        done = client.request("POST", f"/credentials/{ident}/revoke", subject=f"credential {ident}")
        echo(f"credential {done['id']} ({done['member']}): revoked at {when(done['revoked_at'])}")

    run(url, token, call)


def render(
    source: str = SourceArg,
    out: Path = typer.Option(Path("."), "--out", help="Directory to write the renderings into."),
    email: str | None = typer.Option(
        None,
        "--email",
        help="The learner's e-mail address, printed once it matches the credential's hash.",
    ),
    formats: str = typer.Option(
        "html,pdf", "--format", help="Comma-separated: html, pdf, png (default html,pdf)."
    ),
) -> None:
    """Render a credential that verifies as an HTML page and a PDF (and a PNG)."""
    from aitc.control.courses import rendering
    from aitc.control.courses.credentials import verify as check

    kinds = tuple(k.strip() for k in formats.split(",") if k.strip())
    unknown = [k for k in kinds if k not in rendering.FORMATS]
    if unknown or not kinds:
        usage("--format", f"{formats!r}: choose from {', '.join(rendering.FORMATS)}")
    credential = read_credential(source)
    failure = check(credential, now=time.time())
    if failure is not None:
        fail(source, f"not rendered: it does not verify: {failure.reason}: {failure.message}")
    try:
        facts = rendering.facts(credential, email)
    except ConfigError as exc:
        config_failure(exc, code=1)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / str(credential.get("id", "certificate")).removeprefix("urn:uuid:")
    for path in rendering.write(facts, stem, kinds):
        echo(f"wrote {path}")


def _h(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f}"


def print_check(c: dict[str, Any]) -> None:
    """What ``aitc course session create --check`` found (``SessionCheckPublic``)."""
    echo(
        f"session of {c['course']}: {c['seats']} seats, {when(c['start'])} to {when(c['end'])}: "
        "not created (--check)"
    )
    echo(
        f"replayed: {c['jobs']:,} jobs recorded {when(c['recorded_since'])} to "
        f"{when(c['recorded_until'])}, as the next {c['weeks']} week(s), under {c['policy']}"
    )
    echo(
        f"cost to research: {c['extra_wait_h']:,.1f} job-hours more waiting, "
        f"{c['delayed_jobs']:,} jobs starting over a minute later"
    )
    if not c["per_org"]:
        return
    table = Rows(
        ("organisation", "jobs", "wait h", "with h", "p90 h", "p90 with h", "extra h", "delayed"),
        title="Mean and p90 wait without and with the session, per organisation",
        right=frozenset({"jobs", "wait h", "with h", "p90 h", "p90 with h", "extra h", "delayed"}),
    )
    for o in c["per_org"]:
        table.add(
            o["organisation"], o["jobs"], _h(o["mean_wait_without_s"]),
            _h(o["mean_wait_with_s"]), _h(o["p90_wait_without_s"]), _h(o["p90_wait_with_s"]),
            f"{o['extra_wait_h']:.2f}", o["delayed_jobs"],
        )  # fmt: skip
    table.print()


def register(app: typer.Typer) -> None:
    """Add the commands to ``aitc course``."""
    app.command("verify")(verify)
    app.command("revoke")(revoke)
    app.command("render")(render)
