"""Log files are served only when they are what they claim (a regular file of the job's member
or of the server, never through a link), and follow streams hold no database connection while
they wait and are capped per member."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import Api
from fastapi.testclient import TestClient

from aitc.control.api import Settings, create_app
from aitc.control.store import JobRow, MemberRow, transition
from aitc.domain.job import JobState

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def _running_job(api: Api, out: Path) -> int:
    job_id = int(api.submit("alice")["id"])  # type: ignore[call-overload]
    with api.store.session() as s:
        job = s.get_one(JobRow, job_id)
        transition(session=s, job=job, to=JobState.RUNNING, cause="started", now=api.clock.now())
        job.stdout_path, job.stderr_path = str(out), str(out) + ".err"
    return job_id


def _logs(api: Api, job_id: int, **params: str) -> tuple[int, str]:
    r = api.client.get(f"/api/v1/jobs/{job_id}/logs", params=params, headers=api.auth("alice"))
    return r.status_code, r.text


def test_a_symbolic_link_is_not_followed(api: Api, tmp_path: Path) -> None:
    secret = tmp_path / "server-secret"
    secret.write_text("do not show")
    link = tmp_path / "out"
    link.symlink_to(secret)
    code, text = _logs(api, _running_job(api, link))
    assert code == 403 and "symbolic link" in text and "do not show" not in text


def test_a_fifo_is_refused_without_hanging(api: Api, tmp_path: Path) -> None:
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    code, text = _logs(api, _running_job(api, fifo), follow="true")
    assert code == 403 and "not a regular file" in text


def test_a_file_of_another_user_is_refused(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("someone else's data")
    os.chown(out, 4242, 4242)
    code, text = _logs(api, _running_job(api, out))
    assert code == 403 and "owned by uid 4242" in text and "someone" not in text


def test_a_file_of_the_jobs_member_or_of_the_server_is_served(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("mine\n")
    job_id = _running_job(api, out)
    assert _logs(api, job_id) == (200, "mine\n")  # the server's own file
    with api.store.session() as s:
        s.get_one(MemberRow, "alice").unix_user = "nobody"
    os.chown(out, 65534, 65534)  # nobody's
    assert _logs(api, job_id) == (200, "mine\n")


def test_follow_streams_hold_no_connection_and_are_capped_per_member(
    api: Api, tmp_path: Path
) -> None:
    app = create_app(
        Settings(store=api.store, clock=api.clock, follow_poll_s=0.02, max_follows_per_member=3)
    )
    out = tmp_path / "out"
    out.write_text("")
    job_id = _running_job(api, out)
    url = f"/api/v1/jobs/{job_id}/logs"
    with TestClient(app) as client, ExitStack() as streams:
        for _ in range(3):
            r = streams.enter_context(
                client.stream("GET", url, params={"follow": "true"}, headers=api.auth("alice"))
            )
            assert r.status_code == 200
        time.sleep(0.2)  # the streams wait for output
        assert api.store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        fourth = client.get(url, params={"follow": "true"}, headers=api.auth("alice"))
        assert fourth.status_code == 429 and "max_follows_per_member=3" in fourth.text
        assert int(fourth.headers["Retry-After"]) >= 1
        other = client.get("/api/v1/jobs", headers=api.auth("bob"))
        assert other.status_code == 200  # another member is unaffected
    assert app.state.follow_slots.open("alice") == 0  # closed streams gave their slots back
