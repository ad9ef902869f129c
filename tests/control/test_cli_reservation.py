"""`aitc reservation create/list/delete` against a real HTTP server: what the API refuses is
printed as `aitc: <flag>: <why>` (exit 2), what it takes is listed, then deleted."""

from __future__ import annotations

from test_cli_client import aitc
from test_cli_client import server as server  # noqa: F401 (the module's server fixture)

Server = tuple[str, dict[str, str]]


def test_an_admin_reserves_lists_and_deletes(server: Server) -> None:
    code, out = aitc(
        server, "admin", "reservation", "create", "acme", "--gpus", "8", "--node", "n2",
        "--start", "2099-01-01T09:00", "--duration", "3h", "--name", "contract", "--id", "c1",
    )  # fmt: skip
    assert code == 0, out
    assert out.startswith("reservation c1: 8 GPUs on n2 for acme, 2099-01-01 09:00:00 to")
    code, out = aitc(server, "admin", "reservation", "list")
    assert code == 0 and "c1" in out and "8 GPUs on n2" in out and "contract" in out
    code, out = aitc(server, "admin", "reservation", "delete", "c1")
    assert code == 0 and out.strip() == "reservation c1 deleted"
    code, out = aitc(server, "admin", "reservation", "list", "--json")
    assert code == 0 and '"count": 0' in out


def test_refusals_name_the_flag(server: Server) -> None:
    start = ("--start", "2099-02-01T09:00", "--end", "2099-02-01T12:00")
    code, out = aitc(server, "admin", "reservation", "create", "acme", "--gpus", "17", *start)
    assert code == 2 and "aitc: --gpus: the reservation can never be guaranteed" in out
    code, out = aitc(server, "admin", "reservation", "create", "acme", "--seats", "3", *start)
    assert code == 2 and "aitc: --mig: MIG seats need a MIG profile" in out
    code, out = aitc(
        server, "admin", "reservation", "create", "acme", "--gpus", "1", "--start", "x"
    )
    assert code == 2 and "aitc: --start: 'x' is not a time" in out
    code, out = aitc(server, "alice", "reservation", "create", "acme", "--gpus", "1", *start)
    assert code == 1 and "not allowed" in out
    code, out = aitc(server, "admin", "reservation", "delete", "nothing")
    assert code == 1 and "aitc: reservation nothing: not found" in out
