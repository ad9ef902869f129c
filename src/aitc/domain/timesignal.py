"""A signal a job asks for before its time limit, as Slurm's ``--signal=[B:]SIG[@SECONDS]``.

A training job that receives it can write a checkpoint before the limit stops it:
``--signal USR1@300`` sends SIGUSR1 300 seconds before the limit. With ``B:`` only the job's
main process receives it (a batch script that traps it, as Slurm sends ``B:`` to the batch
shell alone); without, every process of the job does (as Slurm signals every process of the
job's steps). The API stores the canonical text (``str``); the supervisor parses it back. This
module imports the standard library only: the supervisor loads it at every job start.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

# The signals a job may ask for: those a program can catch and that do not stop it outright.
SIGNALS = ("HUP", "INT", "QUIT", "USR1", "USR2", "ALRM", "TERM", "CONT", "URG", "WINCH")
DEFAULT_BEFORE_S = 60  # Slurm's default
MAX_BEFORE_S = 65_535  # Slurm's largest


@dataclass(frozen=True, slots=True)
class TimeSignal:
    """Send signal ``name`` (``USR1``) ``before_s`` seconds before the time limit, to the main
    process only (``main_only``) or to every process of the job."""

    name: str
    before_s: int = DEFAULT_BEFORE_S
    main_only: bool = False

    @property
    def number(self) -> int:
        return int(signal.Signals["SIG" + self.name])

    def __str__(self) -> str:
        return f"{'B:' if self.main_only else ''}{self.name}@{self.before_s}"

    @classmethod
    def parse(cls, text: str) -> TimeSignal:
        """``[B:|R:]SIG[@SECONDS]``: SIG a name (``USR1``, ``SIGUSR1``, any case) or number
        (``10``); SECONDS 0 to 65,535, 60 if left out. ``R:`` (Slurm's reservation overlap)
        is accepted and means nothing here. ``ValueError`` saying why otherwise."""
        body = text.strip()
        main_only = False
        head, colon, rest = body.partition(":")
        if colon:
            if head.upper() not in ("B", "R"):
                raise ValueError(f"{text!r}: before ':' only B (the main process) or R may come")
            main_only, body = head.upper() == "B", rest
        sig, at, seconds = body.partition("@")
        name = _name(sig.strip(), text)
        before = DEFAULT_BEFORE_S
        if at:
            if not seconds.strip().isdigit() or int(seconds) > MAX_BEFORE_S:
                raise ValueError(
                    f"{text!r}: after '@' give whole seconds from 0 to {MAX_BEFORE_S:,} "
                    "before the time limit"
                )
            before = int(seconds)
        return cls(name, before, main_only)


def signal_now(text: str) -> str:
    """The canonical words of a signal to send now (``scancel --signal``): ``[B:]SIG``, no
    ``@SECONDS``; ``ValueError`` saying why otherwise."""
    if "@" in text:
        raise ValueError(f"{text!r}: a signal sent now takes no @SECONDS")
    sent = TimeSignal.parse(text)
    return f"{'B:' if sent.main_only else ''}{sent.name}"


def _name(sig: str, text: str) -> str:
    known = ", ".join(SIGNALS)
    if sig.isdigit():
        try:
            name = signal.Signals(int(sig)).name.removeprefix("SIG")
        except ValueError:
            raise ValueError(f"{text!r}: {sig} is no signal number (give one of {known})") from None
    else:
        name = sig.upper().removeprefix("SIG")
    if name not in SIGNALS:
        raise ValueError(
            f"{text!r}: {sig or 'nothing'} is not a signal a job may ask for ({known})"
        )
    return name
