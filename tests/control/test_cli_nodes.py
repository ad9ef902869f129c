"""`aitc node drain|down|resume` and `aitc nodes --reasons` against a real HTTP server."""

from __future__ import annotations

import json

from test_cli_client import aitc, server

__all__ = ["server"]  # the real server of the client tests (a fixture)

Server = tuple[str, dict[str, str]]


def test_an_admin_drains_a_host_list_and_everyone_sees_why(server: Server) -> None:
    code, out = aitc(server, "admin", "node", "drain", "n[1-2]", "--reason", "new firmware")
    assert (code, out.splitlines()) == (
        0,
        ["node n1: drained (new firmware)", "node n2: drained (new firmware)"],
    )
    code, out = aitc(server, "alice", "nodes", "--reasons")
    assert code == 0
    assert "new firmware" in out and "admin" in out and "drained" in out
    code, out = aitc(server, "alice", "nodes", "--json")
    assert [n["state"] for n in json.loads(out)["data"]] == ["drained", "drained"]
    code, out = aitc(server, "admin", "node", "resume", "n1,n2")
    assert (code, out.splitlines()) == (0, ["node n1: up", "node n2: up"])
    code, out = aitc(server, "alice", "nodes", "-R", "--json")
    assert json.loads(out)["data"] == []


def test_a_node_set_down_says_so(server: Server) -> None:
    code, out = aitc(server, "admin", "node", "down", "n2", "--reason", "power supply")
    assert (code, out) == (0, "node n2: down (power supply)\n")
    assert aitc(server, "admin", "node", "resume", "n2")[0] == 0


def test_a_reason_is_required_and_unknown_nodes_change_nothing(server: Server) -> None:
    code, out = aitc(server, "admin", "node", "drain", "n1")
    assert code == 2 and "--reason" in out
    code, out = aitc(server, "admin", "node", "drain", "n1,dgx9", "--reason", "x")
    assert (code, out) == (2, "aitc: NODES: no node dgx9 (see `aitc nodes`); nothing changed\n")
    code, out = aitc(server, "admin", "node", "drain", "n[1-", "--reason", "x")
    assert code == 2
    code, out = aitc(server, "admin", "nodes", "--json")
    assert [n["state"] for n in json.loads(out)["data"]] == ["up", "up"]


def test_a_member_may_not_drain_a_node(server: Server) -> None:
    code, out = aitc(server, "alice", "node", "drain", "n1", "--reason", "mine")
    assert code != 0 and "admin" in out
