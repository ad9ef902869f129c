"""Notebooks through the API (``POST /notebooks``): a member's Jupyter server as a job of
theirs, run by the server's command on a port the server allocates from the labs' range, never
one a live lab or another notebook holds; its token is a secret, and its URL is its member's
and admins' only. The jobs stay pending here (no controller); the real run is
tests/control/test_notebook_on_serve.py."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
)
from sqlalchemy import select
from test_labs_api import keeper, started_session

from aitc.control.courses.labs import LabSettings
from aitc.control.store.models import CourseLabRow, JobRow
from aitc.control.store.specs import placement_to_json
from aitc.domain.job import NodeAlloc, Placement

PORTS = (28100, 28199)


def test_notebooks_and_labs_never_share_a_port(course_api: CourseApi) -> None:
    course_api.client.app.state.lab_settings = LabSettings(ports=PORTS)  # type: ignore[attr-defined]
    started_session(course_api)
    course_api.clock.advance(2 * DAY)
    notebook = course_api.ok("alice", "POST", "/notebooks", {"gpus": 1, "time_limit": 600})
    assert len(keeper(course_api).step().started) == 2  # the labs start after it
    second = course_api.ok("erin", "POST", "/notebooks", {"mig": "1g.10gb", "name": "nb"})
    with course_api.store.session() as s:
        lab_ports = set(s.scalars(select(CourseLabRow.port)))
        job = s.get(JobRow, notebook["id"])
        assert job is not None and job.member_id == "alice" and job.gpus == 1
        assert job.spec["command"][1:3] == ["-m", "jupyter_server"]
        assert job.spec["env"]["JUPYTER_PORT"] == str(notebook["notebook_port"])
    ports = [notebook["notebook_port"], second["notebook_port"], *lab_ports]
    assert len(set(ports)) == 4 and all(PORTS[0] <= p <= PORTS[1] for p in ports)
    assert (second["name"], second["mig"], notebook["name"]) == ("nb", "1g.10gb", "notebook")
    # An ended notebook gives its port back; a live one keeps it.
    course_api.ok("alice", "POST", f"/jobs/{notebook['id']}/cancel")
    third = course_api.ok("alice", "POST", "/notebooks", {})
    assert third["notebook_port"] == notebook["notebook_port"]
    assert third["notebook_port"] not in (second["notebook_port"], *lab_ports)


def test_the_token_and_url_are_its_members_and_admins_only(course_api: CourseApi) -> None:
    made = course_api.ok("alice", "POST", "/notebooks", {"time_limit": 600})
    token = made["env"]["JUPYTER_TOKEN"]
    assert len(token) >= 24 and made["notebook_url"] is None  # not placed yet
    with course_api.store.session() as s:  # as the controller records its start
        job = s.get(JobRow, made["id"])
        assert job is not None
        job.state = "running"
        job.placement = placement_to_json(Placement((NodeAlloc("node7", (0,)),)))
    url = f"http://127.0.0.1:{made['notebook_port']}/?token={token}"
    for member in ("alice", "admin"):
        shown = course_api.ok(member, "GET", f"/jobs/{made['id']}")
        assert (shown["notebook_url"], shown["env"]["JUPYTER_TOKEN"]) == (url, token)
    other = course_api.ok("erin", "GET", f"/jobs/{made['id']}")  # same project: may see it
    assert other["notebook_url"] is None and other["env"]["JUPYTER_TOKEN"] == "***"
    assert other["notebook_port"] == made["notebook_port"]
    listed = course_api.ok("erin", "GET", "/jobs")["data"]
    assert token not in str(listed)


def test_the_server_picks_the_command(course_api: CourseApi) -> None:
    r = course_api.call("alice", "POST", "/notebooks", {"command": ["sh"]})
    assert r.status_code == 422
    r = course_api.call("alice", "POST", "/notebooks", {"gpus": 1, "mig": "1g.10gb"})
    assert r.status_code == 422 and "not both" in r.text


def test_a_retry_with_its_idempotency_key_finds_the_same_notebook(course_api: CourseApi) -> None:
    course_api.client.app.state.lab_settings = LabSettings(ports=PORTS)  # type: ignore[attr-defined]

    def start(body: dict[str, object], key: str = "nb-1") -> object:
        headers = {"Authorization": f"Bearer {course_api.tokens['alice']}", "Idempotency-Key": key}
        return course_api.client.post("/api/v1/notebooks", json=body, headers=headers)

    first = start({"gpus": 1, "time_limit": 600})
    assert first.status_code == 201, first.text
    again = start({"gpus": 1, "time_limit": 600})  # a retry: same port, same token, no new job
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["env"]["JUPYTER_TOKEN"] == first.json()["env"]["JUPYTER_TOKEN"]
    other = start({"gpus": 2, "time_limit": 600})  # the key with another request
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    job = course_api.client.post(
        "/api/v1/jobs",
        json={"command": ["true"]},
        headers={
            "Authorization": f"Bearer {course_api.tokens['alice']}",
            "Idempotency-Key": "job-1",
        },
    )
    assert job.status_code == 201
    assert start({"gpus": 1}, key="job-1").status_code == 409  # a job's key, not a notebook's
    with course_api.store.session() as s:
        assert len(s.scalars(select(JobRow)).all()) == 2


def test_an_interpreter_the_members_account_cannot_run_is_refused_at_once(
    course_api: CourseApi,
) -> None:
    from aitc.control.accounts import resolve, why_cannot_run
    from aitc.control.store.models import MemberRow

    bklein = resolve("bklein")
    assert bklein is not None  # a real account of this machine (tests/security makes it)
    base = Path(tempfile.mkdtemp(prefix="aitc-nb-"))  # in /tmp, which every account may enter
    try:
        base.chmod(0o755)
        closed = base / "closed"
        (closed / "bin").mkdir(parents=True)
        python = closed / "bin" / "python"
        python.write_text("#!/bin/sh\n")
        python.chmod(0o755)
        assert why_cannot_run(str(python), bklein) is None
        python.chmod(0o744)  # readable, not executable by others
        assert why_cannot_run(str(python), bklein) == f"the file {python} is closed to bklein"
        python.chmod(0o755)
        closed.chmod(0o700)  # root's: bklein may not enter
        assert why_cannot_run(str(python), bklein) == f"the directory {closed} is closed to bklein"

        settings = LabSettings(ports=PORTS, python=str(python))
        course_api.client.app.state.lab_settings = settings  # type: ignore[attr-defined]
        with course_api.store.session() as s:
            member = s.get(MemberRow, "alice")
            assert member is not None
            member.unix_user = "bklein"
        r = course_api.call("alice", "POST", "/notebooks", {"gpus": 1})
        assert r.status_code == 409
        assert r.json()["detail"] == (
            f"this server's notebook interpreter {python} cannot be run by bklein (the "
            f"directory {closed} is closed to bklein): its operator names one members can run "
            "with aitc serve --lab-python"
        )
        with course_api.store.session() as s:
            assert s.scalars(select(JobRow)).all() == []  # nothing started
    finally:
        shutil.rmtree(base)
