"""The signal before the time limit: Slurm's ``--signal`` forms, canonical text, refusals."""

from __future__ import annotations

import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aitc.domain.timesignal import MAX_BEFORE_S, SIGNALS, TimeSignal


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("USR1@300", "USR1@300"),
        ("sigusr1@300", "USR1@300"),
        ("USR2", "USR2@60"),  # Slurm's default: 60 s
        (f"{int(signal.SIGUSR1)}@90", "USR1@90"),
        ("B:USR1@300", "B:USR1@300"),
        ("b:term@0", "B:TERM@0"),
        ("R:USR1@10", "USR1@10"),  # (reservation overlap: nothing here)
        (" INT@65535 ", "INT@65535"),
    ],
)
def test_slurms_forms_read_as_slurm_reads_them(text: str, canonical: str) -> None:
    assert str(TimeSignal.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("KILL@60", "not a signal a job may ask for"),
        ("STOP", "not a signal a job may ask for"),
        ("9@60", "not a signal a job may ask for"),
        ("999", "no signal number"),
        ("USR1@-5", "whole seconds"),
        ("USR1@65536", "whole seconds"),
        ("USR1@1.5", "whole seconds"),
        ("X:USR1", "only B"),
        ("@60", "nothing is not a signal"),
        ("", "nothing is not a signal"),
    ],
)
def test_what_is_refused_says_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        TimeSignal.parse(text)


@given(st.sampled_from(SIGNALS), st.integers(0, MAX_BEFORE_S), st.booleans())
def test_the_canonical_text_reads_back_the_same(name: str, before: int, main: bool) -> None:
    sent = TimeSignal(name, before, main)
    assert TimeSignal.parse(str(sent)) == sent
    assert sent.number == int(signal.Signals["SIG" + name])
