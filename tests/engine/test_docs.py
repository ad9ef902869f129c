"""The examples in docs/scheduling.md run, and print what the page says they print."""

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "scheduling.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_python_example_prints_what_the_page_shows():
    namespace: dict[str, object] = {}
    for code in blocks():
        expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(DOC), "exec"), namespace)
        assert out.getvalue().splitlines() == expected


def test_every_policy_and_common_parameter_is_documented():
    from aitc.engine import POLICIES
    from aitc.engine.policy import COMMON

    text = DOC.read_text()
    for name, cls in POLICIES.items():
        assert f"### `{name}`" in text
        for param in cls.PARAMS:
            assert f"`{param}`" in text, (name, param)
    for param in COMMON:
        assert f"`{param}`" in text
