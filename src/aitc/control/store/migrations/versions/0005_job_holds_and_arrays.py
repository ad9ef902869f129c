"""Jobs can be held (``held``) and belong to a job array (``array_job_id``, ``array_task_id``,
``array_throttle``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("array_job_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("array_task_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("array_throttle", sa.Integer(), nullable=True))
        batch.create_index("ix_jobs_array_job_id", ["array_job_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_array_job_id")
        batch.drop_column("array_throttle")
        batch.drop_column("array_task_id")
        batch.drop_column("array_job_id")
        batch.drop_column("held")
