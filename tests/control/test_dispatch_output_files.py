"""Where an attempt's own files go: the pattern expanded once, at dispatch, for both executors;
truncated on the first attempt, appended on a requeued job's later ones."""

from __future__ import annotations

import pwd
from typing import Any

import pytest

from aitc.control.dispatch import exec_job, output_paths
from aitc.control.executors.slurm_cli.batch import output_args
from aitc.control.store import JobRow, JobSpec, placement_to_json
from aitc.domain.job import NodeAlloc, Placement
from aitc.errors import ExecutorError

WHERE = Placement((NodeAlloc("dgx07", (0, 1)), NodeAlloc("dgx08", (0, 1))))


def row(attempt: int = 1, array: tuple[int, int] | None = None, **spec: Any) -> JobRow:
    spec.setdefault("workdir", "/scratch/run")
    return JobRow(
        id=12,
        name="train",
        attempt=attempt,
        spec=JobSpec(command=("true",), **spec).to_json(),
        placement=placement_to_json(WHERE),
        array_job_id=array[0] if array else None,
        array_task_id=array[1] if array else None,
    )


def test_patterns_are_expanded_and_relative_paths_taken_from_the_workdir() -> None:
    job = row(output="logs/%x-%j-%N.out", error="/tmp/%u/%A_%a.err", array=(10, 2))
    assert output_paths(job, JobSpec.from_json(job.spec), "bklein") == (
        "/scratch/run/logs/train-12-dgx07.out",
        "/tmp/bklein/10_2.err",
    )


def test_stderr_goes_with_stdout_unless_it_has_its_own_file() -> None:
    job = row(output="out-%j")
    assert output_paths(job, JobSpec.from_json(job.spec), "bklein") == (
        "/scratch/run/out-12",
        "/scratch/run/out-12",
    )
    only_err = row(error="err-%j")
    assert output_paths(only_err, JobSpec.from_json(only_err.spec), "bklein") == (
        None,
        "/scratch/run/err-12",
    )
    none = row()
    assert output_paths(none, JobSpec.from_json(none.spec), "bklein") == (None, None)


def test_without_a_workdir_a_relative_path_is_taken_from_the_members_home() -> None:
    try:
        home = pwd.getpwnam("bklein").pw_dir
    except KeyError:
        pytest.skip("needs the Unix account bklein")
    job = row(output="out-%j", workdir=None)
    assert output_paths(job, JobSpec.from_json(job.spec), "bklein")[0] == f"{home}/out-12"


@pytest.mark.parametrize(
    ("attempt", "asked", "mode"),
    [
        (1, None, "truncate"),
        (2, None, "append"),
        (3, "truncate", "truncate"),
        (1, "append", "append"),
    ],
)
def test_a_requeued_job_appends_to_its_earlier_output(
    attempt: int, asked: str | None, mode: str
) -> None:
    job = row(attempt=attempt, output="out", open_mode=asked)
    job.stdout_path = job.stderr_path = "/scratch/run/out"
    ex = exec_job(job, "bklein")
    assert (ex.own_stdout, ex.own_stderr, ex.open_mode) == (True, True, mode)
    assert ex.stdout_path == ex.stderr_path == "/scratch/run/out"


def test_a_job_without_files_of_its_own_writes_the_servers_logs() -> None:
    ex = exec_job(row(error="err"), "bklein")
    assert (ex.own_stdout, ex.own_stderr) == (False, True)


def test_sbatch_gets_the_expanded_paths_for_slurm_to_expand_nothing_more() -> None:
    job = exec_job(row(attempt=2, output="100%%-%j"), "bklein")
    out = "/scratch/run/100%-12"
    assert output_args(job, out, out) == [
        "--output=/scratch/run/100%%-12",
        "--open-mode=append",
    ]
    servers = exec_job(row(), "bklein")
    assert output_args(servers, "/l/1.out", "/l/1.err") == ["--output=/l/1.out", "--error=/l/1.err"]
    with pytest.raises(ExecutorError, match="drops the backslash"):
        output_args(job, "/scratch/a\\b", "/scratch/a\\b")
