"""A signal asked for a running job (``jobs.signal_request``: ``aitc cancel --signal USR1``, as
``scancel --signal``), in ``TimeSignal``'s words without a time (``USR1``, ``B:USR1``); the
controller sends it at its next pass and clears it.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("signal_request", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("signal_request")
