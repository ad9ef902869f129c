"""An admin's state for a node (``node_drains``: ``aitc node drain NODE --reason TEXT`` or
``aitc node down``, as ``scontrol update NodeName=X State=DRAIN Reason=...``), with who set it
and when; kept apart from ``nodes``, which the executor's reports overwrite, and deleted by
``aitc node resume``.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_drains",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["node"], ["nodes.name"], name=op.f("fk_node_drains_node_nodes")),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_node_drains")),
    )


def downgrade() -> None:
    op.drop_table("node_drains")
