"""A batch script's header as sbatch reads it: which lines are directives, how `#SBATCH`
options become `aitc submit`'s flags (or are ignored, or refused), and how the script's values
meet the command line's (`aitc.cli.directives`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aitc.cli.directives import (
    SBATCH,
    Directive,
    Header,
    Takes,
    apply,
    interpreter,
    parse_header,
    read_header,
    read_script,
    sbatch_options,
)
from aitc.cli.main import registered
from aitc.errors import ConfigError

SUBMIT = registered("aitc.cli.client")["submit"]


def header(*lines: str) -> Header:
    return read_header(parse_header(lines), SUBMIT)


def values(*lines: str) -> dict[str, Any]:
    return dict(header(*lines).values)


def refused(*lines: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        header(*lines)
    return caught.value


# --- the header rule ---------------------------------------------------------------------------


def test_the_header_ends_at_the_first_line_that_is_neither_blank_nor_a_comment() -> None:
    lines = [
        "#SBATCH -t 10",  # line 2: the #! line is line 1
        "",
        "# a comment",
        "   # an indented comment",
        "#AITC --gpus 2  # two",
        "python train.py",
        "#SBATCH --job-name=never-read",
    ]
    assert parse_header(lines) == (
        Directive(2, "#SBATCH", ("-t", "10")),
        Directive(6, "#AITC", ("--gpus", "2")),
    )


def test_only_a_directive_that_starts_its_line_counts() -> None:
    lines = ["##SBATCH -t 1", "# SBATCH -t 2", " #SBATCH -t 3", "#SBATCHX -t 4", "#sbatch -t 5"]
    assert parse_header(lines) == ()


def test_a_line_is_split_as_a_shell_splits_it_and_may_end_in_a_comment() -> None:
    (d,) = parse_header(["#SBATCH --job-name='my run' -J run#3 --comment \"a # b\" # why\r\n"])
    assert d.words == ("--job-name=my run", "-J", "run#3", "--comment", "a # b")


def test_an_unclosed_quote_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_header(["", "#SBATCH --job-name='oops"])
    assert caught.value.line == 3 and "#SBATCH: no closing quotation" in caught.value.reason


def line_kinds() -> st.SearchStrategy[list[tuple[str, str]]]:
    kind = st.sampled_from(["blank", "comment", "directive", "command"])
    return st.lists(st.tuples(kind, st.sampled_from(["1", "20", "0-3"])), max_size=12)


@given(line_kinds())
def test_the_directives_read_are_those_before_the_first_command(lines: list[Any]) -> None:
    text = {"blank": "", "comment": "# note {}", "directive": "#SBATCH -t {}", "command": "x {}"}
    script = [text[kind].format(value) for kind, value in lines]
    kinds = [kind for kind, _ in lines]
    end = kinds.index("command") if "command" in kinds else len(lines)
    expected = [
        Directive(i + 2, "#SBATCH", ("-t", value))
        for i, (kind, value) in enumerate(lines[:end])
        if kind == "directive"
    ]
    assert list(parse_header(script)) == expected


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("#!/bin/bash\n", ("/bin/bash",)),
        ("#! /bin/bash -l\n", ("/bin/bash", "-l")),
        ("#!/usr/bin/env -S python3 -u  \r\n", ("/usr/bin/env", "-S python3 -u")),  # as Linux
    ],
)
def test_the_interpreter_is_read_as_linux_reads_the_shebang(line: str, words: tuple[str]) -> None:
    assert interpreter(line) == words


def test_a_shebang_without_an_interpreter_is_refused() -> None:
    with pytest.raises(ConfigError, match="names no interpreter"):
        interpreter("#!  \n")


def test_a_script_is_a_file_that_starts_with_a_shebang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("job.sh").write_text("#!/bin/sh\n#SBATCH -t 5\necho hi\n")
    Path("job.sh").chmod(0o644)  # sbatch does not need it executable; nor does aitc
    Path("data.txt").write_text("#SBATCH -t 5\n")
    Path("dir").mkdir()
    script = read_script("job.sh")
    assert script is not None
    assert script.command(["a", "b"]) == ["/bin/sh", str(tmp_path / "job.sh"), "a", "b"]
    assert script.directives == (Directive(2, "#SBATCH", ("-t", "5")),)
    assert [read_script(w) for w in ("data.txt", "dir", "missing.sh", "python")] == [None] * 4


def test_a_script_is_found_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "job.sh").write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path / "sub")
    script = read_script("./job.sh")
    assert script is not None and script.path == tmp_path / "sub" / "job.sh"
    assert os.path.isabs(script.path)


# --- #SBATCH options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#SBATCH -t 02:00:00", {"time": "02:00:00"}),
        ("#SBATCH --job-name=train", {"name": "train"}),
        ("#SBATCH -J train", {"name": "train"}),
        ("#SBATCH -A vision", {"project": "vision"}),
        ("#SBATCH --account vision", {"project": "vision"}),
        ("#SBATCH -D /scratch/run", {"chdir": "/scratch/run"}),
        ("#SBATCH --array=0-99%10", {"array": "0-99%10"}),
        ("#SBATCH -d afterok:12,singleton", {"dependency": "afterok:12,singleton"}),
        ("#SBATCH --begin=now+1hour", {"begin": "now+1hour"}),
        ("#SBATCH -b 16:00", {"begin": "16:00"}),
        ("#SBATCH --begin 2027-03-01T09:00", {"begin": "2027-03-01T09:00"}),
        ("#SBATCH -H", {"hold": True}),
        ("#SBATCH --hold", {"hold": True}),
        ("#SBATCH --export=NONE", {"export": "NONE"}),
        ("#SBATCH -N 2", {"nodes": 2}),
        ("#SBATCH -G 4", {"gpus": 4}),
        ("#SBATCH --gpus=h100:4", {"gpus": 4, "gpu_model": "H100-80GB"}),
        ("#SBATCH --gres=gpu:a100_80gb:2", {"gpu_model": "A100-80GB"}),
        ("#SBATCH -Ht10", {"hold": True, "time": "10"}),
        ("#SBATCH -N2 -t 5 --job-name x", {"nodes": 2, "time": "5", "name": "x"}),
        ("#SBATCH --signal=B:USR1@300", {"signal": "B:USR1@300"}),
        ("#SBATCH -W", {"wait": True}),
        ("#SBATCH --wait -H", {"wait": True, "hold": True}),
        ("#SBATCH -o logs/%x-%j.out", {"output": "logs/%x-%j.out"}),
        ("#SBATCH --output=/scratch/%u/%A_%a.out", {"output": "/scratch/%u/%A_%a.out"}),
        ("#SBATCH -e err-%j.txt", {"error": "err-%j.txt"}),
        ("#SBATCH --error err.txt --open-mode=append", {"error": "err.txt", "open_mode": "append"}),
        ("#AITC -o out.txt -e err.txt", {"output": "out.txt", "error": "err.txt"}),
        ("#AITC --open-mode truncate", {"open_mode": "truncate"}),
        ("#SBATCH --mail-type=END,FAIL", {"mail_type": "END,FAIL"}),
        (
            "#SBATCH --mail-type=ALL --mail-user=me@lab.org",
            {"mail_type": "ALL", "mail_user": "me@lab.org"},
        ),
    ],
)
def test_sbatch_options_become_submits_flags(line: str, expected: dict[str, Any]) -> None:
    assert values(line) == expected


@given(
    option=st.sampled_from(["time", "job-name", "account", "array", "dependency", "chdir"]),
    value=st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=1),
)
def test_every_form_of_an_option_means_the_same(option: str, value: str) -> None:
    spec = SBATCH[option]
    forms = [[f"--{option}={value}"], [f"--{option}", value]]
    forms += [[f"-{spec.short}{value}"], [f"-{spec.short}", value]]
    parsed = [[(o.long, v) for o, v, _ in sbatch_options(words)] for words in forms]
    assert parsed == [[(option, value)]] * 4


@pytest.mark.parametrize(
    ("lines", "gpus", "nodes"),
    [
        (["#SBATCH --gres=gpu:4"], 4, None),
        (["#SBATCH --gres=gpu"], 1, None),
        (["#SBATCH --gres=gpu:4", "#SBATCH -N 2"], 8, 2),  # per node, as in Slurm
        (["#SBATCH -N 2", "#SBATCH --gpus-per-node=h100:8"], 16, 2),
        (["#SBATCH -N 2", "#SBATCH -G 4"], 4, 2),  # in all
        (["#SBATCH --gres=gpu:4", "#SBATCH -G 2"], 2, None),  # the later request wins whole
        (["#SBATCH -G 2", "#SBATCH --gres=gpu:3", "#AITC -N 3"], 9, 3),
    ],
)
def test_gpus_per_node_are_multiplied_by_the_nodes(
    lines: list[str], gpus: int, nodes: int | None
) -> None:
    job, _ = apply(header(*lines), {"gpus": None, "mig": None, "nodes": None}, given=())
    assert (job["gpus"], job["nodes"]) == (gpus, nodes)


def test_the_command_lines_nodes_multiply_the_scripts_gpus_per_node() -> None:
    job, _ = apply(header("#SBATCH --gres=gpu:4"), {"gpus": None, "nodes": 2}, given={"nodes"})
    assert job["gpus"] == 8


IGNORED_IN_THE_DOCS = (
    "-p gpu, --partition=gpu, --mem=64G, --mem-per-cpu=4G, --mem-per-gpu=80G, -c 8, "
    "--cpus-per-task=8, -n 4, --ntasks=4, --ntasks-per-node=8, --cpus-per-gpu=12, "
    "--exclusive, --requeue, --no-requeue, "
    "-q high, --qos=high, --comment=why, -C a100, --constraint=a100, "
    "-w node01, --nodelist=node01, -x node02, --exclude=node02, --reservation=course, "
    "--deadline=now+1hour, --time-min=30, --wckey=x, --exclusive=user"
)


@pytest.mark.parametrize("option", IGNORED_IN_THE_DOCS.split(", "))
def test_options_without_meaning_here_are_ignored_with_a_warning(option: str) -> None:
    found = header("#SBATCH -J keep", f"#SBATCH {option}")
    assert found.values == {"name": "keep"}
    ((line, warning),) = found.warnings
    assert line == 3 and warning.startswith(f"#SBATCH {option} ignored: ")
    assert warning.endswith("(see docs/users.md#batch-scripts)")


def test_one_warning_per_line_grouped_by_reason() -> None:
    found = header("#SBATCH --mem=64G -c 8 -p gpu -N 1")
    assert found.values == {"nodes": 1}
    ((_, warning),) = found.warnings
    assert warning.startswith("#SBATCH --mem=64G -c 8 ignored: aitc gives a job whole GPUs")
    assert "; -p gpu ignored: aitc's scheduler chooses the nodes" in warning


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            "#SBATCH --tim=10",
            "#SBATCH --tim: not an sbatch option aitc takes; did you mean '--time'",
        ),
        ("#SBATCH --wrap='python x.py'", "#SBATCH --wrap: not an sbatch option aitc takes"),
        ("#SBATCH -Z", "#SBATCH -Z: not an sbatch option aitc takes"),
        ("#SBATCH train", "#SBATCH train: not an option"),
        ("#SBATCH --time", "#SBATCH --time: needs a value"),
        ("#SBATCH -t", "#SBATCH -t: needs a value"),
        ("#SBATCH --hold=yes", "#SBATCH --hold=yes: --hold takes no value"),
        ("#SBATCH --gres=gpu:h100:x", "#SBATCH --gres=gpu:h100:x: 'h100:x' is not [TYPE:]N"),
        ("#SBATCH --gres=fpga:1", "#SBATCH --gres=fpga:1: aitc's only generic resource is GPUs"),
        (
            "#SBATCH --gres=gpu:tesla:2",
            "#SBATCH --gres=gpu:tesla:2: aitc knows no GPU type 'tesla' (known: a100_40gb,",
        ),
        ("#SBATCH -G h100", "#SBATCH -G h100: 'h100' is not [TYPE:]N"),
        ("#SBATCH -N two", "#SBATCH -N two: --nodes: must be a whole number (got 'two')"),
        ("#AITC --gpu 2", "#AITC --gpu: no such option; did you mean --gpus"),
        ("#AITC --gpus x", "#AITC --gpus: must be a whole number (got 'x')"),
        ("#AITC --help", "#AITC --help: no such option"),
        ("#AITC python x.py", "#AITC python x.py: Got unexpected extra argument(s) (python x.py)"),
        ("#AITC --name", "#AITC --name: Option '--name' requires an argument"),
    ],
)
def test_a_bad_directive_is_refused_naming_its_line(line: str, why: str) -> None:
    error = refused("#SBATCH -t 10", "", line)
    assert error.line == 4 and error.reason.startswith(why), error.reason


# --- #AITC lines, and who wins -----------------------------------------------------------------


def test_aitc_lines_take_submits_own_flags() -> None:
    assert values(
        "#AITC --priority preemptible -g 2 --mig 1g.10gb", "#AITC --env A=1 --env B=2"
    ) == {
        "priority": "preemptible",
        "gpus": 2,
        "mig": "1g.10gb",
        "env": ["A=1", "B=2"],
    }


def test_later_lines_override_earlier_ones_and_env_adds() -> None:
    found = header(
        "#AITC --name first --env A=1",
        "#SBATCH -J second -t 10",
        "#AITC --time 20 --env B=2",
        "#SBATCH --gres=gpu:2",
        "#AITC --mig 1g.10gb",  # a GPU request replaces the earlier one whole
    )
    assert dict(found.values) == {
        "name": "second",
        "time": "20",
        "env": ["A=1", "B=2"],
        "mig": "1g.10gb",
    }
    assert found.gpus_per_node is None
    assert dict(found.lines) == {"name": 3, "time": 4, "env": 4, "gpus": 6, "mig": 6}


def test_the_command_line_overrides_the_script() -> None:
    script = header(
        "#SBATCH -J script -t 10 --gres=gpu:4 -H", "#AITC --env A=1 --priority guaranteed"
    )
    params = {
        "name": "cli", "time": None, "gpus": None, "mig": "1g.10gb", "nodes": None,
        "hold": False, "env": ["B=2"], "priority": "standard",
    }  # fmt: skip
    job, lines = apply(script, params, given={"name", "mig", "env"})
    assert job == {
        "name": "cli", "time": "10", "gpus": None, "mig": "1g.10gb", "nodes": None,
        "hold": True, "env": ["A=1", "B=2"], "priority": "guaranteed",
    }  # fmt: skip
    assert lines == {"time": 2, "hold": 2, "priority": 3}


def test_every_translated_option_takes_what_sbatch_gives_it() -> None:
    switches = {o.long for o in SBATCH.values() if o.takes is Takes.NOTHING and o.becomes}
    assert switches == {"hold", "wait"}


def test_the_users_guide_lists_every_sbatch_option_aitc_takes_and_why_it_ignores_some() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "users.md").read_text()
    section = guide.split("## Batch scripts\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.replace("`", "") for line in section.splitlines() if line.startswith("| `")]
    for option in SBATCH.values():
        row = next((r for r in rows if re.search(rf"--{option.long}\b(?!-)", r)), "")
        assert row, f"--{option.long} is in no table of the Batch scripts section"
        why = re.split(r" \(|;", option.ignored)[0]
        assert why in row, f"--{option.long}: the guide does not say {why!r}"
