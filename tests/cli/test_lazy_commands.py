"""`aitc` imports a command's module only when the command runs: the table of top-level
commands (``aitc.cli.main.COMMANDS``) says which module adds each, and must say it right."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import typer.main

from aitc.cli.main import COMMANDS, app, registered


def test_each_module_adds_exactly_the_commands_the_table_gives_it() -> None:
    by_module: dict[str, set[str]] = defaultdict(set)
    for name, module in COMMANDS.items():
        by_module[module].add(name)
    for module, names in by_module.items():
        assert set(registered(module)) == names, module


def test_the_group_lists_every_command_and_finds_each() -> None:
    group = typer.main.get_command(app)
    assert list(group.list_commands(None)) == list(COMMANDS)  # (aitc --help's order)
    for name in COMMANDS:
        command = group.get_command(None, name)
        assert command is not None and command.name == name


CHECK = """
import json, sys
from aitc.cli.main import app
try:
    app(sys.argv[2:], standalone_mode=False)
except SystemExit:
    pass
finally:
    with open(sys.argv[1], "w") as f:
        json.dump(sorted(m for m in sys.modules if m.startswith("aitc.cli.")), f)
"""


def test_a_command_imports_its_own_module_and_not_the_others(tmp_path) -> None:
    loaded = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(loaded), "queue", "--help"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(loaded.read_text()))
    assert "aitc.cli.client" in modules
    others = {m for m in COMMANDS.values() if m != "aitc.cli.client"}
    assert not modules & others, modules & others
