"""`aitc token`, `aitc member` and `aitc node`: the admins' client commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from aitc.cli.apicall import TokenOpt, UrlOpt, run
from aitc.cli.output import Rows, echo, usage, when
from aitc.cli.timespec import parse_duration

if TYPE_CHECKING:
    from aitc.control.apiclient import ApiClient

token_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API tokens (admin).")
member_app = typer.Typer(no_args_is_help=True, help="Disable and enable members (admin).")
node_app = typer.Typer(
    no_args_is_help=True, help="Drain, down and resume nodes, as scontrol update (admin)."
)
NodesArg = typer.Argument(
    ..., help="Nodes: a name, a comma list or a Slurm host list such as dgx[01-04]."
)


@token_app.command("create")
def token_create(
    member: str = typer.Argument(..., help="The member the token acts as."),
    name: str = typer.Option("", "--name", help="A label, e.g. the machine it lives on."),
    expires: str | None = typer.Option(
        None, "--expires", help="How long it is valid: 30d, 12h, ... (default: 90 days)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Create a token for a member and print it (it is shown only this once)."""
    body: dict[str, Any] = {"member": member, "name": name}
    if expires is not None:
        try:
            seconds = parse_duration(expires)
        except ValueError as exc:
            usage("--expires", str(exc))
        if seconds <= 0:
            usage("--expires", "must be longer than 0 s")
        body["expires_in"] = seconds

    def call(client: ApiClient) -> None:
        created = client.request("POST", "/tokens", json=body, subject=f"member {member}")
        typer.echo(created["token"])
        echo(
            f"token {created['id']} for {member}, valid until {when(created['expires_at'])}: "
            "keep it now, it is not shown again",
            err=True,
        )

    run(url, token, call)


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="The token's number (see `aitc token list`)."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Revoke a token: it stops working at once."""

    def call(client: ApiClient) -> None:
        done = client.request("DELETE", f"/tokens/{token_id}", subject=f"token {token_id}")
        echo(f"token {done['id']} revoked")

    run(url, token, call)


@token_app.command("list")
def token_list(url: str | None = UrlOpt, token: str | None = TokenOpt) -> None:
    """List tokens (their prefixes, never their secrets)."""

    def call(client: ApiClient) -> None:
        table = Rows(
            ("id", "member", "name", "prefix", "created", "expires", "last used", "revoked"),
            title="Tokens",
        )
        for t in client.request("GET", "/tokens")["data"]:
            table.add(
                t["id"],
                t["member"],
                t["name"],
                t["prefix"] + "…",
                when(t["created_at"]),
                when(t.get("expires_at")),
                when(t.get("last_used_at")),
                when(t["revoked_at"]),
            )
        table.print()

    run(url, token, call)


@member_app.command("disable")
def member_disable(
    member: str = typer.Argument(..., help="The member's id."),
    stop_running: bool = typer.Option(
        False, "--stop-running", help="Also stop their running jobs (default: they run on)."
    ),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Disable a member: their tokens stop working and their pending jobs are held."""

    def call(client: ApiClient) -> None:
        done = client.request(
            "POST",
            f"/members/{member}/disable",
            json={"stop_running": stop_running},
            subject=f"member {member}",
        )
        echo(
            f"member {done['id']} disabled: {done['pending_held']} pending job(s) held, "
            f"{done['running_stopped']} running job(s) stopping"
        )

    run(url, token, call)


@member_app.command("enable")
def member_enable(
    member: str = typer.Argument(..., help="The member's id."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Enable a member again: their held pending jobs are scheduled again."""

    def call(client: ApiClient) -> None:
        done = client.request("POST", f"/members/{member}/enable", subject=f"member {member}")
        echo(f"member {done['id']} enabled")

    run(url, token, call)


@node_app.command("drain")
def node_drain(
    nodes: str = NodesArg,
    reason: str = typer.Option(..., "--reason", help="Why (required, as in Slurm)."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Drain nodes: their running jobs finish, nothing new starts on them."""
    _set_nodes(nodes, {"state": "drain", "reason": reason}, url, token)


@node_app.command("down")
def node_down(
    nodes: str = NodesArg,
    reason: str = typer.Option(..., "--reason", help="Why (required, as in Slurm)."),
    url: str | None = UrlOpt,
    token: str | None = TokenOpt,
) -> None:
    """Set nodes down: their running jobs are stopped and requeued, nothing new starts."""
    _set_nodes(nodes, {"state": "down", "reason": reason}, url, token)


@node_app.command("resume")
def node_resume(
    nodes: str = NodesArg, url: str | None = UrlOpt, token: str | None = TokenOpt
) -> None:
    """Resume drained or down nodes: jobs start on them again (unless the executor itself
    reports them down or drained)."""
    _set_nodes(nodes, {"state": "resume"}, url, token)


def _set_nodes(nodes: str, body: dict[str, str], url: str | None, token: str | None) -> None:
    """Set each node of the host list ``nodes``; none if any is unknown (as scontrol)."""
    from aitc.arch.hostlist import expand
    from aitc.errors import ConfigError

    try:
        names = list(dict.fromkeys(expand(nodes)))
    except ConfigError as exc:
        usage("NODES", exc.reason)

    def call(client: ApiClient) -> None:
        known = {n["name"] for n in client.request("GET", "/nodes")["data"]}
        unknown = [n for n in names if n not in known]
        if unknown:
            usage("NODES", f"no node {', '.join(unknown)} (see `aitc nodes`); nothing changed")
        for name in names:
            n = client.request("PATCH", f"/nodes/{name}", json=body, subject=f"node {name}")
            echo(f"node {name}: {n['state']}" + (f" ({n['reason']})" if n["reason"] else ""))

    run(url, token, call, fields={"reason": "--reason"})


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
    app.add_typer(member_app, name="member")
    app.add_typer(node_app, name="node")
