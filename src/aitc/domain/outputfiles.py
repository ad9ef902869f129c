"""A job's own output files (``aitc submit -o/--output``, ``-e/--error``), named as sbatch names
them: a filename pattern that the server expands when it starts an attempt.

The escapes are Slurm's: ``%j`` the job's number, ``%A`` its array's number (the job's own
outside an array), ``%a`` its task index in the array (4294967294 outside one, as Slurm's
"no value"), ``%x`` its name, ``%u`` its member's Unix account, ``%N`` the first node it runs
on, ``%%`` a ``%``. A digit between ``%`` and a number's letter pads it with zeros (``%4a``:
``0007``), as Slurm does. Any other escape is an error, as is a pattern that a file name
cannot carry (a NUL or a line break) or one longer than ``MAX_PATTERN_CHARS``.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PATTERN_CHARS = 4096
NO_ARRAY_TASK = 4294967294  # Slurm's NO_VAL: what %a becomes for a job outside an array
ESCAPES = {
    "j": "the job's number",
    "A": "the array's number",
    "a": "the task's index in the array",
    "x": "the job's name",
    "u": "the member's Unix account",
    "N": "the first node",
    "%": "a %",
}
OPEN_MODES = ("append", "truncate")


def check_pattern(text: str) -> str:
    """``text`` if it is a filename pattern aitc can expand; ``ValueError`` saying why not."""
    if len(text) > MAX_PATTERN_CHARS:
        raise ValueError(f"is longer than {MAX_PATTERN_CHARS} characters")
    if not text.strip():
        raise ValueError("must name a file")
    for char, what in (("\x00", "NUL characters"), ("\n", "line breaks"), ("\r", "line breaks")):
        if char in text:
            raise ValueError(f"must not contain {what}")
    for escape in _escapes(text):
        if not escape:
            raise ValueError("ends in a lone %: write %% for a % in the name")
        if escape not in ESCAPES:
            known = ", ".join(f"%{k}" for k in ESCAPES)
            raise ValueError(f"%{escape} is not a filename pattern aitc knows (known: {known})")
    return text


def _escapes(text: str) -> list[str]:
    """The letter of each ``%`` escape in ``text`` ("" for a ``%`` at the end)."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "%":
            i += 1
            if i < len(text) and text[i].isdigit():
                i += 1
            found.append(text[i] if i < len(text) else "")
        i += 1
    return found


@dataclass(frozen=True, slots=True)
class PatternValues:
    """What a pattern's escapes stand for, in one attempt of one job."""

    job_id: int
    name: str
    user: str
    node: str
    array_job_id: int | None = None
    array_task_id: int | None = None


def expand(pattern: str, values: PatternValues) -> str:
    """``pattern`` with its escapes replaced (it passed ``check_pattern``)."""
    array_job = values.array_job_id if values.array_job_id is not None else values.job_id
    task = values.array_task_id if values.array_task_id is not None else NO_ARRAY_TASK
    numbers = {"j": values.job_id, "A": array_job, "a": task}
    words = {"x": values.name, "u": values.user, "N": values.node, "%": "%"}
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char != "%" or i >= len(pattern):
            out.append(char)
            continue
        width = 0
        if pattern[i].isdigit() and i + 1 < len(pattern):
            width, i = int(pattern[i]), i + 1
        letter = pattern[i]
        i += 1
        if letter in numbers:
            out.append(str(numbers[letter]).zfill(width))
        else:
            out.append(words.get(letter, "%" + letter))
    return "".join(out)
