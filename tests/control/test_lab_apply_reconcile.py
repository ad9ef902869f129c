"""`aitc lab apply` makes the store's calendar sessions what lab.yaml plans: a session moved is
removed and created again, one changed is updated in place (its reservation replaced only when
the engine guarantees it, never fewer seats than learners enrolled), one dropped is removed, or
refused by name while learners are enrolled unless `--prune-enrolled` cancels it with their
enrolments; sessions made by hand and sessions that have started are never touched; all or
nothing, and `--dry-run` stores nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.control.api import Settings, create_app
from aitc.control.courses.calendar import calendar_status
from aitc.control.store import NodeRecord, Store, apply_lab, upsert_nodes
from aitc.control.store.db import alembic_config, migrate, migration_connection
from aitc.control.store.models import CourseSessionRow, EnrolmentRow, ReservationRow
from aitc.control.store.tokens import create_token
from aitc.plan.lab import load_lab

LAB = """\
name: reconcile-test
cluster:
  nodes:
    - {name: n1, model: dgx-h100, leaf: 0, su: 0}
    - {name: n2, model: dgx-h100, leaf: 0, su: 0}
organisations:
  - {id: school, name: School, kind: education, share: 1, projects: [{id: course, name: C}]}
members:
  - {id: carol, name: Carol, email: carol@school.example, organisation: school, role: instructor}
  - {id: dave, name: Dave, email: dave@school.example, organisation: school, role: instructor}
"""
LEARNERS = [f"l{i}" for i in range(1, 6)]
COURSES = """\
courses:
  - {id: intro, name: Intro, org: school, instructor: carol, seats: 14, mig_profile: 1g.10gb,
     certified: [{member: dave, expires: DAVE}]}
  - {id: multi, name: Multi, org: school, instructor: carol, seats: 8}
