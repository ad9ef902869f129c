"""The launcher that runs a batch script's submitted text in place of the file: arguments kept
word for word, ``$0`` the copy, the variable that carried the text gone, no file left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aitc.control.batchscript import SCRIPT_ENV, launched

SHOW = '#!/bin/sh\nprintf "%s|" "$0" "$#" "$@"; printf "%s" "${AITC_BATCH_SCRIPT-gone}"\n'


def run(command: list[str], env: dict[str, str], tmp: Path) -> str:
    out = subprocess.run(
        command, env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp), **env}, capture_output=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()


@settings(max_examples=40, deadline=None)
@given(args=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)))
def test_the_scripts_arguments_reach_it_word_for_word(args: list[str]) -> None:
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    command, env = launched(["/bin/sh", "/home/x/job.sh", *args], "/home/x/job.sh", SHOW)
    assert env == {SCRIPT_ENV: SHOW}
    assert run(command, env, tmp) == "|".join(["/dev/fd/9", str(len(args)), *args]) + "|gone"


def test_no_copy_is_left_behind_and_the_file_named_is_not_read(tmp_path: Path) -> None:
    command, env = launched(
        ["/bin/sh", str(tmp_path / "missing.sh"), "a"], str(tmp_path / "missing.sh"), SHOW
    )
    assert run(command, env, tmp_path) == "/dev/fd/9|1|a|gone"
    assert list(tmp_path.iterdir()) == []


def test_an_interpreter_with_its_argument_reads_the_copy(tmp_path: Path) -> None:
    text = "import sys\nprint(sys.argv[1:])\n"
    command, env = launched([sys.executable, "-u", "/x/job.py", "--lr", "3e-4"], "/x/job.py", text)
    assert run(command, env, tmp_path) == "['--lr', '3e-4']\n"


def test_a_temporary_directory_it_cannot_write_fails_the_job_at_once(tmp_path: Path) -> None:
    command, env = launched(["/bin/sh", "/x/job.sh"], "/x/job.sh", SHOW)
    out = subprocess.run(command, env={**env, "TMPDIR": str(tmp_path / "nowhere")})
    assert out.returncode == 125


def test_the_scripts_path_must_be_in_the_command() -> None:
    with pytest.raises(ValueError):
        launched(["/bin/sh", "/x/other.sh"], "/x/job.sh", SHOW)
