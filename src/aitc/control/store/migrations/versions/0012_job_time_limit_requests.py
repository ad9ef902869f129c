"""A running job's new time limit, to push to its executor (``jobs.time_limit_request``:
``aitc update ID --time 30`` on a running job, as ``scontrol update JobId=N TimeLimit=30``), in
seconds counted from the job's start; the controller hands it to the executor at its next pass
and clears it. The job's own limit (``jobs.time_limit`` and its spec) changes at once.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("time_limit_request", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("time_limit_request")
