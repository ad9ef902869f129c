"""The workshop end to end on a real ``aitc serve``, on the wall clock, as its people use it.

``aitc serve`` runs as root (SQLite, the local executor) on two virtual H100s, whose MIG
layouts it declares (``--virtual-gpus 2 --virtual-model H100-80GB``). Everyone acts with their
own token, through ``aitc`` commands (run as programs) and the REST API: an admin creates the
course (seats of ``1g.10gb``, its assessment command, a no-show limit of half a minute) and
certifies two instructors, one whose certification has expired; the certified one creates a
session of 14 seats starting 45 s later; a researcher's preemptible job takes both GPUs before
the window; 16 learners (real Unix users) enrol, the last two waitlisted. At the start the job
is preempted and every seated learner's lab, a real Jupyter server run as the learner on their
slice, answers its learner's token and refuses another's; thirteen learners work in theirs,
one never comes and loses the seat to the first waitlisted learner; the assessment passes for
some and fails for others; the passed learners' credentials verify; a tampered credential, a
revoked one and the expired instructor are each refused with the reason.

Needs root (Unix users, jobs run as them), as CI has; about two and a half minutes of wall
time on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lab_rig import RESEARCHER, account, ensure_learners, home, lab_python

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))

from server_proc import ServerProcess  # noqa: E402

T = TypeVar("T")
AITC = str(Path(sys.executable).with_name("aitc"))
LEARNERS = tuple(f"learner{i}" for i in range(1, 17))
SEATS = 14
NO_SHOW = "learner14"  # seated, never comes
FIRST_WAITING, LAST_WAITING = "learner15", "learner16"
WRONG = ("learner11", "learner12", "learner13")  # save a wrong answer
LEAD_S = 45.0  # from creating the session to its start
NO_SHOW_MIN = 0.5
ANSWER = "sh -c 'test \"$(cat answer.txt)\" = 42'"


def lab_yaml() -> str:
    people = [
        "  - {id: carol, name: Carol, email: carol@uni.example, organisation: uni, "
        "role: instructor, projects: []}",
        "  - {id: dave, name: Dave, email: dave@uni.example, organisation: uni, "
        "role: instructor, projects: []}",
        f"  - {{id: {RESEARCHER}, name: Rhea, email: rhea@uni.example, organisation: uni, "
        f"role: member, projects: [vision], unix_user: {account(RESEARCHER)}}}",
        *(
            f"  - {{id: {m}, name: {m.title()}, email: {m}@school.example, organisation: school, "
            f"role: learner, projects: [course], unix_user: {account(m)}}}"
            for m in LEARNERS
        ),
    ]
    return (
        "name: serve-labs\n"
        "cluster: {reference_architecture: dgx-h100-superpod, sus: 1}\n"
        "policy: {name: fairshare}\n"
        "organisations:\n"
        "  - {id: school, name: School, kind: education, share: 1, "
        "projects: [{id: course, name: Course}]}\n"
        "  - {id: uni, name: University, kind: research, share: 2, "
        "projects: [{id: vision, name: Vision}]}\n"
        "members:\n" + "\n".join(people) + "\n"
    )


@dataclass
class Lab:
    """The running server and everyone's tokens."""

    server: ServerProcess
    tokens: dict[str, str]
    base: Path

    def api(self, member: str, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[member]}"}
        url = f"{self.server.url}/api/v1{path}"
        return httpx.request(method, url, json=body, headers=headers, timeout=30)

    def ok(self, member: str, method: str, path: str, body: Any = None) -> Any:
        r = self.api(member, method, path, body)
        assert r.status_code in (200, 201), f"{method} {path} as {member}: {r.text}"
        return r.json()

    def aitc(self, member: str, *args: str, timeout: float = 120) -> tuple[int, str, str]:
        """``aitc ARGS`` as a program, with ``member``'s token."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AITC_URL": self.server.url,
            "AITC_TOKEN": self.tokens[member],
            "XDG_CONFIG_HOME": str(self.base / "no-config"),
            "COLUMNS": "200",
        }
        done = subprocess.run(
            [AITC, *args], capture_output=True, text=True, env=env, timeout=timeout
        )
        # the transcript, shown when the test fails (and with -s)
        print(f"$ aitc {shlex.join(args)}   # as {member}\n{done.stdout}{done.stderr}", end="")
        return done.returncode, done.stdout, done.stderr

    def ok_aitc(self, member: str, *args: str, timeout: float = 120) -> str:
        code, out, err = self.aitc(member, *args, timeout=timeout)
        assert code == 0, f"aitc {' '.join(args)} as {member}: exit {code}\n{out}{err}"
        return out


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("learner labs run as the learners' Unix users: needs root (CI runs as root)")
    ensure_learners(LEARNERS)
    for m in LEARNERS:
        home(m).joinpath("answer.txt").unlink(missing_ok=True)  # a previous run's work
    base = Path(tempfile.mkdtemp(prefix="aitc-serve-labs-"))
    base.chmod(0o755)  # learners run the lab interpreter kept here
    (base / "lab.yaml").write_text(lab_yaml())
    first = random.randrange(20000, 29000, 100)  # apart from another run's labs
    server = ServerProcess(
        base / "state",
        gpus=2,
        lab=base / "lab.yaml",
        extra=(
            "--virtual-model", "H100-80GB",
            "--lab-python", lab_python(base),
            "--lab-ports", f"{first}-{first + 99}",
        ),
    )  # fmt: skip
    try:
        server.start()
        assert server.token is not None
        tokens = {"admin": server.token}
        running = Lab(server, tokens, base)
        for m in ("carol", "dave", RESEARCHER, *LEARNERS):
            tokens[m] = running.ok("admin", "POST", "/tokens", {"member": m, "name": "e2e"})[
                "token"
            ]
        yield running
    finally:
        stop_everything(server, base / "state")
        shutil.rmtree(base, ignore_errors=True)


def stop_everything(server: ServerProcess, state: Path) -> None:
    """Cancel every job through the API, stop the server, then kill whatever a job left (by
    the pids in the executor's attempt records), so nothing outlives the test."""
    with contextlib.suppress(httpx.HTTPError, AssertionError), server.client() as c:
        for state_name in ("pending", "starting", "running"):
            for job in c.get("/jobs", params={"state": state_name, "limit": 500}).json()["data"]:
                c.post(f"/jobs/{job['id']}/cancel")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            live = c.get("/jobs", params={"state": "running"}).json()["count"]
            if not live:
                break
            time.sleep(0.5)
    try:
        server.kill(signal.SIGTERM)
    except subprocess.TimeoutExpired:
        server.kill()
    for record in ("child.json", "supervisor.json"):
        for path in state.glob(f"local/attempts/*/{record}"):
            with contextlib.suppress(ProcessLookupError, ValueError, KeyError, OSError):
                pid = json.loads(path.read_text())["pid"]
                if record == "child.json":
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)


