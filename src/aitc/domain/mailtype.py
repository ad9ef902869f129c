"""When a member is told by e-mail about a job, as Slurm's ``--mail-type``.

A comma-separated list of Slurm's names: ``BEGIN`` (the job starts), ``END`` (it ends, in
any state), ``FAIL`` (it fails or runs out of time: sent in place of ``END``), ``REQUEUE``
(it goes back to the queue), ``TIME_LIMIT`` (it reached its time limit), ``TIME_LIMIT_90``,
``_80``, ``_50`` (it ran for that share of its limit), ``ARRAY_TASKS`` (an array's tasks
mail one by one; without it ``BEGIN``, ``END`` and ``FAIL`` come once for the whole array),
``ALL`` (``BEGIN,END,FAIL,REQUEUE``, Slurm's ``ALL`` less what aitc has no use for) and
``NONE``. Slurm's ``INVALID_DEPEND``, ``STAGE_OUT`` and ``BURST_BUFFER`` mean nothing here and
are refused. The API stores the canonical text (``str``).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "BEGIN",
    "END",
    "FAIL",
    "REQUEUE",
    "TIME_LIMIT",
    "TIME_LIMIT_90",
    "TIME_LIMIT_80",
    "TIME_LIMIT_50",
    "ARRAY_TASKS",
)
ALL = ("BEGIN", "END", "FAIL", "REQUEUE")
# The warnings before the limit, with the share of the limit each waits for.
SHARES = {"TIME_LIMIT_50": 0.5, "TIME_LIMIT_80": 0.8, "TIME_LIMIT_90": 0.9}


@dataclass(frozen=True, slots=True)
class MailTypes:
    """The events a job mails about (empty: none)."""

    kinds: frozenset[str] = frozenset()

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds

    def __bool__(self) -> bool:
        return bool(self.kinds - {"ARRAY_TASKS"})

    def __str__(self) -> str:
        return ",".join(k for k in KINDS if k in self.kinds) or "NONE"

    @property
    def shares(self) -> dict[str, float]:
        """The warnings before the time limit it asks for, with their share of the limit."""
        return {k: s for k, s in SHARES.items() if k in self.kinds}

    @classmethod
    def parse(cls, text: str) -> MailTypes:
        """``BEGIN,END``, ``ALL``, ``NONE`` … in any case; ``ValueError`` naming what is wrong."""
        kinds: set[str] = set()
        words = [w.strip().upper() for w in text.split(",")]
        for word in words:
            if word == "ALL":
                kinds.update(ALL)
            elif word == "NONE":
                if len(words) > 1:
                    raise ValueError("NONE stands alone")
            elif word in KINDS:
                kinds.add(word)
            else:
                raise ValueError(
                    f"{word or text!r} is not a mail type: give NONE, ALL or a comma-separated "
                    f"list of {', '.join(KINDS)}"
                )
        return cls(frozenset(kinds))
