"""Every way lab.yaml or its roster can be wrong gives one error naming file, line and field.

The broken variants are listed in tests/data/labs/broken.yaml: each is the example lab with one
small edit, and the line it must report is found from the edited text itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from aitc.errors import ConfigError, each_error
from aitc.plan.lab import load_lab

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "joint-lab.yaml"
ROSTER = ROOT / "examples" / "members.csv"
CASES: list[dict[str, Any]] = yaml.safe_load(
    (ROOT / "tests" / "data" / "labs" / "broken.yaml").read_text(encoding="utf-8")
)


@dataclass(frozen=True)
class Variant:
    """A broken copy of the example lab and the error it must give."""

    lab: Path
    file: Path
    line: int | None
    field: str | None
    reason: str


def line_of(text: str, anchor: str, after: str | None = None) -> int:
    """The 1-based number of the first line containing ``anchor`` (after ``after``'s line)."""
    lines = text.splitlines()
    start = next(i for i, s in enumerate(lines) if after in s) if after else 0
    return next(i for i, s in enumerate(lines) if i >= start and anchor in s) + 1


def make_variant(tmp_path: Path, case: dict[str, Any]) -> Variant:
    texts = {
        "lab": EXAMPLE.read_text(encoding="utf-8"),
        "roster": ROSTER.read_text(encoding="utf-8"),
    }
    assert texts[case["file"]].count(case["old"]) == 1, case["id"]
    texts[case["file"]] = texts[case["file"]].replace(case["old"], case["new"])
    paths = {"lab": tmp_path / "joint-lab.yaml", "roster": tmp_path / "members.csv"}
    for key, text in texts.items():
        paths[key].write_text(text, encoding="utf-8")
    file = paths.get(case["error"], tmp_path / case["error"])
    line = None
    if case["anchor"] is not None:
        line = line_of(
            texts["lab" if file == paths["lab"] else "roster"], case["anchor"], case.get("after")
        )
    return Variant(paths["lab"], file, line, case["field"], case["reason"])


def expected_prefix(v: Variant) -> str:
    where = f"{v.file}:{v.line}: " if v.line else f"{v.file}: "
    return where + (f"{v.field}: " if v.field else "")


def test_there_are_at_least_ten_broken_variants() -> None:
    assert len(CASES) >= 10
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_broken_lab_names_file_line_field_and_reason(tmp_path: Path, case: dict[str, Any]) -> None:
    """The edit's error comes first; ``errors`` in the case counts those that follow from it
    (members of an organisation that a duplicate id removed, say), 1 by default."""
    variant = make_variant(tmp_path, case)
    with pytest.raises(ConfigError) as caught:
        load_lab(variant.lab)
    errors = each_error(caught.value)
    err = errors[0]
    assert (err.file, err.line, err.field) == (str(variant.file), variant.line, variant.field)
    assert err.reason.startswith(variant.reason), err.reason
    assert str(err) == expected_prefix(variant) + err.reason
    assert len(errors) == case.get("errors", 1), str(caught.value)


def test_error_examples_in_the_docs_are_what_the_variants_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    block = doc.split("More examples, each one small edit of the example lab:")[1]
    documented = block.split("```text\n")[1].split("```")[0].splitlines()
    monkeypatch.chdir(tmp_path)
    produced = set()
    for case in CASES:
        (tmp_path / "examples").mkdir(exist_ok=True)
        variant = make_variant(tmp_path / "examples", case)
        with pytest.raises(ConfigError) as caught:
            load_lab(variant.lab.relative_to(tmp_path))
        produced.update(str(e) for e in each_error(caught.value))
    assert len(documented) >= 5
    assert set(documented) <= produced