"""


# the hour the module's times count from, read once: times computed at import (PLAN) and in
# a test must agree even when the clock passes the hour between them
HOUR = datetime.now().replace(minute=0, second=0, microsecond=0)


def local(days: float) -> str:
    """A time ``days`` from ``HOUR``, as lab.yaml writes it (local, no offset)."""
    return (HOUR + timedelta(days=days)).isoformat(timespec="minutes")


def entry(course: str, days: float, **keys: Any) -> dict[str, Any]:
    """A calendar entry of one session (JSON is YAML)."""
    return {"course": course, "starts": [local(days)], **keys}


# intro on days 2 and 3 (MIG slices of two GPUs each), multi on day 2 (8 whole GPUs)
PLAN = [entry("intro", 2), entry("intro", 3), entry("multi", 2)]


class Rig:
    """A lab file to rewrite and apply with `aitc lab apply`, on a store whose nodes are
    recorded, and the API on the same store with a token per member."""

    def __init__(self, tmp_path: Path, url: str, dave_expires: str = "2099-12-31") -> None:
        self.path, self.url, self.dave = tmp_path / "lab.yaml", url, dave_expires
        self.store = Store.open(url)
        with self.store.session() as s:
            nodes = [NodeRecord(f"n{i + 1}", 8, "H100-80GB") for i in range(2)]
            upsert_nodes(session=s, nodes=nodes, now=0.0)
        self.client = TestClient(create_app(Settings(store=self.store)))
        self.tokens: dict[str, str] = {}

    def write(self, calendar: list[dict[str, Any]]) -> Path:
        learners = "".join(
            f"  - {{id: {m}, name: {m.upper()}, email: {m}@school.example, "
            "organisation: school, role: learner}\n"
            for m in LEARNERS
        )
        lines = "".join(f"  - {json.dumps(e)}\n" for e in calendar)
        courses = COURSES.replace("DAVE", self.dave)
        self.path.write_text(LAB + learners + courses + ("calendar:\n" + lines if lines else ""))
        return self.path

    def apply(self, calendar: list[dict[str, Any]], *flags: str) -> tuple[int, list[str], str]:
        args = ["lab", "apply", str(self.write(calendar)), "--db", self.url, *flags]
        result = CliRunner().invoke(app, args)
        return result.exit_code, result.stdout.splitlines(), result.stderr

    def auth(self, member: str) -> dict[str, str]:
        if member not in self.tokens:
            with self.store.session() as s:
                now = datetime.now().timestamp()
                self.tokens[member] = create_token(session=s, member_id=member, name="t", now=now)[
                    1
                ]
        return {"Authorization": f"Bearer {self.tokens[member]}"}

    def sessions(self) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/course-sessions", headers=self.auth("carol"))
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    def session_at(self, course: str, days: float) -> dict[str, Any]:
        start = datetime.fromisoformat(local(days)).astimezone()
        (found,) = [
            s
            for s in self.sessions()
            if s["course"] == course
            and datetime.fromisoformat(s["start"]) == start
            and s["cancelled"] is None
        ]
        return found

    def enrol(self, session_id: int, member: str) -> str:
        r = self.client.post(
            f"/api/v1/course-sessions/{session_id}/enrolments", json={}, headers=self.auth(member)
        )
        assert r.status_code == 201, r.text
        return str(r.json()["state"])

    def states(self, session_id: int) -> dict[str, str]:
        with self.store.session(readonly=True) as s:
            stmt = select(EnrolmentRow).where(EnrolmentRow.session_id == session_id)
            return {e.member_id: e.state for e in s.scalars(stmt)}

    def reservations(self) -> dict[str, tuple[float, float, int, str | None, int]]:
        with self.store.session(readonly=True) as s:
            return {
                r.id: (r.start_at, r.end_at, r.gpus, r.mig_profile, r.mig_seats)
                for r in s.scalars(select(ReservationRow))
            }

    def rows(self) -> list[tuple[Any, ...]]:
        """Every session row as stored, to compare before and after."""
        with self.store.session(readonly=True) as s:
            stmt = select(CourseSessionRow).order_by(CourseSessionRow.id)
            return [
                (r.id, r.course_id, r.reservation_id, r.start_at, r.end_at, r.seats, r.waitlist,
                 r.location, r.remote, r.origin, r.cancelled_at)
                for r in s.scalars(stmt)
            ]  # fmt: skip

    def close(self) -> None:
        self.client.close()
        self.store.close()


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Iterator[Rig]:
    r = Rig(tmp_path, db_url)
    code, out, err = r.apply(PLAN)
    assert code == 0, err
    assert out[-2] == "calendar: 3 session(s): 3 created, 0 past", out
    yield r
    r.close()


def test_applying_the_same_calendar_again_changes_nothing(rig: Rig) -> None:
    rows, held = rig.rows(), rig.reservations()
    assert [r[9] for r in rows] == ["calendar"] * 3
    code, out, _ = rig.apply(PLAN)
    assert code == 0
    assert out == ["calendar: 3 session(s): 3 created, 0 past", "reconcile-test: up to date"]
    assert rig.rows() == rows and rig.reservations() == held


def test_a_moved_session_is_removed_and_created_at_its_new_start(rig: Rig) -> None:
    old = rig.session_at("intro", 3)
    code, out, err = rig.apply([PLAN[0], entry("intro", 4), PLAN[2]])
    assert code == 0, err
    assert out[0] == (
        f"session {old['id']} of intro at {local(3)}: removed, nobody enrolled; its seats "
        f"released ({old['reservation']})"
    )
    assert out[1].startswith("session ") and f"of intro: created, {local(4)} for " in out[1]
    assert out[-2:] == ["calendar: 3 session(s): 3 created, 0 past", "reconcile-test: 2 change(s)"]
    new = rig.session_at("intro", 4)
    assert new["origin"] == "calendar" and new["seats"] == 14
    assert old["reservation"] not in rig.reservations()
    assert old["id"] not in [s["id"] for s in rig.sessions()]
    assert len(rig.reservations()) == 3


def test_seats_go_up_seating_the_waitlist_and_never_below_the_learners_enrolled(rig: Rig) -> None:
    small = [entry("intro", 2, seats=3, waitlist=2), *PLAN[1:]]
    code, out, err = rig.apply(small)
    s = rig.session_at("intro", 2)
    assert code == 0, err
    assert out[0] == (
        f"session {s['id']} of intro at {local(2)}: updated: seats 14 → 3, waitlist 14 → 2, "
        f"its reservation {s['reservation']} replaced"
    )
    assert rig.reservations()[s["reservation"]][2:] == (0, "1g.10gb", 3)
    assert [rig.enrol(s["id"], m) for m in LEARNERS] == ["enrolled"] * 3 + ["waitlisted"] * 2

    code, out, err = rig.apply([entry("intro", 2, seats=2, waitlist=2), *PLAN[1:]])
    assert code == 1 and out == []
    assert err.splitlines() == [
        f"aitc: {rig.path}: calendar: intro at {local(2)}: 2 seats are fewer than the 3 "
        f"learners enrolled; cancel enrolments first (aitc course cancel {s['id']} --member …)"
    ]
    code, out, err = rig.apply([entry("intro", 2, seats=4, waitlist=0), *PLAN[1:]])
    assert code == 1 and "a waitlist of 0 is shorter than the 1 learners waiting" in err
    assert rig.session_at("intro", 2)["seats"] == 3  # nothing stored

    code, out, err = rig.apply([entry("intro", 2, seats=4, waitlist=2), *PLAN[1:]])
    assert code == 0, err
    assert out[0] == (
        f"session {s['id']} of intro at {local(2)}: updated: seats 3 → 4, its reservation "
        f"{s['reservation']} replaced, 1 waitlisted learner(s) got a seat"
    )
    assert rig.states(s["id"]) == {**dict.fromkeys(LEARNERS[:4], "enrolled"), "l5": "waitlisted"}
    assert rig.reservations()[s["reservation"]][2:] == (0, "1g.10gb", 4)


def test_seats_the_engine_cannot_guarantee_refuse_the_whole_apply(rig: Rig) -> None:
    rows, held = rig.rows(), rig.reservations()
    # multi's 16 GPUs and intro's two on day 2 do not fit on 16; intro on day 3 moves rooms
    changed = [PLAN[0], entry("intro", 3, location="Room 2"), entry("multi", 2, seats=16)]
    code, out, err = rig.apply(changed)
    assert code == 1 and out == []
    (line,) = err.splitlines()
    assert line.startswith(f"aitc: {rig.path}: calendar: multi at {local(2)}: the seats cannot be")
    assert "needs 16 GPUs" in line  # the engine's reason
    assert rig.rows() == rows and rig.reservations() == held
    code, out, err = rig.apply([PLAN[0], entry("intro", 3, location="Room 2"), PLAN[2]])
    assert code == 0 and out[0].endswith(": updated: location '' → 'Room 2'"), out


def test_instructors_are_checked_for_certification_when_they_change(
    tmp_path: Path, db_url: str
) -> None:
    rig = Rig(tmp_path, db_url, dave_expires=local(1)[:10])  # dave certified through tomorrow
    try:
        assert rig.apply(PLAN)[0] == 0
        s = rig.session_at("intro", 2)
        code, out, err = rig.apply([entry("intro", 2, instructors=["dave"]), *PLAN[1:]])
        assert code == 1 and out == []
        assert "dave's certification for intro expires before the session ends" in err
        rig.dave = "2099-12-31"
        code, out, err = rig.apply([entry("intro", 2, instructors=["carol", "dave"]), *PLAN[1:]])
        assert code == 0, err
        assert out[:2] == [
            "course intro: dave certification renewed",
            f"session {s['id']} of intro at {local(2)}: updated: instructors carol → carol, dave",
        ]
        assert rig.session_at("intro", 2)["instructors"] == ["carol", "dave"]
    finally:
        rig.close()


def test_a_dropped_session_with_learners_is_refused_until_prune_enrolled_cancels_it(
    rig: Rig,
) -> None:
    rig.apply([entry("intro", 2, seats=2, waitlist=2), *PLAN[1:]])
    s = rig.session_at("intro", 2)
    for member in LEARNERS[:3]:
        rig.enrol(s["id"], member)
    rows = rig.rows()
    code, out, err = rig.apply(PLAN[1:])
    assert code == 1 and out == []
    assert err.splitlines() == [
        f"aitc: {rig.path}: calendar: intro at {local(2)} (session {s['id']}, no longer "
        f"planned): session {s['id']} has 2 learner(s) enrolled and 1 waitlisted: cancel their "
        "enrolments first, or apply with --prune-enrolled to cancel the session and its "
        "enrolments"
    ]
    assert rig.rows() == rows

    code, out, err = rig.apply(PLAN[1:], "--prune-enrolled")
    assert code == 0, err
    assert out[0] == (
        f"session {s['id']} of intro at {local(2)}: cancelled with its 2 learner(s) enrolled "
        f"and 1 waitlisted; its seats released ({s['reservation']})"
    )
    assert out[-2:] == ["calendar: 2 session(s): 2 created, 0 past", "reconcile-test: 1 change(s)"]
    r = rig.client.get(f"/api/v1/course-sessions/{s['id']}", headers=rig.auth("l1"))
    shown = r.json()
    assert shown["cancelled"] is not None and shown["reservation"] is None
    assert rig.states(s["id"]) == dict.fromkeys(LEARNERS[:3], "cancelled")
    assert s["reservation"] not in rig.reservations()
    r = rig.client.post(
        f"/api/v1/course-sessions/{s['id']}/enrolments", json={}, headers=rig.auth("l4")
    )
    assert r.status_code == 422 and f"session {s['id']} was cancelled" in r.text
    # planned again at the same start: a new session, the cancelled one stays as it is
    code, out, err = rig.apply(PLAN)
    assert code == 0 and f"of intro: created, {local(2)} for 3 h, 14 seats" in out[0]
    assert rig.session_at("intro", 2)["id"] != s["id"]


def test_a_dropped_session_whose_learners_all_cancelled_is_cancelled_not_deleted(
    rig: Rig,
) -> None:
    s = rig.session_at("intro", 3)
    rig.enrol(s["id"], "l1")
    r = rig.client.post(
        f"/api/v1/course-sessions/{s['id']}/cancel", json={}, headers=rig.auth("l1")
    )
    assert r.status_code == 200, r.text
    code, out, err = rig.apply([PLAN[0], PLAN[2]])
    assert code == 0, err
    assert out[0] == (
        f"session {s['id']} of intro at {local(3)}: cancelled (nobody is enrolled; its 1 "
        f"cancelled enrolment(s) kept); its seats released ({s['reservation']})"
    )
    assert rig.states(s["id"]) == {"l1": "cancelled"}


def test_a_session_made_by_hand_is_never_touched(rig: Rig) -> None:
    body = {"course": "intro", "start": local(5), "end": local(5.1), "seats": 7}
    r = rig.client.post("/api/v1/course-sessions", json=body, headers=rig.auth("carol"))
    assert r.status_code == 201, r.text
    by_hand = r.json()
    assert by_hand["origin"] == "instructor"
    rows = [row for row in rig.rows() if row[0] == by_hand["id"]]
    # the calendar drops everything, then plans a session at the hand-made one's start
    code, out, err = rig.apply([])
    assert code == 0, err
    assert len([line for line in out if ": removed, nobody enrolled" in line]) == 3
    assert [s["id"] for s in rig.sessions()] == [by_hand["id"]]
    code, out, err = rig.apply([entry("intro", 5, seats=14, hours=1)])
    assert code == 0, err
    assert out == ["calendar: 1 session(s): 1 created, 0 past", "reconcile-test: up to date"]
    assert [row for row in rig.rows() if row[0] == by_hand["id"]] == rows
    assert len(rig.rows()) == 1


def test_started_sessions_are_left_alone_and_reported(rig: Rig) -> None:
    intro, multi = rig.session_at("intro", 2), rig.session_at("multi", 2)
    later = datetime.fromisoformat(local(2)).timestamp() + 3600  # both an hour in
    rows = rig.rows()
    with rig.store.session() as db:
        lab = load_lab(rig.write([entry("intro", 2, seats=20), entry("multi", 3)]))
        changes = apply_lab(session=db, lab=lab, now=later, calendar=True)
        status = calendar_status(session=db, lab=lab, now=later)
    assert len(changes) == 2
    assert changes[0].startswith(f"session {rows[2][0]} of intro at {local(3)}: removed, ")
    assert f" of multi: created, {local(3)} for 3 h" in changes[1]
    assert status.kept == (
        f"session {intro['id']} of intro at {local(2)}: kept as it is, it has started "
        "(lab.yaml: seats 14 → 20, waitlist 14 → 20)",
        f"session {multi['id']} of multi at {local(2)}: kept as it is, it has started "
        "(lab.yaml no longer plans it)",
    )
    assert status.line() == "calendar: 2 session(s): 2 created, 0 past"
    assert rig.rows()[:2] == rows[:2]


def test_dry_run_prints_the_plan_and_stores_nothing(rig: Rig) -> None:
    s = rig.session_at("intro", 3)
    rows, held = rig.rows(), rig.reservations()
    moved = [entry("intro", 2, seats=10), entry("intro", 4), PLAN[2]]
    code, out, err = rig.apply(moved, "--dry-run")
    assert code == 0, err
    assert out[0] == (
        f"session {s['id']} of intro at {local(3)}: removed, nobody enrolled; its seats "
        f"released ({s['reservation']})"
    )
    assert ": updated: seats 14 → 10, waitlist 14 → 10, its reservation " in out[1]
    assert f"of intro: created, {local(4)} for 3 h, 14 seats" in out[2]
    assert out[-1] == "reconcile-test: 3 change(s) planned; nothing stored (--dry-run)"
    assert rig.rows() == rows and rig.reservations() == held
    code, out, err = rig.apply(PLAN, "--dry-run")
    assert out[-1] == "reconcile-test: up to date; nothing stored (--dry-run)"


def test_the_migration_finds_the_sessions_the_calendar_created_before_it(rig: Rig) -> None:
    body = {"course": "multi", "start": local(6), "end": local(6.1)}
    r = rig.client.post("/api/v1/course-sessions", json=body, headers=rig.auth("carol"))
    assert r.status_code == 201, r.text
    cfg = alembic_config(rig.store.engine)
    with migration_connection(rig.store.engine) as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0009")  # origin forgotten
    migrate(rig.store.engine)
    origins = {row[0]: row[9] for row in rig.rows()}
    assert list(origins.values()).count("calendar") == 3
    assert origins[r.json()["id"]] == "instructor"
