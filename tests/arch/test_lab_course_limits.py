"""lab.yaml's courses set their labs' limits (the API's defaults when left out, the same rule
on which combinations work), and `aitc lab apply` stores them; a calendar entry's sessions are
taught by instructors certified for the course."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import aitc.control.api  # noqa: F401 (first: the API and the courses' schemas import each other)
from aitc.control.courses.schemas import CourseCreate
from aitc.control.store import Store, apply_lab
from aitc.control.store.models import CourseRow
from aitc.domain.courselab import DEFAULT_LAB_RULES, LabRules
from aitc.errors import ConfigError, each_error
from aitc.plan.lab import load_lab

LAB = """\
name: limits
cluster:
  nodes:
    - {name: n1, model: dgx-h100, leaf: 0, su: 0}
organisations:
  - {id: school, name: School, kind: education, share: 1, projects: [{id: course, name: C}]}
members:
  - {id: carol, name: Carol, email: carol@school.example, organisation: school, role: instructor}
  - {id: dave, name: Dave, email: dave@school.example, organisation: school, role: instructor}
  - {id: lea, name: Lea, email: lea@school.example, organisation: school, role: learner}
courses:
  - {id: intro, name: Intro, org: school, instructor: carol, seats: 4, mig_profile: 1g.10gb,
     no_show_min: 10, idle_limit_min: 20, idle_warning_min: 4}
  - {id: plain, name: Plain, org: school, seats: 2, certified: [{member: dave}]}
calendar:
  - {course: intro, starts: [2027-03-01T09:00]}
  - {course: plain, starts: [2027-03-02T09:00], instructors: [dave]}
"""


def write(tmp_path: Path, text: str = LAB) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_course_sets_its_limits_and_the_rest_are_the_apis_defaults(tmp_path: Path) -> None:
    intro, plain = load_lab(write(tmp_path)).courses
    assert intro.rules == LabRules(no_show_min=10, idle_limit_min=20, idle_warning_min=4)
    assert plain.rules == DEFAULT_LAB_RULES
    defaults = dataclasses.asdict(DEFAULT_LAB_RULES)  # the API's, too
    assert {f: CourseCreate.model_fields[f].default for f in defaults} == defaults


def test_calendar_sessions_are_taught_by_the_lead_or_the_instructors_given(tmp_path: Path) -> None:
    lab = load_lab(write(tmp_path))
    assert [(s.course, s.instructors) for s in lab.calendar] == [
        ("intro", ("carol",)),
        ("plain", ("dave",)),
    ]


def test_calendar_sessions_have_a_waitlist_and_a_place(tmp_path: Path) -> None:
    placed = LAB.replace("instructors: [dave]", "instructors: [dave], waitlist: 0, remote: true")
    placed = placed.replace("09:00]}", "09:00], location: Room 2}", 1)
    intro, plain = load_lab(write(tmp_path, placed)).calendar
    assert (intro.waitlist, intro.location, intro.remote) == (None, "Room 2", False)
    assert (plain.waitlist, plain.location, plain.remote) == (0, "", True)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("idle_warning_min: 4", "idle_warning_min: 20",
         "lab.yaml:13: courses[0].idle_warning_min: must be at least 0 and less than "
         "idle_limit_min (20)"),
        ("idle_limit_min: 20", "idle_limit_min: 0",
         "lab.yaml:13: courses[0].idle_limit_min: must be more than 0 minutes"),
        ("no_show_min: 10", "no_show_min: -1",
         "lab.yaml:13: courses[0].no_show_min: must be >= 0 (got -1)"),
        ("no_show_min: 10", "no_show_min: 20000",
         "lab.yaml:13: courses[0].no_show_min: must be <= 10080 (got 20000)"),
        ("no_show_min: 10", "no_show_min: 10, assessment_limit_min: 0",
         "lab.yaml:13: courses[0].assessment_limit_min: must be more than 0 minutes"),
        ("instructors: [dave]", "instructors: [lea]",
         "lab.yaml:17: calendar[1].instructors[0]: member 'lea' has role learner, not instructor"),
        ("instructors: [dave]", "instructors: [dav]",
         "lab.yaml:17: calendar[1].instructors[0]: unknown member 'dav'; did you mean 'dave'?"),
        ("instructors: [dave]", "instructors: [carol]",
         "lab.yaml:17: calendar[1].instructors[0]: carol is not certified to teach plain (its "
         "instructor or certified)"),
        (", instructors: [dave]", "",
         "lab.yaml:17: calendar[1].course: course plain has no lead instructor: give the "
         "sessions' instructors"),
        ("starts: [2027-03-01T09:00]", "starts: [2027-03-01T09:00, 2027-03-01T09:00]",
         "lab.yaml:16: calendar[0].starts[1]: intro already has a session starting at "
         "2027-03-01T09:00 (calendar[0]): a course starts one session at a time"),
        ("  - {course: plain,",
         "  - {course: intro, starts: [2027-03-01T09:00]}\n  - {course: plain,",
         "lab.yaml:17: calendar[1].starts[0]: intro already has a session starting at "
         "2027-03-01T09:00 (calendar[0]): a course starts one session at a time"),
        ("starts: [2027-03-01T09:00]", "starts: [2027-03-01T09:00], waitlist: -1",
         "lab.yaml:16: calendar[0].waitlist: must be >= 0 (got -1)"),
    ],
)  # fmt: skip
def test_limits_and_teachers_that_cannot_work_name_their_key(
    tmp_path: Path, old: str, new: str, error: str
) -> None:
    assert old in LAB
    with pytest.raises(ConfigError) as caught:
        load_lab(write(tmp_path, LAB.replace(old, new)))
    lines = [str(e).replace(str(tmp_path) + "/", "") for e in each_error(caught.value)]
    assert lines == [error]


def test_apply_stores_the_limits_and_reports_a_change(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'aitc.db'}")
    with store.session() as s:
        assert "course intro: created" in apply_lab(session=s, lab=load_lab(write(tmp_path)))
    with store.session() as s:
        row = s.get_one(CourseRow, "intro")
        stored = (row.no_show_min, row.idle_limit_min, row.idle_warning_min)
        assert stored + (row.assessment_limit_min,) == (10, 20, 4, 15)
    changed = load_lab(write(tmp_path, LAB.replace("no_show_min: 10", "no_show_min: 12")))
    with store.session() as s:
        assert "course intro: no_show_min changed" in apply_lab(session=s, lab=changed)
        assert s.get_one(CourseRow, "intro").no_show_min == 12
    store.close()
