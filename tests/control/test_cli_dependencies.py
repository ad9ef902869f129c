"""Dependencies and array holds as a Slurm user types them, through the CLI against a real
`aitc serve` (8 virtual GPUs, the example lab, the local executor): afterok/afternotok/afterany,
after, `?` (any one), aftercorr between arrays, the reason in `aitc queue` and `aitc show`,
DependencyNeverSatisfied, the forms refused, `aitc hold ARRAY` and `aitc release ARRAY_TASK`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from server_proc import ServerProcess, wait_until
from test_cli_slurm_habits import aitc, ended, job, submitted


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("deps") / "var")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def submit(server: ServerProcess, *args: str) -> int:
    code, out, err = aitc(server, "submit", *args)
    assert code == 0, err
    return submitted(out)


def pending(server: ServerProcess, job_id: int) -> dict[str, Any]:
    """The job once the controller has written why it waits."""
    return dict(wait_until(lambda: job(server, job_id), lambda j: j["pending_reasons"], 30))


def test_afterok_afternotok_and_afterany_after_a_failure(server: ServerProcess) -> None:
    first = submit(server, "--", "sh", "-c", "sleep 1; exit 3")
    ok = submit(server, "--dependency", f"afterok:{first}", "--", "true")
    not_ok = submit(server, "-d", f"afternotok:{first}", "--", "true")
    any_ = submit(server, "-d", f"afterany:{first},afternotok:{first}", "--", "true")
    waiting = pending(server, ok)
    assert waiting["pending_reasons"][0]["code"] == "dependency"
    assert ended(server, first)["exit_code"] == 3
    assert ended(server, not_ok)["state"] == "completed"
    assert ended(server, any_)["state"] == "completed"
    cancelled = ended(server, ok)
    assert cancelled["state"] == "cancelled"
    assert cancelled["cause"].startswith(f"DependencyNeverSatisfied: job {first} ended failed")
    code, out, _ = aitc(server, "show", str(ok))
    assert f"afterok:{first}" in out and "DependencyNeverSatisfied" in out


def test_queue_and_show_say_which_job_is_waited_for(server: ServerProcess) -> None:
    first = submit(server, "--", "sleep", "30")
    second = submit(server, "-d", f"afterok:{first}", "--name", "next-step", "--", "true")
    message = f"It waits for job {first} to complete successfully (afterok)."
    assert pending(server, second)["pending_reasons"][0]["message"] == message
    code, out, _ = aitc(server, "queue")
    line = next(x for x in out.splitlines() if x.split()[:2] == [str(second), "next-step"])
    assert message in line
    code, out, _ = aitc(server, "show", str(second))
    assert f"waiting: {message}" in out
    aitc(server, "cancel", str(first))
    assert ended(server, second)["cause"].startswith(
        f"DependencyNeverSatisfied: job {first} ended cancelled"
    )


def test_a_bad_dependency_names_the_flag(server: ServerProcess) -> None:
    code, out, err = aitc(server, "submit", "-d", "afterok:999999", "--", "true")
    assert (code, out) == (2, "") and err.startswith("aitc: --dependency: ")
    assert "no job 999999" in err
    refused = {
        "befor:1": "unknown dependency type 'befor' (known: after, afterany, afterok, afternotok,",
        "expand:1": "'expand' is not supported",
        "afterok:1?afterany:1,singleton": "use ',' (every condition must hold) or '?'",
        "afterany:1+5": "+minutes is for after only (after:12+5), not afterany",
        "after:1+x": "+x: minutes must be a whole number from 1 to",
    }
    for text, why in refused.items():
        code, out, err = aitc(server, "submit", "-d", text, "--", "true")
        assert (code, out) == (2, ""), err
        assert err.startswith(f"aitc: --dependency: {why}"), err


def test_after_and_any_one_of_do_not_wait_for_the_end(server: ServerProcess) -> None:
    running = submit(server, "--", "sleep", "60")
    quick = submit(server, "--", "true")
    after = submit(server, "-d", f"after:{running}", "--", "true")
    either = submit(server, "-d", f"afterok:{running}?afterok:{quick}", "--", "true")
    assert ended(server, after)["state"] == "completed"
    assert ended(server, either)["state"] == "completed"
    assert job(server, running)["state"] == "running"
    assert job(server, either)["dependency"] == f"afterok:{running}?afterok:{quick}"
    aitc(server, "cancel", str(running))


def test_aftercorr_runs_each_task_after_its_own(server: ServerProcess) -> None:
    first = submit(server, "--array", "0-1", "--", "sh", "-c", "exit $AITC_ARRAY_TASK_ID")
    second = submit(server, "--array", "0-1", "-d", f"aftercorr:{first}", "--", "true")
    assert [job(server, second + t)["dependency"] for t in (0, 1)] == [
        f"aftercorr:{first}",
        f"aftercorr:{first + 1}",
    ]
    assert ended(server, second)["state"] == "completed"
    failed = ended(server, second + 1)
    assert failed["state"] == "cancelled"
    assert failed["cause"] == (
        f"DependencyNeverSatisfied: job {first + 1} ended failed, and aftercorr:{first + 1} "
        "needs it to complete"
    )


def test_hold_and_release_a_whole_array_or_one_task(server: ServerProcess) -> None:
    blocker = submit(server, "--", "sleep", "30")
    array = submit(server, "--array", "0-2", "-d", f"afterany:{blocker}", "--", "true")
    code, out, err = aitc(server, "hold", str(array))
    assert code == 0, err
    assert out.splitlines() == [f"job {array + t} ({array}_{t}): pending (held)" for t in range(3)]
    code, out, _ = aitc(server, "release", f"{array}_1")
    assert out.strip() == f"job {array + 1} ({array}_1): pending"
    aitc(server, "cancel", str(blocker))
    assert ended(server, array + 1)["state"] == "completed"
    tasks = [job(server, array + t) for t in (0, 2)]
    assert [(t["state"], t["held"]) for t in tasks] == [("pending", True)] * 2
    code, out, _ = aitc(server, "release", str(array))
    assert len(out.splitlines()) == 2
    assert [ended(server, array + t)["state"] for t in (0, 2)] == ["completed"] * 2
    code, _, err = aitc(server, "hold", f"{array}_7")
    assert code == 1 and err.startswith(f"aitc: task {array}_7: not found")
    code, _, err = aitc(server, "hold", str(array))
    assert code == 1 and "no task of array" in err and "is pending" in err
    code, _, err = aitc(server, "hold", "12_x")
    assert code == 2 and err.startswith("aitc: JOB_IDS: '12_x' is not a job, array or ARRAY_TASK")


def test_the_api_answers_dependency_in_json(server: ServerProcess) -> None:
    first = submit(server, "--hold", "--", "true")
    second = submit(server, "--hold", "-d", f"afterany:{first}", "--", "true")
    data = json.loads(aitc(server, "show", "--json", str(second))[1])
    assert data["dependency"] == f"afterany:{first}"
    for job_id in (second, first):
        aitc(server, "cancel", str(job_id))
