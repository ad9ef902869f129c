"""What members wrote reaches an admin's terminal inert: control characters are shown escaped
in `aitc queue`, `aitc show` and `aitc token list`, and rich markup is not interpreted."""

from __future__ import annotations

import re

from test_cli_client import aitc, server  # noqa: F401 - the module's real server fixture

from aitc.cli.client import safe

Server = tuple[str, dict[str, str]]
OSC8 = "\x1b]8;;http://x\x07"
CLEAR = "\x1b[2J"


def test_safe_escapes_controls_and_markup() -> None:
    assert safe(f"{OSC8}a{CLEAR}") == "\\x1b]8;;http://x\\x07a\\x1b[2J"
    assert safe("\u202eevil\x9b") == "\\u202eevil\\x9b"
    assert safe("[red]x[/red]", markup=False) == "[red]x[/red]"
    assert safe("plain — ünïcode") == "plain — ünïcode"


def test_a_job_name_with_terminal_sequences_is_shown_escaped(server: Server) -> None:  # noqa: F811
    name = f"{OSC8}click{CLEAR}[bold]x"
    code, out = aitc(server, "alice", "submit", "--name", name, "--", "echo", f"{CLEAR}hi")
    assert code == 0, out
    job_id = re.search(r"submitted job (\d+)", out).group(1)  # type: ignore[union-attr]
    for args in (("show", job_id), ("queue",)):
        code, out = aitc(server, "admin", *args)
        assert code == 0, out
        assert "\x1b" not in out and "\x07" not in out, (args, out)
        assert "\\x1b]8;;http://x\\x07" in out or "\\x1b" in out
    code, out = aitc(server, "admin", "show", job_id)
    assert "[bold]x" in re.sub(r"\s+", "", out)  # shown as typed (maybe wrapped), not as markup
