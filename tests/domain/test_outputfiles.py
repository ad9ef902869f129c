"""Filename patterns of ``--output``/``--error``, expanded as Slurm expands them."""

from __future__ import annotations

import re

import pytest

from aitc.domain.outputfiles import MAX_PATTERN_CHARS, PatternValues, check_pattern, expand

JOB = PatternValues(job_id=42, name="train", user="bklein", node="dgx01")
TASK = PatternValues(
    job_id=107, name="sweep", user="bklein", node="dgx02", array_job_id=100, array_task_id=7
)


@pytest.mark.parametrize(
    ("pattern", "values", "path"),
    [
        ("out.log", JOB, "out.log"),
        ("logs/%x-%j.out", JOB, "logs/train-42.out"),
        ("/scratch/%u/%N/%j", JOB, "/scratch/bklein/dgx01/42"),
        ("%A_%a.out", TASK, "100_7.out"),
        ("%j.out", TASK, "107.out"),  # a task's own number, as in Slurm
        ("%A-%a", JOB, "42-4294967294"),  # outside an array: its own number, Slurm's no-value
        ("%4a-%6j", TASK, "0007-000107"),  # zero padding
        ("%3x", JOB, "train"),  # padding means nothing for words
        ("100%%-%j", JOB, "100%-42"),
        ("%%j", JOB, "%j"),
        ("%%%j", JOB, "%42"),
    ],
)
def test_patterns_expand_as_slurm_expands_them(
    pattern: str, values: PatternValues, path: str
) -> None:
    assert check_pattern(pattern) == pattern
    assert expand(pattern, values) == path


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("out-%s.log", "%s is not a filename pattern aitc knows"),
        ("%t", "%t is not a filename pattern"),
        ("%4q", "%q is not a filename pattern"),
        ("out%", "ends in a lone %"),
        ("a\nb", "line breaks"),
        ("a\rb", "line breaks"),
        ("a\x00b", "NUL"),
        ("", "must name a file"),
        ("x" * (MAX_PATTERN_CHARS + 1), f"longer than {MAX_PATTERN_CHARS} characters"),
    ],
)
def test_a_pattern_aitc_cannot_expand_is_refused_saying_why(pattern: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        check_pattern(pattern)


def test_the_longest_pattern_is_taken() -> None:
    assert check_pattern("x" * MAX_PATTERN_CHARS)
