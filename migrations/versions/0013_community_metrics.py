"""community metrics: the changed-days log its triggers keep, and the metric tables

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:00:00.000000

`metric_changed_days` records, per tenant, each UTC day whose messages or reactions a statement changed, and each
join/leave day of members whose join, leave or bot flag changed: statement triggers (one `INSERT ... SELECT
DISTINCT` per statement over its transition tables, never a per-row trigger) on `messages`,
`message_emoji_reactions` and `members`. The community metrics recompute only those days, then consume the record
(`store/community_metrics.py`). The metric tables hold only hashes and counts. Every day of the history already
stored is noted, so each tenant's first metrics run computes it all.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# A reaction's day is its message's: the day of the message id's snowflake time, which is the message's created_at
# (so the trigger needs no join to `messages`). The EXISTS guard skips the deletes a tenant's removal cascades.
TRIGGERS = """
CREATE FUNCTION note_changed_message_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_changed_days (tenant_id, day)
    SELECT DISTINCT c.tenant_id, (c.created_at AT TIME ZONE 'UTC')::date FROM changed c
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id);
    RETURN NULL;
END $$;
CREATE FUNCTION note_changed_reaction_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_changed_days (tenant_id, day)
    SELECT DISTINCT c.tenant_id,
           (to_timestamp(((c.message_id >> 22) + 1420070400000) / 1000.0) AT TIME ZONE 'UTC')::date
    FROM changed c
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id);
    RETURN NULL;
END $$;
-- A member's join and leave days, old and new, when they (or whether the member is a bot) changed: a listing that
-- only refreshes last_seen_at notes nothing.
CREATE FUNCTION note_inserted_member_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_changed_days (tenant_id, day, source)
    SELECT DISTINCT c.tenant_id, v.day, 'members' FROM changed c
    CROSS JOIN LATERAL (VALUES ((c.joined_at AT TIME ZONE 'UTC')::date), ((c.left_at AT TIME ZONE 'UTC')::date)) v(day)
    WHERE v.day IS NOT NULL AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id);
    RETURN NULL;
END $$;
CREATE FUNCTION note_updated_member_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_changed_days (tenant_id, day, source)
    SELECT DISTINCT n.tenant_id, v.day, 'members' FROM new_rows n
    JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.member_hash = n.member_hash
    CROSS JOIN LATERAL (VALUES ((o.joined_at AT TIME ZONE 'UTC')::date), ((n.joined_at AT TIME ZONE 'UTC')::date),
                               ((o.left_at AT TIME ZONE 'UTC')::date), ((n.left_at AT TIME ZONE 'UTC')::date)) v(day)
    WHERE v.day IS NOT NULL AND (o.joined_at, o.left_at, o.is_bot) IS DISTINCT FROM (n.joined_at, n.left_at, n.is_bot)
      AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = n.tenant_id);
    RETURN NULL;
