"""Course labs: each course's lab limits (no-show, idle, warning, assessment, in minutes),
learners' labs and assessment runs.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The defaults of aitc.domain.courselab.LabRules when the migration was written: existing
# courses get them (a migration must not change with later code).
_LIMITS = (
    ("no_show_min", "15"),
    ("idle_limit_min", "30"),
    ("idle_warning_min", "5"),
    ("assessment_limit_min", "15"),
)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    ref = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{ref}"))


def upgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        for column, default in _LIMITS:
            batch.add_column(sa.Column(column, sa.Float(), nullable=False, server_default=default))
    with op.batch_alter_table("courses") as batch:  # the defaults were for existing rows only
        for column, _ in _LIMITS:
            batch.alter_column(column, server_default=None)
    op.create_table(
        "course_labs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ready_at", sa.Float(), nullable=True),
        sa.Column("reached_at", sa.Float(), nullable=True),
        sa.Column("last_active_at", sa.Float(), nullable=False),
        sa.Column("warned_at", sa.Float(), nullable=True),
        sa.Column("stopped_at", sa.Float(), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=False),
        sa.Column("seen_activity", sa.String(length=64), nullable=False),
        sa.Column("gpu_busy_samples", sa.Integer(), nullable=False),
        _fk("course_labs", "enrolment_id", "enrolments.id"),
        _fk("course_labs", "job_id", "jobs.id"),
        _fk("course_labs", "member_id", "members.id"),
        _fk("course_labs", "session_id", "course_sessions.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_labs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_course_labs_job_id")),
        sqlite_autoincrement=True,
    )
    for column in ("enrolment_id", "member_id", "session_id", "state"):
        op.create_index(op.f(f"ix_course_labs_{column}"), "course_labs", [column], unique=False)
    op.create_table(
        "course_assessments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        _fk("course_assessments", "enrolment_id", "enrolments.id"),
        _fk("course_assessments", "job_id", "jobs.id"),
        _fk("course_assessments", "member_id", "members.id"),
        _fk("course_assessments", "session_id", "course_sessions.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_assessments")),
        sa.UniqueConstraint("job_id", name=op.f("uq_course_assessments_job_id")),
        sqlite_autoincrement=True,
    )
    for column in ("enrolment_id", "member_id", "session_id", "state"):
        op.create_index(
            op.f(f"ix_course_assessments_{column}"), "course_assessments", [column], unique=False
        )


def downgrade() -> None:
    for table in ("course_assessments", "course_labs"):
        for column in ("state", "session_id", "member_id", "enrolment_id"):
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
    with op.batch_alter_table("courses") as batch:
        for column, _ in reversed(_LIMITS):
            batch.drop_column(column)
