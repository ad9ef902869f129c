"""Courses: courses, instructor certifications, sessions (each holding a reservation),
their instructors, enrolments and certificates.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("mig_profile", sa.String(length=32), nullable=True),
        sa.Column("gpus_per_seat", sa.Integer(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("lab_command", sa.JSON(), nullable=False),
        sa.Column("assessment_command", sa.JSON(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_courses_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
    )
    op.create_index(op.f("ix_courses_org_id"), "courses", ["org_id"], unique=False)
    op.create_table(
        "course_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("course_id", sa.String(length=64), nullable=False),
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("start_at", sa.Float(), nullable=False),
        sa.Column("end_at", sa.Float(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("waitlist", sa.Integer(), nullable=False),
        sa.Column("cancel_deadline_at", sa.Float(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_sessions_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_course_sessions_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_course_sessions_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_sessions")),
        sa.UniqueConstraint("reservation_id", name=op.f("uq_course_sessions_reservation_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_course_sessions_course_id"), "course_sessions", ["course_id"], unique=False
    )
    op.create_table(
        "instructor_certifications",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_instructor_certifications_course_id_courses"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_instructor_certifications_member_id_members"),
        ),
        sa.PrimaryKeyConstraint(
            "member_id", "course_id", name=op.f("pk_instructor_certifications")
        ),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_enrolments_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["course_sessions.id"],
            name=op.f("fk_enrolments_session_id_course_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
        sa.UniqueConstraint("session_id", "member_id", name="uq_enrolments_session_member"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_enrolments_member_id"), "enrolments", ["member_id"], unique=False)
    op.create_index(op.f("ix_enrolments_session_id"), "enrolments", ["session_id"], unique=False)
    op.create_table(
        "session_instructors",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_session_instructors_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["course_sessions.id"],
            name=op.f("fk_session_instructors_session_id_course_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", "member_id", name=op.f("pk_session_instructors")),
    )
    op.create_index(
        op.f("ix_session_instructors_member_id"), "session_instructors", ["member_id"], unique=False
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("credential", sa.JSON(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["enrolments.id"],
            name=op.f("fk_certificates_enrolment_id_enrolments"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_certificates_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("enrolment_id", name=op.f("uq_certificates_enrolment_id")),
    )
    op.create_index(op.f("ix_certificates_member_id"), "certificates", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_certificates_member_id"), table_name="certificates")
    op.drop_table("certificates")
    op.drop_index(op.f("ix_session_instructors_member_id"), table_name="session_instructors")
    op.drop_table("session_instructors")
    op.drop_index(op.f("ix_enrolments_session_id"), table_name="enrolments")
    op.drop_index(op.f("ix_enrolments_member_id"), table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_table("instructor_certifications")
    op.drop_index(op.f("ix_course_sessions_course_id"), table_name="course_sessions")
    op.drop_table("course_sessions")
    op.drop_index(op.f("ix_courses_org_id"), table_name="courses")
    op.drop_table("courses")
