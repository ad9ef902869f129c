"""A session's reserved seats are lent to preemptible jobs until its start, and reclaimed on
time, at the issue's scale with real parts: 14 seats of ``1g.10gb`` on two virtual H100s, 16
learners on the roster (2 waitlisted), the local executor running every job as its member's
Unix user, under fairshare (aitc serve's default policy). A university researcher's
preemptible job runs on both GPUs before the window and is preempted at its start; every
seated learner's lab starts on its slice at the start itself, once the preempted job is gone
(it ignores SIGTERM, so the executor kills it when its grace period ends). Time is a
``FakeClock`` that stays at the start while the real processes stop and start, so "at the
start" is exact and no wall time is measured."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lab_rig import DAY, RESEARCHER, LabRig, ensure_learners
from sqlalchemy import select

from aitc.control.executors.attempts import ATTEMPTS, DONE, AttemptDir, ExitRecord, attempt_name
from aitc.control.store.models import CourseLabRow, JobEventRow, JobRow
from aitc.control.store.specs import placement_from_json

LEARNERS = tuple(f"learner{i}" for i in range(1, 17))
SEATS = 14
STUBBORN = ["sh", "-c", "trap '' TERM; sleep 3600"]  # ignores SIGTERM, as its sleep does


@pytest.fixture(scope="module")
def rig() -> Iterator[LabRig]:
    if os.geteuid() != 0:
        pytest.skip("jobs run as the members' Unix users: needs root (CI runs as root)")
    ensure_learners(LEARNERS)
    base = Path(tempfile.mkdtemp(prefix="aitc-seats-"))
    base.chmod(0o755)
    try:
        rig = LabRig(base, LEARNERS, policy="fairshare")  # aitc serve's default
        try:
            yield rig
        finally:
            rig.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def job(rig: LabRig, job_id: int) -> JobRow:
    with rig.store.session() as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        s.expunge(row)
        return row


def events(rig: LabRig, job_id: int) -> list[tuple[float, str, str]]:
    with rig.store.session() as s:
        stmt = select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
        return [(e.at, e.to_state, e.cause) for e in s.scalars(stmt)]


def slices(row: JobRow) -> set[tuple[str, int, int | None]]:
    """(node, GPU, first slice or None for a whole GPU) of each GPU the job holds."""
    out: set[tuple[str, int, int | None]] = set()
    for a in placement_from_json(row.placement or {}).allocs:
        if a.mig is not None:
            out.add((a.node, a.mig.gpu, a.mig.start))
        else:
            out |= {(a.node, g, None) for g in a.gpus}
    return out


def exit_record(rig: LabRig, job_id: int, attempt: int) -> ExitRecord | None:
    """What the executor's supervisor wrote when the attempt ended (archived once reported)."""
    name = attempt_name(job_id, attempt)
    for where in (ATTEMPTS, DONE):
        record = AttemptDir(rig.executor.state_dir / where / name).exit()
        if record is not None:
            return record
    return None


def lab_jobs(rig: LabRig, sid: int) -> list[JobRow]:
    with rig.store.session() as s:
        stmt = select(CourseLabRow.job_id).where(CourseLabRow.session_id == sid)
        ids = list(s.scalars(stmt))
    return [job(rig, i) for i in ids]


def test_a_preemptible_job_runs_on_the_seats_until_the_start_and_the_seats_are_free_at_it(
    rig: LabRig,
) -> None:
    rig.ok("admin", "POST", "/courses", {
        "id": "intro", "title": "Intro to DL", "org": "school", "seats": SEATS,
        "mig_profile": "1g.10gb", "lab_command": ["sleep", "3600"],
    })  # fmt: skip
    rig.ok("admin", "POST", "/courses/intro/instructors", {"member": "carol"})
    start = rig.clock.now() + DAY
    made = rig.ok("carol", "POST", "/course-sessions", {
        "course": "intro", "start": iso(start), "end": iso(start + 3 * 3600), "waitlist": 2,
    })  # fmt: skip
    sid = made["id"]
    roster = rig.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": list(LEARNERS)})
    assert [e["state"] for e in roster["data"]] == ["enrolled"] * SEATS + ["waitlisted"] * 2

    # before the window: a researcher's preemptible job runs on both GPUs of the only node
    research = rig.ok(RESEARCHER, "POST", "/jobs", {
        "command": STUBBORN, "gpus": 2, "priority": "preemptible", "project": "vision",
    })["id"]  # fmt: skip
    rig.until(lambda: job(rig, research).state == "running")
    before = job(rig, research)
    assert slices(before) == {("node0", 0, None), ("node0", 1, None)}
    assert before.started_at is not None and before.started_at < start

    # at the start it is preempted, and each seated learner's lab takes its slice
    rig.clock.advance(DAY)
    assert rig.clock.now() == start

    def labs_running() -> bool:
        labs = lab_jobs(rig, sid)
        return len(labs) == SEATS and all(lab.state == "running" for lab in labs)

    rig.until(labs_running)
    preempted = [(at, cause) for at, state, cause in events(rig, research) if state == "pending"]
    assert len(preempted) == 2  # submitted, then requeued by the preemption
    assert preempted[1][0] == start and "preempted" in preempted[1][1]
    assert job(rig, research).state == "pending"
    stopped = exit_record(rig, research, attempt=1)  # it ignored SIGTERM: killed after the grace
    assert stopped is not None and stopped.status == "cancelled"
    grace = rig.executor.grace_s
    assert stopped.cause.endswith(f"stopped with SIGTERM, then SIGKILL after {grace:g} s")

    labs = lab_jobs(rig, sid)
    assert {lab.member_id for lab in labs} == set(LEARNERS[:SEATS])  # not the waitlisted
    taken = [slices(lab) for lab in labs]
    assert all(len(t) == 1 for t in taken) and len(set().union(*taken)) == SEATS
    assert {gpu for t in taken for _, gpu, _ in t} == {0, 1}  # seven slices on each GPU
    for lab in labs:
        assert [at for at, state, _ in events(rig, lab.id) if state != "pending"][:2] == [
            start,
            start,
        ]  # starting and running at the start, not a moment later

    # during the window the researcher's job waits: the seats are the session's
    rig.clock.advance(600)
    rig.turn()
    assert job(rig, research).state == "pending"
