"""End to end with real parts: a session of MIG seats on two virtual H100s, each learner's lab
a real Jupyter server run as the learner's Unix user on their seat; attendance when a learner
first reaches it, a no-show's seat to the first waitlisted learner, an idle lab warned then
stopped, the assessment command deciding passed or failed as the learner, and the passed
learners' credentials verifying. Time is a ``FakeClock`` (short limits: 1 min no-show, 3 min
idle with a 1 min warning); only the processes take real time."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lab_rig import DAY, LEARNERS, LabRig, ensure_learners, home

from aitc.control.courses.credentials import verify
from aitc.control.store.models import JobRow
from aitc.control.store.specs import placement_from_json

ANSWER = 'test "$(cat answer.txt)" = 42'  # the assessment, run in the learner's home


@pytest.fixture(scope="module")
def rig() -> Iterator[LabRig]:
    if os.geteuid() != 0:
        pytest.skip("learner labs run as the learners' Unix users: needs root (CI runs as root)")
    ensure_learners()
    for m in LEARNERS:
        home(m).joinpath("answer.txt").unlink(missing_ok=True)  # a previous run's work
    base = Path(tempfile.mkdtemp(prefix="aitc-labs-"))
    base.chmod(0o755)  # learners run the lab interpreter kept here
    try:
        rig = LabRig(base)
        try:
            yield rig
        finally:
            rig.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def lab_of(rig: LabRig, sid: int, member: str) -> dict[str, Any]:
    return dict(rig.ok(member, "GET", f"/course-sessions/{sid}/lab"))


def split(url: str) -> tuple[str, str]:
    """The lab's base URL and its token, from its connect URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parse_qs(parts.query)["token"][0]


def jupyter(url: str, token: str, path: str = "/api/status", **kw: Any) -> httpx.Response:
    method = kw.pop("method", "GET")
    headers = {"Authorization": f"token {token}"}
    return httpx.request(method, f"{url}{path}", headers=headers, timeout=10, **kw)


def labs_by_member(rig: LabRig, sid: int) -> dict[str, dict[str, Any]]:
    data = rig.ok("carol", "GET", f"/course-sessions/{sid}/labs")["data"]
    return {lab["member"]: lab for lab in data}  # the latest lab of each


def states(rig: LabRig, sid: int) -> dict[str, str]:
    data = rig.ok("carol", "GET", f"/course-sessions/{sid}/enrolments")["data"]
    return {e["member"]: e["state"] for e in data}


