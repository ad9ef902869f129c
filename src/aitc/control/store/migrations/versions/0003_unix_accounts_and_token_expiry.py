"""Members are Unix accounts (unix_user, uid, gid) with per-member limits; tokens expire.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("unix_user", sa.String(64), nullable=True))
        batch.add_column(sa.Column("uid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("gid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("limits")
        batch.drop_column("gid")
        batch.drop_column("uid")
        batch.drop_column("unix_user")
