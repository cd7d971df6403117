"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 21:03:39.941282
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# Every insert into or delete from `tenants`, by the CLI or by plain SQL, leaves a row in `tenant_changes`, so
# the new-tenant sensor reads only what changed since its cursor instead of scanning the tenants.
TENANT_CHANGES_TRIGGER = """
CREATE FUNCTION record_tenant_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_changes (tenant_id, change) VALUES (NEW.id, 'added');
        RETURN NEW;
    END IF;
    INSERT INTO tenant_changes (tenant_id, change) VALUES (OLD.id, 'removed');
    RETURN OLD;
END $$;
CREATE TRIGGER tenants_record_change AFTER INSERT OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION record_tenant_change();
"""


def upgrade() -> None:
    op.create_table(
        "request_rate_limiter",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("next_slot_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_request_rate_limiter")),
    )
    op.create_table(
        "tenant_changes",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("change IN ('added', 'removed')", name=op.f("ck_tenant_changes_known_change")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tenant_changes")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("platform", sa.Text(), server_default="discord", nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name=op.f("ck_tenants_id_is_slug")),
        sa.CheckConstraint("platform IN ('discord')", name=op.f("ck_tenants_known_platform")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("platform", "guild_id", name=op.f("uq_tenants_platform_guild_id")),
    )
    op.create_table(
        "channel_sync_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("messages", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("messages_per_second", sa.Float(), nullable=True),
        sa.Column("rate_limit_waits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'complete', 'failed', 'skipped')", name=op.f("ck_channel_sync_jobs_known_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_channel_sync_jobs_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_sync_jobs")),
    )
    op.create_index(op.f("ix_channel_sync_jobs_finished_at"), "channel_sync_jobs", ["finished_at"], unique=False)
    op.create_index(op.f("ix_channel_sync_jobs_run_id"), "channel_sync_jobs", ["run_id"], unique=False)
    op.create_index(
        op.f("ix_channel_sync_jobs_tenant_id_channel_id_started_at"),
        "channel_sync_jobs",
        ["tenant_id", "channel_id", "started_at"],
        unique=False,
    )
    op.create_table(
        "channels",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("is_thread", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("nsfw", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("owner_hash", sa.Text(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("available_tags", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("applied_tag_ids", postgresql.ARRAY(sa.BigInteger()), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=True),
        sa.Column("last_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_channels_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_channels")),
    )
    op.create_index(op.f("ix_channels_tenant_id_parent_id"), "channels", ["tenant_id", "parent_id"], unique=False)
    op.create_table(
        "sync_progress",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("last_message_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("messages_synced", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'complete', 'failed', 'skipped')",
            name=op.f("ck_sync_progress_known_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sync_progress_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "channel_id", name=op.f("pk_sync_progress")),
    )
    op.create_table(
        "messages",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("author_hash", sa.Text(), nullable=True),
        sa.Column("author_is_bot", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_webhook", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("reply_to_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("pinned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("mention_everyone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("mentioned_user_hashes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("mentioned_role_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("flags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "channel_id"],
            ["channels.tenant_id", "channels.id"],
            name=op.f("fk_messages_tenant_id_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_messages_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_messages")),
    )
    op.create_index(op.f("ix_messages_tenant_id_author_hash"), "messages", ["tenant_id", "author_hash"], unique=False)
    op.create_index(
        op.f("ix_messages_tenant_id_channel_id_id"), "messages", ["tenant_id", "channel_id", "id"], unique=False
    )
    op.create_index(op.f("ix_messages_tenant_id_created_at"), "messages", ["tenant_id", "created_at"], unique=False)
    op.create_index(op.f("ix_messages_tenant_id_reply_to_id"), "messages", ["tenant_id", "reply_to_id"], unique=False)
    op.create_table(
        "message_attachments",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("proxy_url", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "message_id"],
            ["messages.tenant_id", "messages.id"],
            name=op.f("fk_message_attachments_tenant_id_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_message_attachments_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_message_attachments")),
    )
    op.create_index(
        op.f("ix_message_attachments_tenant_id_message_id"),
        "message_attachments",
        ["tenant_id", "message_id"],
        unique=False,
    )
    op.create_table(
        "message_emoji_reactions",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji_key", sa.Text(), nullable=False),
        sa.Column("emoji_id", sa.BigInteger(), nullable=True),
        sa.Column("emoji_name", sa.Text(), nullable=True),
        sa.Column("emoji_animated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("normal_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("burst_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "message_id"],
            ["messages.tenant_id", "messages.id"],
            name=op.f("fk_message_emoji_reactions_tenant_id_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_message_emoji_reactions_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "message_id", "emoji_key", name=op.f("pk_message_emoji_reactions")),
    )
    op.create_index(
        op.f("ix_message_emoji_reactions_tenant_id_emoji_name"),
        "message_emoji_reactions",
        ["tenant_id", "emoji_name"],
        unique=False,
    )
    op.execute(TENANT_CHANGES_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS tenants_record_change ON tenants")
    op.execute("DROP FUNCTION IF EXISTS record_tenant_change()")
    op.drop_index(op.f("ix_message_emoji_reactions_tenant_id_emoji_name"), table_name="message_emoji_reactions")
    op.drop_table("message_emoji_reactions")
    op.drop_index(op.f("ix_message_attachments_tenant_id_message_id"), table_name="message_attachments")
    op.drop_table("message_attachments")
    op.drop_index(op.f("ix_messages_tenant_id_reply_to_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_tenant_id_created_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_tenant_id_channel_id_id"), table_name="messages")
    op.drop_index(op.f("ix_messages_tenant_id_author_hash"), table_name="messages")
    op.drop_table("messages")
    op.drop_table("sync_progress")
    op.drop_index(op.f("ix_channels_tenant_id_parent_id"), table_name="channels")
    op.drop_table("channels")
    op.drop_index(op.f("ix_channel_sync_jobs_tenant_id_channel_id_started_at"), table_name="channel_sync_jobs")
    op.drop_index(op.f("ix_channel_sync_jobs_run_id"), table_name="channel_sync_jobs")
    op.drop_index(op.f("ix_channel_sync_jobs_finished_at"), table_name="channel_sync_jobs")
    op.drop_table("channel_sync_jobs")
    op.drop_table("tenants")
    op.drop_table("tenant_changes")
    op.drop_table("request_rate_limiter")
