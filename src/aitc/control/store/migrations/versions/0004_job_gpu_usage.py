"""GPU usage per attempt (NVML samples aggregated: mean, p95, idle share).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_gpu_usage",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("util_mean_pct", sa.Float(), nullable=True),
        sa.Column("util_p95_pct", sa.Float(), nullable=True),
        sa.Column("idle_share", sa.Float(), nullable=True),
        sa.Column("memory_mean_mib", sa.Float(), nullable=False),
        sa.Column("memory_max_mib", sa.Float(), nullable=False),
        sa.Column("power_mean_w", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "attempt", name=op.f("pk_job_gpu_usage")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_gpu_usage_job_id_jobs")),
    )


def downgrade() -> None:
    op.drop_table("job_gpu_usage")