def test_a_session_of_real_labs_from_start_to_certificates(rig: LabRig) -> None:
    # a course of 4 MIG seats, a session tomorrow, six learners on the roster
    rig.ok("admin", "POST", "/courses", {
        "id": "intro", "title": "Intro to DL", "org": "school", "seats": 4,
        "mig_profile": "1g.10gb", "assessment_command": ["sh", "-c", ANSWER],
        "no_show_min": 1, "idle_limit_min": 3, "idle_warning_min": 1,
    })  # fmt: skip
    rig.ok("admin", "POST", "/courses/intro/instructors", {"member": "carol"})
    start = rig.clock.now() + DAY
    made = rig.ok("carol", "POST", "/course-sessions", {
        "course": "intro", "start": iso(start), "end": iso(start + 3 * 3600), "waitlist": 2,
    })  # fmt: skip
    sid = made["id"]
    rig.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": list(LEARNERS)})
    seated = LEARNERS[:4]

    # at the start every seated learner's lab starts on their seat and answers
    rig.clock.advance(DAY)
    rig.until(lambda: all(lab["state"] == "ready" for lab in labs_by_member(rig, sid).values())
              and len(labs_by_member(rig, sid)) == 4)  # fmt: skip
    listed = rig.call("carol", "GET", f"/course-sessions/{sid}/labs")
    assert all(lab["url"] is None for lab in listed.json()["data"])  # no token for others
    assert rig.call("learner1", "GET", f"/course-sessions/{sid}/labs").status_code == 403
    urls = {m: split(lab_of(rig, sid, m)["url"]) for m in seated}
    assert len({token for _, token in urls.values()}) == 4
    assert all(token not in listed.text for _, token in urls.values())
    with rig.store.session() as s:
        slices = set()
        for lab in labs_by_member(rig, sid).values():
            job = s.get(JobRow, lab["job"])
            assert job is not None and (job.member_id, job.org_id) == (lab["member"], "school")
            (alloc,) = placement_from_json(job.placement or {}).allocs
            assert alloc.node == "node0" and alloc.mig is not None
            assert alloc.mig.profile == "1g.10gb"
            slices.add((alloc.mig.gpu, alloc.mig.start))
        assert len(slices) == 4  # one seat each

    # each lab answers its learner's token and refuses another learner's
    for i, m in enumerate(seated):
        url, token = urls[m]
        other = urls[seated[(i + 1) % 4]][1]
        assert jupyter(url, token).status_code == 200
        assert jupyter(url, other).status_code == 403
    # three learners work in their labs (learner4 never comes); files are theirs
    for m, answer in (("learner1", "42"), ("learner2", "42"), ("learner3", "41")):
        url, token = urls[m]
        body = {"type": "file", "format": "text", "content": answer}
        assert jupyter(url, token, "/api/contents/answer.txt", method="PUT", json=body).is_success
    assert home("learner1").joinpath("answer.txt").stat().st_uid == os.stat(home("learner1")).st_uid
    rig.turn()
    assert states(rig, sid) == {
        "learner1": "attended", "learner2": "attended", "learner3": "attended",
        "learner4": "enrolled", "learner5": "waitlisted", "learner6": "waitlisted",
    }  # fmt: skip

    def work(*members: str) -> None:
        for m in members:
            url, token = urls[m]
            assert jupyter(url, token, "/api/contents").status_code == 200

    # after the no-show minute learner4's seat goes to learner5, whose lab starts
    rig.clock.advance(61)
    work("learner1", "learner2")
    rig.turn()
    gone = [lab for lab in rig.ok("carol", "GET", f"/course-sessions/{sid}/labs")["data"]
            if lab["member"] == "learner4"]  # fmt: skip
    assert gone[0]["state"] == "stopped"
    assert gone[0]["stop_reason"].startswith("no-show:") and "learner5" in gone[0]["stop_reason"]
    assert (
        states(rig, sid)["learner4"] == "cancelled" and states(rig, sid)["learner5"] == "enrolled"
    )
    assert states(rig, sid)["learner6"] == "waitlisted"
    rig.until(lambda: labs_by_member(rig, sid)["learner5"]["state"] == "ready")
    urls["learner5"] = split(lab_of(rig, sid, "learner5")["url"])
    assert jupyter(*urls["learner5"]).status_code == 200
    assert jupyter(urls["learner5"][0], urls["learner1"][1]).status_code == 403
    work("learner5")

    # learner3 reached the lab but does nothing: warned at 2 idle minutes, stopped at 3
    rig.clock.advance(64)  # 125 s after the start
    work("learner1", "learner2", "learner5")
    rig.turn()
    warned = labs_by_member(rig, sid)["learner3"]
    assert warned["state"] == "warned" and warned["stops_at"] is not None
    assert {labs_by_member(rig, sid)[m]["state"] for m in ("learner1", "learner2", "learner5")} == {
        "ready"
    }
    rig.clock.advance(60)
    work("learner1", "learner2", "learner5")
    rig.turn()
    idle = labs_by_member(rig, sid)["learner3"]
    assert idle["state"] == "stopped" and idle["stop_reason"].startswith("idle:")

    # the instructor assesses everyone on a seat: the command, as each learner, decides
    runs = rig.ok("carol", "POST", f"/course-sessions/{sid}/assessments", {})
    assert sorted(r["member"] for r in runs["data"]) == ["learner1", "learner2", "learner3",
                                                         "learner5"]  # fmt: skip

    def assessed() -> dict[str, str] | None:
        data = rig.ok("carol", "GET", f"/course-sessions/{sid}/assessments")["data"]
        done = {r["member"]: r["state"] for r in data}
        return done if "running" not in done.values() else None

    assert rig.until(assessed) == {
        "learner1": "passed", "learner2": "passed", "learner3": "failed", "learner5": "failed"
    }  # fmt: skip
    assert states(rig, sid) == {
        "learner1": "passed", "learner2": "passed", "learner3": "failed",
        "learner4": "cancelled", "learner5": "failed", "learner6": "waitlisted",
    }  # fmt: skip
    assert labs_by_member(rig, sid)["learner1"]["stop_reason"].startswith("assessment:")

    # the passed learners' credentials verify
    issued = rig.ok("carol", "POST", f"/course-sessions/{sid}/certificates")
    assert issued["count"] == 2
    for credential in issued["data"]:
        assert verify(credential, now=rig.clock.now()) is None
    assert rig.ok("learner1", "GET", f"/course-sessions/{sid}/certificates")["count"] == 1
