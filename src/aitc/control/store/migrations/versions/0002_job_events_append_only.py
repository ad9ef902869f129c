"""job_events is append-only: the database itself refuses to update or delete its rows.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE = "job_events is append-only: its rows are never updated or deleted"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION job_events_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql""")
        for when in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER job_events_no_{when.lower()} BEFORE {when} ON job_events
                FOR EACH ROW EXECUTE FUNCTION job_events_append_only()""")
        return
    for when in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER job_events_no_{when.lower()} BEFORE {when} ON job_events
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade() -> None:
    for when in ("update", "delete"):
        op.execute(
            f"DROP TRIGGER job_events_no_{when}"
            + (" ON job_events" if op.get_bind().dialect.name == "postgresql" else "")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION job_events_append_only()")
