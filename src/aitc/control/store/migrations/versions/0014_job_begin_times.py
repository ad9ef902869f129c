"""A job's begin time (``jobs.begin_at``: sbatch's ``--begin``, ``aitc update --begin``), in
epoch seconds: the controller leaves the pending job out of scheduling until then (its reason
is ``begin_time``). NULL: it may start at once.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("begin_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("begin_at")