# -- small helpers --------------------------------------------------------------------------


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def until(what: Callable[[], T], timeout: float, why: str) -> T:
    """Ask ``what()`` until it is truthy (real processes take real time)."""
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {timeout:.0f} s: {why}")
        time.sleep(0.3)


def split(url: str) -> tuple[str, str]:
    """A connect URL's base and its token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parse_qs(parts.query)["token"][0]


def jupyter(base: str, token: str, path: str = "/api/status", **kw: Any) -> httpx.Response:
    """A Jupyter client's request to a lab with the token its connect URL carries."""
    method = kw.pop("method", "GET")
    url = f"{base}{path}"
    return httpx.request(method, url, params={"token": token}, timeout=10, trust_env=False, **kw)


def answers(base: str, token: str) -> bool:
    """Whether a lab answers at all (a stopped one no longer listens)."""
    try:
        return jupyter(base, token).status_code == 200
    except httpx.TransportError:
        return False


def save_answer(base: str, token: str, answer: str) -> None:
    body = {"type": "file", "format": "text", "content": answer}
    r = jupyter(base, token, "/api/contents/answer.txt", method="PUT", json=body)
    assert r.is_success, r.text


def enrolments(lab: Lab, sid: int) -> dict[str, str]:
    data = lab.ok("carol", "GET", f"/course-sessions/{sid}/enrolments")["data"]
    return {e["member"]: e["state"] for e in data}