END $$;
CREATE TRIGGER members_note_inserted_days AFTER INSERT ON members
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_inserted_member_days();
CREATE TRIGGER members_note_updated_days AFTER UPDATE ON members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_updated_member_days();
CREATE TRIGGER members_note_deleted_days AFTER DELETE ON members
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_inserted_member_days();
CREATE TRIGGER messages_note_inserted_days AFTER INSERT ON messages
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_changed_message_days();
CREATE TRIGGER messages_note_updated_days AFTER UPDATE ON messages
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_changed_message_days();
CREATE TRIGGER messages_note_deleted_days AFTER DELETE ON messages
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_changed_message_days();
CREATE TRIGGER reactions_note_inserted_days AFTER INSERT ON message_emoji_reactions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_changed_reaction_days();
CREATE TRIGGER reactions_note_updated_days AFTER UPDATE ON message_emoji_reactions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_changed_reaction_days();
CREATE TRIGGER reactions_note_deleted_days AFTER DELETE ON message_emoji_reactions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_changed_reaction_days();
"""

DROP_TRIGGERS = """
DROP TRIGGER members_note_inserted_days ON members;
DROP TRIGGER members_note_updated_days ON members;
DROP TRIGGER members_note_deleted_days ON members;
DROP FUNCTION note_inserted_member_days();
DROP FUNCTION note_updated_member_days();
DROP TRIGGER messages_note_inserted_days ON messages;
DROP TRIGGER messages_note_updated_days ON messages;
DROP TRIGGER messages_note_deleted_days ON messages;
DROP TRIGGER reactions_note_inserted_days ON message_emoji_reactions;
DROP TRIGGER reactions_note_updated_days ON message_emoji_reactions;
DROP TRIGGER reactions_note_deleted_days ON message_emoji_reactions;
DROP FUNCTION note_changed_message_days();
DROP FUNCTION note_changed_reaction_days();
"""


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.Text(), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _computed_at() -> sa.Column:
    return sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "metric_changed_days",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), server_default="messages", nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _tenant_fk("metric_changed_days"),
        sa.CheckConstraint("source IN ('messages', 'members')", name=op.f("ck_metric_changed_days_known_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_changed_days")),
    )
    op.create_index(op.f("ix_metric_changed_days_tenant_id"), "metric_changed_days", ["tenant_id"])
    op.create_table(
        "daily_communicators",
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("author_hash", sa.Text(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("first_message_id", sa.BigInteger(), nullable=False),
        sa.Column("first_channel_id", sa.BigInteger(), nullable=False),
        _computed_at(),
        _tenant_fk("daily_communicators"),
        sa.PrimaryKeyConstraint("tenant_id", "day", "author_hash", name=op.f("pk_daily_communicators")),
    )
    op.create_index(
        op.f("ix_daily_communicators_tenant_id_author_hash_day"),
        "daily_communicators",
        ["tenant_id", "author_hash", "day"],
    )
    op.create_table(
        "communicator_first_messages",
        _tenant(),
        sa.Column("author_hash", sa.Text(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("first_message_id", sa.BigInteger(), nullable=False),
        sa.Column("first_channel_id", sa.BigInteger(), nullable=False),
        _computed_at(),
        _tenant_fk("communicator_first_messages"),
        sa.PrimaryKeyConstraint("tenant_id", "author_hash", name=op.f("pk_communicator_first_messages")),
    )
    op.create_index(
        op.f("ix_communicator_first_messages_tenant_id_first_day"),
        "communicator_first_messages",
        ["tenant_id", "first_day"],
    )
    op.create_table(
        "channel_daily_activity",
        _tenant(),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("communicators", sa.Integer(), nullable=False),
        sa.Column("new_communicators", sa.Integer(), nullable=False),
        sa.Column("reactions", sa.Integer(), nullable=False),
        _computed_at(),
        _tenant_fk("channel_daily_activity"),
        sa.PrimaryKeyConstraint("tenant_id", "day", "channel_id", name=op.f("pk_channel_daily_activity")),
    )
    op.create_table(
        "daily_active_members",
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("daily", sa.Integer(), nullable=False),
        sa.Column("weekly", sa.Integer(), nullable=False),
        sa.Column("days_28", sa.Integer(), nullable=False),
        _computed_at(),
        _tenant_fk("daily_active_members"),
        sa.PrimaryKeyConstraint("tenant_id", "day", name=op.f("pk_daily_active_members")),
    )
    op.create_table(
        "weekly_retention",
        _tenant(),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("new_communicators", sa.Integer(), nullable=False),
        sa.Column("retained_next_week", sa.Integer(), nullable=False),
        _computed_at(),
        _tenant_fk("weekly_retention"),
        sa.PrimaryKeyConstraint("tenant_id", "week", name=op.f("pk_weekly_retention")),
    )
    op.create_table(
        "thread_first_replies",
        _tenant(),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("first_reply_seconds", sa.Float(), nullable=True),
        _computed_at(),
        _tenant_fk("thread_first_replies"),
        sa.CheckConstraint("kind IN ('forum_post', 'thread')", name=op.f("ck_thread_first_replies_known_kind")),
        sa.PrimaryKeyConstraint("tenant_id", "thread_id", name=op.f("pk_thread_first_replies")),
    )
    op.create_index(
        op.f("ix_thread_first_replies_tenant_id_created_day"), "thread_first_replies", ["tenant_id", "created_day"]
    )
    op.create_table(
        "daily_responsiveness",
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("answered_within_24h", sa.Integer(), nullable=False),
        sa.Column("median_first_reply_seconds", sa.Float(), nullable=True),
        sa.Column("p90_first_reply_seconds", sa.Float(), nullable=True),
        _computed_at(),
        _tenant_fk("daily_responsiveness"),
        sa.CheckConstraint("kind IN ('forum_post', 'thread')", name=op.f("ck_daily_responsiveness_known_kind")),
        sa.PrimaryKeyConstraint("tenant_id", "day", "kind", name=op.f("pk_daily_responsiveness")),
    )
    op.create_table(
        "member_daily",
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("joins", sa.Integer(), nullable=False),
        sa.Column("leaves", sa.Integer(), nullable=False),
        sa.Column("activated", sa.Integer(), nullable=False),
        _computed_at(),
        _tenant_fk("member_daily"),
        sa.PrimaryKeyConstraint("tenant_id", "day", name=op.f("pk_member_daily")),
    )
    op.execute(TRIGGERS)
    # The history already stored: every day with messages or member joins/leaves is noted, so each tenant's first
    # metrics run computes it.
    op.execute(
        "INSERT INTO metric_changed_days (tenant_id, day) "
        "SELECT DISTINCT m.tenant_id, (m.created_at AT TIME ZONE 'UTC')::date FROM messages m "
        "WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = m.tenant_id)"
    )
    op.execute(
        "INSERT INTO metric_changed_days (tenant_id, day, source) "
        "SELECT DISTINCT tenant_id, (at AT TIME ZONE 'UTC')::date, 'members' FROM ("
        "  SELECT tenant_id, joined_at AS at FROM members UNION ALL SELECT tenant_id, left_at FROM members"
        ") j WHERE at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    for table in (
        "member_daily",
        "daily_responsiveness",
        "thread_first_replies",
        "weekly_retention",
        "daily_active_members",
        "channel_daily_activity",
        "communicator_first_messages",
        "daily_communicators",
        "metric_changed_days",
    ):
        op.drop_table(table)
