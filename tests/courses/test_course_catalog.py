"""Courses declared in lab.yaml are stored by ``aitc lab apply``, with their certified
instructors; applying again changes nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import course_harness  # noqa: F401 (puts tests/control, with seed.py, on sys.path)

from aitc.control.courses.catalog import certifications, expiry_of, list_courses
from aitc.control.store import Store, apply_lab
from aitc.domain.lab import Certification, Course


def test_lab_apply_stores_courses_and_certifications(tmp_path: Path) -> None:
    from seed import small_lab

    course = Course(
        "intro", "Intro", "school", "carol", 14, "1g.10gb", hours=8.0,
        certified=(Certification("carol", "2027-06-30"),),
    )  # fmt: skip
    lab = dataclasses.replace(small_lab(), courses=(course,))
    store = Store.open(f"sqlite:///{tmp_path / 'aitc.db'}")
    with store.session() as s:
        changes = apply_lab(session=s, lab=lab, now=1.0)
    assert "course intro: created" in changes and "course intro: carol certified" in changes
    with store.session() as s:
        (row,) = list_courses(session=s)
        (cert,) = certifications(session=s, course_id="intro")
        assert (row.title, row.seats, row.mig_profile, row.hours) == ("Intro", 14, "1g.10gb", 8.0)
        assert (cert.member_id, cert.expires_at) == ("carol", expiry_of("2027-06-30"))
        assert apply_lab(session=s, lab=lab, now=2.0) == []
    store.close()


def test_the_example_lab_declares_courses_the_parser_reads() -> None:
    from aitc.plan.lab import load_lab

    root = Path(__file__).resolve().parents[2]
    lab = load_lab(root / "examples" / "joint-lab.yaml")
    assert {c.id for c in lab.courses} >= {"dli-fundamentals-dl", "dli-multi-gpu"}
    assert all(c.gpus_per_seat == 1 and c.hours > 0 for c in lab.courses)
