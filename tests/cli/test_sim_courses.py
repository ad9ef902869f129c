"""`aitc sim --lab --courses compare`: the lab's course calendar simulated and left out, and the
research wait of both runs side by side; lab.yaml's calendar is checked key by key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.errors import ConfigError
from aitc.plan.lab import load_lab

LAB = """\
name: tiny
cluster:
  reference_architecture: dgx-h100-superpod
  nodes: 4
organisations:
  - id: lab
    name: A small lab
    kind: research
    share: 3
    workload: {jobs_per_day: 24, gpu_mix: {8: 1}, median_runtime_s: 7200, runtime_sigma: 0.5}
  - id: school
    name: A school
    kind: education
    share: 1
    workload: {jobs_per_day: 2, gpu_mix: {1: 1}, median_runtime_s: 600, runtime_sigma: 0.1}
members:
  - {id: ann, name: Ann Example, email: ann@example.edu, organisation: lab, role: instructor}
courses:
  - {id: intro, name: Intro, org: school, instructor: ann, seats: 8}
calendar:
  - {course: intro, seats: 16, starts: [2027-03-01T09:00, 2027-03-02T09:00]}
  - {course: intro, starts: [2027-03-03T13:30], hours: 2}
"""


def write(tmp_path: Path, text: str = LAB) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_calendar_reads_into_sessions_by_start(tmp_path: Path) -> None:
    lab = load_lab(write(tmp_path))
    assert [(s.course, s.start, s.seats, s.hours) for s in lab.calendar] == [
        ("intro", "2027-03-01T09:00", 16, 3.0),
        ("intro", "2027-03-02T09:00", 16, 3.0),
        ("intro", "2027-03-03T13:30", 8, 2.0),  # the course's seats
    ]


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "{course: intro, starts: [2027-03-03T13:30]",
            "{course: intro2, starts: [2027-03-03T13:30]",
            "calendar[1].course: unknown course 'intro2'; did you mean 'intro'?",
        ),
        (
            "seats: 16,",
            "seats: 40,",
            "calendar[0].seats: 40 seats need 40 GPUs, more than the cluster's 32",
        ),
        ("2027-03-02T09:00]", "2027-03-02T09:00+01:00]",
         "calendar[0].starts[1]: write the lab's local time without a UTC offset"),
    ],
)  # fmt: skip
def test_a_wrong_calendar_names_its_key(tmp_path: Path, old: str, new: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_lab(write(tmp_path, LAB.replace(old, new)))
    assert where in str(caught.value)


def test_compare_runs_with_and_without_the_programme(tmp_path: Path) -> None:
    lab, out = write(tmp_path), tmp_path / "runs"
    args = ["sim", "--lab", str(lab), "--days", "4", "--courses", "compare", "--out", str(out)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "research wait with and without the course programme" in result.output
    with_it = json.loads((out / "fairshare" / "summary.json").read_text())
    without = json.loads((out / "without-courses" / "fairshare" / "summary.json").read_text())
    assert (with_it["reservations"]["count"], without["reservations"]["count"]) == (3, 0)
    assert with_it["jobs_total"] - without["jobs_total"] == 16 + 16 + 8  # one job per seat
    assert with_it["research"]["jobs"] == without["research"]["jobs"]  # the same research jobs
    assert with_it["research"]["avg_wait_s"] > without["research"]["avg_wait_s"]


def test_courses_takes_three_values_and_only_generated_jobs(tmp_path: Path) -> None:
    lab = str(write(tmp_path))
    base = ["sim", "--lab", lab, "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*base, "--courses", "some"])
    assert result.exit_code == 2 and "'some' is not one of with, without, compare" in result.output
    trace = tmp_path / "t.csv"
    trace.write_text("submit,gpus,duration\n0,1,10\n")
    args = [*base, "--trace", str(trace), "--map", "submit=submit,gpus=gpus,duration=duration"]
    result = CliRunner().invoke(app, [*args, "--courses", "without"])
    assert result.exit_code == 2 and "--format lab" in result.output
