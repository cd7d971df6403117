"""refused API calls: how the key fared and from where; the throttle's failure counts

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-06 04:30:00.000000

`api_audit_log` gains `key_status` (valid, missing, malformed, unknown, revoked, wrong_secret) and `client` (the
caller's address), so a refused call is recorded with the key id it presented. `api_auth_failures` counts failed
authentications per client address and per key id in the current window; every API process reads it, so the
throttle holds across processes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_audit_log", sa.Column("key_status", sa.Text(), nullable=True))
    op.add_column("api_audit_log", sa.Column("client", sa.Text(), nullable=True))
    op.create_table(
        "api_auth_failures",
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_api_auth_failures")),
    )
    op.create_index(op.f("ix_api_auth_failures_window_started_at"), "api_auth_failures", ["window_started_at"])


def downgrade() -> None:
    op.drop_table("api_auth_failures")
    op.drop_column("api_audit_log", "client")
    op.drop_column("api_audit_log", "key_status")
