"""`aitc lab apply` creates the calendar's future sessions as real sessions, their seats
reserved in the engine, once; what the engine cannot guarantee is refused with its reason and
nothing is stored; before the control plane has recorded its nodes, nothing is created."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.control.courses.sessions import instructors_of
from aitc.control.store import NodeRecord, Store, upsert_nodes
from aitc.control.store.models import (
    CourseRow,
    CourseSessionRow,
    LabApplyRow,
    OrganisationRow,
    ReservationRow,
)

# Two instructors; intro's seats are MIG slices, multi's whole GPUs (8 a session by default).
LAB = """\
name: calendar-test
cluster:
  nodes:
    - {{name: n1, model: dgx-h100, leaf: 0, su: 0}}
    - {{name: n2, model: dgx-h100, leaf: 0, su: 0}}
organisations:
  - {{id: uni, name: University, kind: research, share: 2, projects: [{{id: vision, name: V}}]}}
  - {{id: school, name: School, kind: education, share: 1, projects: [{{id: course, name: C}}]}}
members:
  - {{id: carol, name: Carol, email: carol@uni.example, organisation: uni, role: instructor}}
  - {{id: dave, name: Dave, email: dave@uni.example, organisation: uni, role: instructor}}
courses:
  - {{id: intro, name: Intro, org: school, instructor: carol, seats: 14, mig_profile: 1g.10gb}}
  - {{id: multi, name: Multi, org: school, instructor: carol, seats: 8,
     certified: [{{member: dave, expires: {expires}}}]}}
calendar:
  - {{course: intro, starts: [{past}, {day2}, {day3}]}}
  - {{course: multi, starts: [{day2}], instructors: [dave]{multi_seats}}}
"""


# the hour the module's times count from, read once: times computed at import (PLAN) and in
# a test must agree even when the clock passes the hour between them
HOUR = datetime.now().replace(minute=0, second=0, microsecond=0)


def local(days: float) -> str:
    """A time ``days`` from ``HOUR``, as lab.yaml writes it (local, no offset)."""
    return (HOUR + timedelta(days=days)).isoformat(timespec="minutes")


def write(tmp_path: Path, *, expires: str = "2099-12-31", multi_seats: int | None = None) -> Path:
    path = tmp_path / "lab.yaml"
    seats = f", seats: {multi_seats}" if multi_seats else ""
    path.write_text(
        LAB.format(expires=expires, past=local(-1), day2=local(2), day3=local(3), multi_seats=seats)
    )
    return path


def apply(path: Path, url: str, *flags: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["lab", "apply", str(path), "--db", url, *flags])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def record_nodes(url: str, count: int) -> None:
    store = Store.open(url)
    with store.session() as s:
        nodes = [NodeRecord(f"n{i + 1}", 8, "H100-80GB") for i in range(count)]
        upsert_nodes(session=s, nodes=nodes, now=0.0)
    store.close()


def count(url: str, model: type) -> int:
    store = Store.open(url)
    with store.session() as s:
        n = s.scalar(select(func.count()).select_from(model)) or 0
    store.close()
    return n


def test_apply_creates_the_future_sessions_once_with_their_seats_reserved(
    tmp_path: Path, db_url: str
) -> None:
    lab = write(tmp_path)
    assert apply(lab, db_url)[0] == 0  # the organisations, members and courses first
    record_nodes(db_url, 2)
    code, out, _ = apply(lab, db_url)
    assert code == 0
    created = [line for line in out if line.startswith("session ")]
    assert len(created) == 3 and all(" created, " in line for line in created)
    assert f"of multi: created, {local(2)} for 3 h, 8 seats" in created[1]
    assert out[-2:] == ["calendar: 4 session(s): 3 created, 1 past", "calendar-test: 3 change(s)"]
    store = Store.open(db_url)
    with store.session() as s:
        rows = s.scalars(select(CourseSessionRow).order_by(CourseSessionRow.id)).all()
        assert [(r.course_id, r.seats) for r in rows] == [
            ("intro", 14),
            ("multi", 8),
            ("intro", 14),
        ]
        assert [instructors_of(session=s, session_id=r.id) for r in rows] == [
            ["carol"],
            ["dave"],
            ["carol"],
        ]
        seats = {r.reservation_id: s.get_one(ReservationRow, r.reservation_id) for r in rows}
        assert sorted((x.gpus, x.mig_profile, x.mig_seats) for x in seats.values()) == [
            (0, "1g.10gb", 14), (0, "1g.10gb", 14), (8, None, 0)
        ]  # fmt: skip
        first = rows[0]
        assert first.end_at - first.start_at == 3 * 3600
        assert datetime.fromtimestamp(first.start_at).isoformat(timespec="minutes") == local(2)
        applied = s.scalars(select(LabApplyRow).order_by(LabApplyRow.id.desc())).first()
        assert applied is not None and applied.changes == created
    store.close()
    assert apply(lab, db_url)[1][-2:] == [
        "calendar: 4 session(s): 3 created, 1 past",
        "calendar-test: up to date",
    ]
    assert count(db_url, CourseSessionRow) == 3


def test_before_the_nodes_are_recorded_nothing_is_created(tmp_path: Path, db_url: str) -> None:
    lab = write(tmp_path)
    code, out, _ = apply(lab, db_url)
    assert code == 0 and out[-2] == (
        "calendar: 4 session(s): 0 created, 1 past, 3 not created yet: no nodes are recorded "
        "(aitc serve records them when it starts; apply again then)"
    )
    assert count(db_url, CourseSessionRow) == 0
    record_nodes(db_url, 2)
    code, out, _ = apply(lab, db_url, "--no-calendar")
    assert code == 0 and out == [
        "calendar: 4 session(s): 0 created, 1 past, 3 not created",
        "calendar-test: up to date",
    ]
    assert apply(lab, db_url)[1][-1] == "calendar-test: 3 change(s)"


def test_seats_the_engine_cannot_guarantee_are_refused_with_its_reason_and_nothing_stored(
    tmp_path: Path, db_url: str
) -> None:
    # one node recorded of the lab's two: 16 whole GPUs never fit; and on the day both intro
    # and multi teach, their seats cannot both be held on its 8 GPUs
    record_nodes(db_url, 1)
    lab = write(tmp_path, multi_seats=16)
    code, out, err = apply(lab, db_url)
    assert code == 1 and out == []
    (line,) = err.splitlines()
    assert line.startswith(f"aitc: {lab}: calendar: multi at {local(2)}: the seats can never ")
    assert "needs 16 GPUs" in line  # the engine's reason
    lab = write(tmp_path)
    code, out, err = apply(lab, db_url)
    assert code == 1 and out == []
    (line,) = err.splitlines()
    assert line.startswith(f"aitc: {lab}: calendar: multi at {local(2)}: the seats cannot be ")
    assert "needs 8 GPUs" in line
    for model in (CourseSessionRow, ReservationRow, CourseRow, OrganisationRow, LabApplyRow):
        assert count(db_url, model) == 0, model


def test_an_instructor_certified_until_before_the_session_is_refused(
    tmp_path: Path, db_url: str
) -> None:
    record_nodes(db_url, 2)
    lab = write(tmp_path, expires=local(1)[:10])
    code, _, err = apply(lab, db_url)
    assert code == 1 and err.startswith(f"aitc: {lab}: calendar: multi at {local(2)}: ")
    assert "dave's certification for multi expires before the session ends" in err
    assert count(db_url, CourseSessionRow) == 0
