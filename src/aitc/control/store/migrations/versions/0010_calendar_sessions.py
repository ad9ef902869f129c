"""Sessions know where they came from (``origin``: ``instructor`` or ``calendar``) and may be
cancelled (``cancelled_at``; a cancelled session holds no reservation, so ``reservation_id``
may be empty). Sessions that ``aitc lab apply`` created before this migration are found in
the record of lab applies (their ``session N of COURSE: created, …`` lines) and marked
``calendar``; every other session was made by hand.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Recreating the table on SQLite keeps session numbers from ever being reused.
_BATCH = {"table_kwargs": {"sqlite_autoincrement": True}}
# The words aitc.control.courses.calendar wrote for a session it created, up to this revision.
_CREATED = re.compile(r"^session (\d+) of \S+: created, ")


def upgrade() -> None:
    with op.batch_alter_table("course_sessions", **_BATCH) as batch:
        batch.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="instructor")
        )
        batch.add_column(sa.Column("cancelled_at", sa.Float(), nullable=True))
        batch.alter_column("reservation_id", existing_type=sa.String(length=64), nullable=True)
    with op.batch_alter_table(
        "course_sessions", **_BATCH
    ) as batch:  # the default was for existing rows
        batch.alter_column("origin", existing_type=sa.String(length=16), server_default=None)
    _mark_calendar_sessions()


def _mark_calendar_sessions() -> None:
    conn = op.get_bind()
    applies = sa.table("lab_applies", sa.column("changes", sa.JSON()))
    sessions = sa.table("course_sessions", sa.column("id", sa.Integer()), sa.column("origin"))
    ids = {
        int(m[1])
        for (changes,) in conn.execute(sa.select(applies.c.changes))
        for line in changes or ()
        if isinstance(line, str) and (m := _CREATED.match(line))
    }
    if ids:
        conn.execute(
            sa.update(sessions).where(sessions.c.id.in_(sorted(ids))).values(origin="calendar")
        )


def downgrade() -> None:
    with op.batch_alter_table("course_sessions", **_BATCH) as batch:
        batch.alter_column("reservation_id", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("cancelled_at")
        batch.drop_column("origin")
