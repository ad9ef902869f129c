"""Logs come from the files the executor writes; follow streams until the job ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from conftest import Api

from aitc.control.store import JobRow, transition
from aitc.domain.job import JobState


def _start(api: Api, job_id: int, tmp: Path) -> tuple[Path, Path]:
    out, err = tmp / f"{job_id}.out", tmp / f"{job_id}.err"
    out.write_bytes(b"")
    err.write_bytes(b"warning\n")
    with api.store.session() as s:
        job = s.get_one(JobRow, job_id)
        transition(session=s, job=job, to=JobState.RUNNING, cause="started", now=api.clock.now())
        job.stdout_path, job.stderr_path = str(out), str(err)
    return out, err


def _end(api: Api, job_id: int) -> None:
    with api.store.session() as s:
        transition(
            session=s,
            job=s.get_one(JobRow, job_id),
            to=JobState.COMPLETED,
            cause="exited",
            now=api.clock.now(),
            exit_code=0,
        )


def test_logs_of_a_job_not_started_are_empty(api: Api) -> None:
    job = api.submit("alice")
    r = api.client.get(f"/api/v1/jobs/{job['id']}/logs", headers=api.auth("alice"))
    assert (r.status_code, r.text) == (200, "")


def test_logs_read_stdout_stderr_and_from_an_offset(api: Api, tmp_path: Path) -> None:
    job_id = int(api.submit("alice")["id"])  # type: ignore[call-overload]
    out, _ = _start(api, job_id, tmp_path)
    out.write_bytes(b"hello\nworld\n\xff\n")
    url = f"/api/v1/jobs/{job_id}/logs"
    assert api.client.get(url, headers=api.auth("alice")).text == "hello\nworld\n\ufffd\n"
    r = api.client.get(url, params={"offset": 6}, headers=api.auth("alice"))
    assert r.text.startswith("world")
    r = api.client.get(url, params={"stream": "stderr"}, headers=api.auth("alice"))
    assert r.text == "warning\n"


def test_follow_streams_new_output_until_the_job_ends(api: Api, tmp_path: Path) -> None:
    job_id = int(api.submit("alice")["id"])  # type: ignore[call-overload]
    out, _ = _start(api, job_id, tmp_path)

    def write_then_end() -> None:
        for line in (b"one\n", b"two\n", b"three\n"):
            time.sleep(0.05)
            with out.open("ab") as f:
                f.write(line)
        time.sleep(0.05)
        _end(api, job_id)

    writer = threading.Thread(target=write_then_end)
    writer.start()
    with api.client.stream(
        "GET", f"/api/v1/jobs/{job_id}/logs", params={"follow": "true"}, headers=api.auth("alice")
    ) as r:
        text = "".join(r.iter_text())
    writer.join()
    assert text == "one\ntwo\nthree\n"
