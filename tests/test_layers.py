"""Nothing imports upward: each layer of ARCHITECTURE.md imports only the layers its row of
the table names (``aitc.errors`` is shared by all), imports inside functions and under
``TYPE_CHECKING`` included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "aitc"
COMMON = {"errors"}
MAY_IMPORT = {
    "domain": set(),
    "arch": {"domain"},
    "engine": {"domain"},
    "twin": {"domain", "engine"},
    "plan": {"domain", "arch", "engine", "twin"},
    "control": {"domain", "arch", "engine", "twin", "plan"},
}


def imported_layers(path: Path) -> dict[str, int]:
    """The aitc layers ``path`` imports, each with the first line that does."""
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "aitc" and len(parts) > 1:
                out.setdefault(parts[1], node.lineno)
    return out


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    allowed = MAY_IMPORT[layer] | COMMON | {layer}
    wrong = [
        f"{path.relative_to(SRC.parent)}:{line}: imports aitc.{other}"
        for path in sorted((SRC / layer).rglob("*.py"))
        for other, line in imported_layers(path).items()
        if other not in allowed
    ]
    assert wrong == []
