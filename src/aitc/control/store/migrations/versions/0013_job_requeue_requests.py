"""A running job asked back to the queue (``jobs.requeue_request``: ``aitc requeue ID``, as
``scontrol requeue``: ``requeue MEMBER``, or ``hold MEMBER`` for ``--hold``, as ``scontrol
requeuehold``, with the member who asked): the controller
stops its attempt at its next pass, puts it back at its place in the queue (held, for
``hold``) and clears it.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("requeue_request", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("requeue_request")
