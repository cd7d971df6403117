"""the tenant-facing API's keys and audit log; one row per sync run; live progress columns on channel_sync_jobs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:40:00.000000

`api_keys` holds only a SHA-256 hash of each key. `api_audit_log` records every state-changing API call.
`sync_runs` has one row per Dagster run that synced a tenant's messages, updated every few seconds while it runs;
`channel_sync_jobs.last_message_id` and `progress_at` carry each running channel's live progress.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.add_column("channel_sync_jobs", sa.Column("last_message_id", sa.BigInteger(), nullable=True))
    op.add_column("channel_sync_jobs", sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sync_runs",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), server_default="running", nullable=False),
        sa.Column("channels_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("channels_unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("channels_complete", sa.Integer(), server_default="0", nullable=False),
        sa.Column("channels_skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("channels_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("channels_running", sa.Integer(), server_default="0", nullable=False),
        sa.Column("messages", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("messages_per_second", sa.Float(), server_default="0", nullable=False),
        sa.Column("discord_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rate_limit_hits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("invalid_requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("limiter_wait_seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'complete', 'partial', 'failed')", name=op.f("ck_sync_runs_known_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sync_runs_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_sync_runs")),
    )
    op.create_index(op.f("ix_sync_runs_tenant_id_started_at"), "sync_runs", ["tenant_id", "started_at"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id ~ '^[a-z0-9]{8}$'", name=op.f("ck_api_keys_id_is_short")),
        sa.CheckConstraint("is_admin = (tenant_id IS NULL)", name=op.f("ck_api_keys_admin_or_tenant")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_api_keys_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "api_audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_audit_log")),
    )
    op.create_index(op.f("ix_api_audit_log_at"), "api_audit_log", ["at"])
    op.create_index(op.f("ix_api_audit_log_tenant_id_at"), "api_audit_log", ["tenant_id", "at"])


def downgrade() -> None:
    op.drop_table("api_audit_log")
    op.drop_table("api_keys")
    op.drop_table("sync_runs")
    op.drop_column("channel_sync_jobs", "progress_at")
    op.drop_column("channel_sync_jobs", "last_message_id")
