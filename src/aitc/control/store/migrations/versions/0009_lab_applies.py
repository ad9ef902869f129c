"""Lab applies (``lab_applies``): when lab.yaml was applied to the store, which lab, and the
changes made, for the admins' page of the organisations.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lab_applies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("applied_at", sa.Float(), nullable=False),
        sa.Column("lab", sa.String(length=200), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_applies")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("lab_applies")