def labs_of(lab: Lab, sid: int) -> dict[str, dict[str, Any]]:
    """Each learner's latest lab, as the instructor sees them (no tokens)."""
    return {x["member"]: x for x in lab.ok("carol", "GET", f"/course-sessions/{sid}/labs")["data"]}


def job(lab: Lab, job_id: int) -> dict[str, Any]:
    return dict(lab.ok("admin", "GET", f"/jobs/{job_id}"))


def events(lab: Lab, job_id: int) -> list[dict[str, Any]]:
    return list(lab.ok("admin", "GET", f"/jobs/{job_id}/events")["data"])


# -- the workshop ---------------------------------------------------------------------------


def test_a_workshop_on_aitc_serve_from_certification_to_verified_credentials(lab: Lab) -> None:
    creds = lab.base / "creds"
    yesterday = datetime.fromtimestamp(time.time() - 86400, UTC).date().isoformat()

    # the admin: a course of 14 seats of 1g.10gb, a certified instructor and an expired one
    out = lab.ok_aitc(
        "admin", "course", "create", "intro", "--title", "Intro to deep learning",
        "--org", "school", "--mig-profile", "1g.10gb", "--seats", str(SEATS), "--hours", "3",
        "--criteria", "Saves the answer 42 in the lab", "--assessment-command", ANSWER,
        "--no-show-min", str(NO_SHOW_MIN), "--assessment-limit-min", "2",
    )  # fmt: skip
    assert out.strip() == "course intro: Intro to deep learning, seats of mig 1g.10gb"
    lab.ok_aitc("admin", "course", "instructor", "intro", "carol")
    lab.ok_aitc("admin", "course", "instructor", "intro", "dave", "--expires", yesterday)
    nodes = lab.ok("admin", "GET", "/nodes")["data"]
    assert [(n["name"], n["gpus"], n["gpu_model"]) for n in nodes] == [("node0", 2, "H100-80GB")]

    # the expired instructor is refused with the reason; nothing is stored
    start = math.ceil(time.time() + LEAD_S)
    window = ("--start", iso(start), "--end", iso(start + 3600), "--seats", str(SEATS))
    code, out, err = lab.aitc("dave", "course", "session", "create", "intro", *window)
    assert code != 0 and out == ""
    assert err.strip() == (
        f"aitc: --instructor: dave's certification for intro expired: it was valid through "
        f"{yesterday}; renew it first"
    )
    assert lab.ok("carol", "GET", "/course-sessions")["count"] == 0

    # the certified instructor creates the session: its seats are reserved on both GPUs
    out = lab.ok_aitc("carol", "course", "session", "create", "intro", *window, "--waitlist", "2")
    assert out.startswith("session ") and f" of intro: {SEATS} seats reserved" in out
    sid = int(out.split()[1])

    # a researcher's preemptible job takes both GPUs before the window
    out = lab.ok_aitc(
        RESEARCHER, "submit", "--gpus", "2", "--priority", "preemptible", "-J", "research",
        "-D", str(home(RESEARCHER)), "--", "sleep", "3600",
    )  # fmt: skip
    assert out.startswith("submitted job ") and out.strip().endswith("to project vision")
    research = int(out.split()[2])

    # 16 learners enrol themselves: 14 at once take the seats, the next two are waitlisted
    with ThreadPoolExecutor(SEATS) as pool:
        said = list(
            pool.map(lambda m: lab.ok_aitc(m, "course", "enrol", str(sid)), LEARNERS[:SEATS])
        )
    said += [lab.ok_aitc(m, "course", "enrol", str(sid)) for m in LEARNERS[SEATS:]]
    assert [line.strip() for line in said] == [
        f"{m}: enrolled in session {sid}" for m in LEARNERS[:SEATS]
    ] + [f"{m}: waitlisted in session {sid}" for m in LEARNERS[SEATS:]]
    ran = until(lambda: job(lab, research)["state"] == "running" and job(lab, research), 30,
                "the research job to run")  # fmt: skip
    assert {(a["node"], tuple(a["gpus"]), a["mig"]) for a in ran["placement"]} == {
        ("node0", (0, 1), None)
    }
    assert epoch(ran["started_at"]) < start, "enrolment took the whole lead: raise LEAD_S"
    code, _, err = lab.aitc("learner1", "course", "lab", str(sid))
    assert code == 1 and "you have no lab in session" in err  # not before the start

    # at the start: the research job is preempted, and each seated learner's lab starts
    seated = set(LEARNERS[:SEATS])
    urls: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + LEAD_S + 180
    while set(urls) != seated:  # each learner connects as soon as their lab answers
        for m, x in labs_of(lab, sid).items():
            if m in urls or x["state"] != "ready":
                continue
            mine = lab.ok(m, "GET", f"/course-sessions/{sid}/lab")
            urls[m] = split(mine["url"])
            assert httpx.get(mine["url"], timeout=10, trust_env=False).status_code == 200
            if m != NO_SHOW:
                save_answer(*urls[m], "41" if m in WRONG else "42")
        assert time.monotonic() < deadline, f"only these labs answer: {sorted(urls)}"
        time.sleep(0.3)
    assert time.time() >= start
    research_events = events(lab, research)
    preempted = [e for e in research_events if e["to_state"] == "pending" and e["from_state"]]
    assert len(preempted) == 1 and "preempt" in preempted[0]["cause"]
    assert epoch(preempted[0]["at"]) >= start  # not a moment before the window
    assert job(lab, research)["state"] == "pending"  # the seats are the session's now

    slices = set()
    for m, x in labs_of(lab, sid).items():
        lab_job = job(lab, x["job"])
        assert (lab_job["member"], lab_job["organisation"]) == (m, "school")
        (alloc,) = lab_job["placement"]
        gpu, profile, first = alloc["mig"].split(":")
        assert (alloc["node"], profile) == ("node0", "1g.10gb")
        slices.add((int(gpu), int(first)))
        running = [e for e in events(lab, x["job"]) if e["to_state"] == "running"]
        assert epoch(running[0]["at"]) >= epoch(preempted[0]["at"])  # after the job left
    assert len(slices) == SEATS and {g for g, _ in slices} == {0, 1}  # 7 slices on each GPU

    # a learner reads their connect URL, with their own token
    out = lab.ok_aitc("learner1", "course", "lab", str(sid))
    assert f"connect: {urls['learner1'][0]}/?token={urls['learner1'][1]}\n" in out

    # each lab answers its learner's token and refuses another learner's
    order = sorted(urls, key=lambda m: int(m.removeprefix("learner")))
    for i, m in enumerate(order):
        base, token = urls[m]
        other = urls[order[(i + 1) % len(order)]][1]
        assert jupyter(base, token).status_code == 200
        assert jupyter(base, other).status_code == 403
        assert jupyter(base, other, "/api/contents").status_code == 403
    assert lab.api("learner1", "GET", f"/course-sessions/{sid}/labs").status_code == 403
    assert all(x["url"] is None for x in labs_of(lab, sid).values())  # no tokens for others

    # the no-show's seat goes to the first waitlisted learner half a minute after the start
    def reclaimed() -> dict[str, str] | None:
        now = enrolments(lab, sid)
        return now if now[NO_SHOW] == "cancelled" else None

    states = until(reclaimed, 120, f"{NO_SHOW}'s seat to be given away")
    assert states[FIRST_WAITING] in ("enrolled", "attended")
    assert states[LAST_WAITING] == "waitlisted"
    gone = labs_of(lab, sid)[NO_SHOW]
    assert gone["state"] == "stopped"
    assert gone["stop_reason"] == (
        f"no-show: not reached within {NO_SHOW_MIN:g} min of the session's start; "
        f"the seat went to {FIRST_WAITING}"
    )
    # not before the no-show minutes after the start, nor before its lab answered for as long
    assert epoch(gone["stopped_at"]) >= start + NO_SHOW_MIN * 60
    assert epoch(gone["stopped_at"]) >= epoch(gone["ready_at"]) + NO_SHOW_MIN * 60

    def ready_for_the_waitlisted() -> dict[str, Any] | None:
        code, out, _ = lab.aitc(FIRST_WAITING, "course", "lab", str(sid), "--json")
        found = json.loads(out) if code == 0 else None
        return found if found and found["state"] == "ready" else None

    taken = until(ready_for_the_waitlisted, 90, f"{FIRST_WAITING}'s lab")
    urls[FIRST_WAITING] = split(taken["url"])
    assert jupyter(*urls[FIRST_WAITING]).status_code == 200
    assert jupyter(urls[FIRST_WAITING][0], urls["learner1"][1]).status_code == 403
    until(lambda: not answers(*urls[NO_SHOW]), 30, f"{NO_SHOW}'s lab to stop")
    save_answer(*urls[FIRST_WAITING], "42")
    came = {*LEARNERS[: SEATS - 1], FIRST_WAITING}
    until(lambda: {m for m, s in enrolments(lab, sid).items() if s == "attended"} == came, 60,
          "attendance of everyone who worked in their lab")  # fmt: skip
    out = lab.ok_aitc("carol", "course", "lab", str(sid), "--all")
    assert "no-show: not reached within" in out and "token" not in out

    # the assessment, run as each learner on their seat, passes for some and fails for others
    out = lab.ok_aitc("carol", "course", "assess", str(sid), "--wait", timeout=180)
    results = dict(line.split(": ", 1) for line in out.strip().splitlines()[:-1])
    passed = sorted(came - set(WRONG))
    assert results == {
        **{m: "passed (exit code 0)" for m in passed},
        **{m: "failed (exit code 1)" for m in WRONG},
    }
    assert out.strip().splitlines()[-1] == f"session {sid}: {len(came)} assessment(s)"
    assert enrolments(lab, sid) == {
        **{m: "passed" for m in passed},
        **{m: "failed" for m in WRONG},
        NO_SHOW: "cancelled",
        LAST_WAITING: "waitlisted",
    }
    for run in lab.ok("carol", "GET", f"/course-sessions/{sid}/assessments")["data"]:
        assessed = job(lab, run["job"])  # a job of the learner's, on a seat
        assert assessed["member"] == run["member"] and assessed["mig"] == "1g.10gb"
        assert {a["node"] for a in assessed["placement"]} == {"node0"}
    lab.ok_aitc("carol", "course", "roster", "show", str(sid))

    # the passed learners' credentials verify, with aitc's verifier and the server's
    out = lab.ok_aitc("carol", "course", "certify", str(sid), "--out", str(creds))
    assert out.strip().splitlines()[-1] == f"session {sid}: {len(passed)} credential(s)"
    files = sorted(creds.glob("*.json"))
    assert len(files) == len(passed)
    for path in files:
        credential = json.loads(path.read_text())
        checked = httpx.get(
            f"{lab.server.url}/api/v1/credentials/{credential['id']}/verify", timeout=30
        ).json()
        assert checked["verified"] is True, checked
    first, second = files[0], files[1]
    out = lab.ok_aitc("learner1", "course", "verify", str(first))
    assert out.startswith(f"{first}: verified: Intro to deep learning") and "not revoked" in out
    mine = lab.ok("learner1", "GET", f"/course-sessions/{sid}/certificates")
    assert mine["count"] == 1
    assert lab.ok("learner11", "GET", f"/course-sessions/{sid}/certificates")["count"] == 0

    # a tampered credential is refused: its signature no longer holds
    tampered = json.loads(first.read_text())
    tampered["credentialSubject"]["achievement"]["name"] = "Advanced deep learning"
    (lab.base / "tampered.json").write_text(json.dumps(tampered))
    code, _, err = lab.aitc("learner1", "course", "verify", str(lab.base / "tampered.json"))
    assert code == 1
    assert "does not verify: signature: " in err and "(signature check)" in err

    # a revoked credential is refused: its bit in the status list is set
    said = lab.ok_aitc("carol", "course", "revoke", str(second))
    revoked_id = json.loads(second.read_text())["id"]
    assert said.startswith(f"credential {revoked_id} (")
    code, _, err = lab.aitc("learner1", "course", "verify", str(second))
    assert code == 1 and "does not verify: revoked: revoked by its issuer" in err
    checked = httpx.get(f"{lab.server.url}/api/v1/credentials/{revoked_id}/verify").json()
    assert (checked["verified"], checked["failed_check"], checked["reason"]) == (
        False,
        "status",
        "revoked",
    )
    out = lab.ok_aitc("learner1", "course", "verify", str(first))  # the others still verify
    assert "verified" in out
