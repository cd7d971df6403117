"""The product's tables: the API analysts query (documented column by column in docs/schema.md).

Ids of platform objects (Discord snowflakes) are `bigint`, so they order numerically. Every row belongs to a
tenant and goes with it when the tenant is removed. No column ever holds a raw user id: authors and mentioned
users are keyed hashes (see `anonymize.py`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from discord_sync.store.sync_status import ATTEMPT_STATUSES, CHECKPOINT_STATUSES, ChannelSyncStatus, RunOutcome

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Dagster's own storage tables (runs, events, schedules) live in this schema, created by migration 0007 and named
# in `dagster.yaml`'s connection options; the product's tables stay in `public`.
DAGSTER_SCHEMA = "dagster"

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
API_KEY_ID_PATTERN = r"^[a-z0-9]{8}$"


def _now() -> sa.TextClause:
    return sa.text("now()")


def _tenant_fk() -> sa.Column:
    return sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)


def _tenant_key() -> sa.Column:
    """`tenant_id` of a table that reaches its tenant through another foreign key (messages through channels,
    reactions and attachments through messages): a direct key to `tenants` would only be checked again on every
    row written, and the cascade from `tenants` already removes these rows."""
    return sa.Column("tenant_id", sa.Text, primary_key=True)


tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("platform", sa.Text, nullable=False, server_default="discord"),
    sa.Column("guild_id", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    # Opt-in: list who reacted to recent messages (`message_reactors`), at a request cost (docs/operations.md).
    sa.Column("who_reacted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint(f"id ~ '{TENANT_ID_PATTERN}'", name="id_is_slug"),
    sa.CheckConstraint("platform IN ('discord')", name="known_platform"),
    sa.UniqueConstraint("platform", "guild_id"),
)

tenant_changes = sa.Table(
    "tenant_changes",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.CheckConstraint("change IN ('added', 'removed')", name="known_change"),
)

channels = sa.Table(
    "channels",
    metadata,
    _tenant_fk(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("parent_id", sa.BigInteger),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("type", sa.SmallInteger, nullable=False),
    sa.Column("is_thread", sa.Boolean, nullable=False),
    sa.Column("position", sa.Integer),
    sa.Column("topic", sa.Text),
    sa.Column("nsfw", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("owner_hash", sa.Text),
    sa.Column("archived", sa.Boolean),
    sa.Column("locked", sa.Boolean),
    sa.Column("archived_at", sa.DateTime(timezone=True)),
    sa.Column("available_tags", pg.JSONB),
    sa.Column("applied_tag_ids", pg.ARRAY(sa.BigInteger)),
    sa.Column("message_count", sa.Integer),
    sa.Column("total_message_sent", sa.Integer),
    sa.Column("last_message_id", sa.BigInteger),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    # Why the bot's permissions do not let it read the channel (the sync skips it without a request); None: readable.
    sa.Column("unreadable_reason", sa.Text),
    sa.Index(None, "tenant_id", "parent_id"),
)

# messages -> channels and reactions/attachments -> messages are relationships the writer keeps, not foreign-key
# constraints: each constraint is checked by a per-row trigger, a third of the write path (migration 0003). A
# tenant's removal removes them through a trigger on `tenants` (migration 0003), an explicit purge through `purge.purge_stored_messages` (a reset keeps them).
messages = sa.Table(
    "messages",
    metadata,
    _tenant_key(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("channel_id", sa.BigInteger, nullable=False),
    sa.Column("author_hash", sa.Text),
    sa.Column("author_is_bot", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_webhook", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("type", sa.SmallInteger, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("edited_at", sa.DateTime(timezone=True)),
    sa.Column("reply_to_id", sa.BigInteger),
    sa.Column("reply_to_channel_id", sa.BigInteger),
    sa.Column("thread_id", sa.BigInteger),
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("mention_everyone", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("mentioned_user_hashes", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("mentioned_role_ids", pg.ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
    sa.Column("flags", sa.Integer, nullable=False, server_default="0"),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("embeds", pg.JSONB),
    sa.Column("sticker_items", pg.JSONB),
    sa.Column("poll", pg.JSONB),
    sa.Column("forwarded", pg.JSONB),
    sa.Index(None, "tenant_id", "channel_id", "id"),
    sa.Index(None, "tenant_id", "created_at"),
    sa.Index(None, "tenant_id", "author_hash"),
    # The rows written since a moment: what the raw-user-id audit reads (`store/raw_id_audit.py`).
    sa.Index(None, "tenant_id", "synced_at"),
    # Most messages are not replies: only the replies are indexed.
    sa.Index(None, "tenant_id", "reply_to_id", postgresql_where=sa.text("reply_to_id IS NOT NULL")),
)

message_emoji_reactions = sa.Table(
    "message_emoji_reactions",
    metadata,
    _tenant_key(),
    sa.Column("message_id", sa.BigInteger, primary_key=True),
    sa.Column("emoji_key", sa.Text, primary_key=True),
    sa.Column("emoji_id", sa.BigInteger),
    sa.Column("emoji_name", sa.Text),
    sa.Column("emoji_animated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("normal_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("burst_count", sa.Integer, nullable=False, server_default="0"),
    sa.Index(None, "tenant_id", "emoji_name"),
)

message_attachments = sa.Table(
    "message_attachments",
    metadata,
    _tenant_key(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("message_id", sa.BigInteger, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("proxy_url", sa.Text),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.Text),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("description", sa.Text),
    sa.Column("url_expires_at", sa.DateTime(timezone=True)),
    sa.Index(None, "tenant_id", "message_id"),
)

sync_progress = sa.Table(
    "sync_progress",
    metadata,
    _tenant_fk(),
    sa.Column("channel_id", sa.BigInteger, primary_key=True),
    sa.Column("last_message_id", sa.BigInteger),
    sa.Column("status", sa.Text, nullable=False, server_default=ChannelSyncStatus.PENDING.value),
    sa.Column("messages_synced", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_synced_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in CHECKPOINT_STATUSES) + ")", name="known_status"),
)

# What thread discovery saw per parent channel, so that the next discovery asks only about what changed.
thread_discovery = sa.Table(
    "thread_discovery",
    metadata,
    _tenant_fk(),
    sa.Column("parent_id", sa.BigInteger, primary_key=True),
    sa.Column("parent_last_message_id", sa.BigInteger),
    sa.Column("public_archived_until", sa.DateTime(timezone=True)),
    sa.Column("private_archived_until", sa.DateTime(timezone=True)),
    sa.Column("joined_private_until", sa.BigInteger),
    sa.Column("last_full_listing_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)

# When each channel's stored history was last re-read, per horizon of the refresh policy (`sync/refresh_plan.py`), and
# the deletions a thread's counters showed at its last complete re-read.
channel_refreshes = sa.Table(
    "channel_refreshes",
    metadata,
    _tenant_fk(),
    sa.Column("channel_id", sa.BigInteger, primary_key=True),
    sa.Column("hourly_refreshed_at", sa.DateTime(timezone=True)),
    sa.Column("daily_refreshed_at", sa.DateTime(timezone=True)),
    sa.Column("reconciled_at", sa.DateTime(timezone=True)),
    sa.Column("deletions_seen", sa.Integer),
)

channel_sync_jobs = sa.Table(
    "channel_sync_jobs",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("channel_id", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("messages", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("messages_per_second", sa.Float),
    sa.Column("rate_limit_waits", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    # Live progress, written every few seconds while the attempt runs (`sync/progress_reporter.py`).
    sa.Column("last_message_id", sa.BigInteger),
    sa.Column("progress_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in ATTEMPT_STATUSES) + ")", name="known_status"),
    sa.Index(None, "tenant_id", "channel_id", "started_at"),
    sa.Index(None, "run_id"),
    sa.Index(None, "finished_at"),
)

request_rate_limiter = sa.Table(
    "request_rate_limiter",
    metadata,
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("next_slot_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("bulk_next_slot_at", sa.DateTime(timezone=True)),
    sa.Column("hourly_seen_at", sa.DateTime(timezone=True)),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.Text, nullable=False, server_default=RunOutcome.RUNNING.value),
    sa.Column("channels_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("channels_unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("channels_complete", sa.Integer, nullable=False, server_default="0"),
    sa.Column("channels_skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("channels_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("channels_running", sa.Integer, nullable=False, server_default="0"),
    sa.Column("messages", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("messages_per_second", sa.Float, nullable=False, server_default="0"),
    sa.Column("discord_requests", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rate_limit_hits", sa.Integer, nullable=False, server_default="0"),
    sa.Column("invalid_requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("limiter_wait_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.CheckConstraint("outcome IN (" + ", ".join(f"'{s}'" for s in RunOutcome) + ")", name="known_outcome"),
    sa.Index(None, "tenant_id", "started_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("key_hash", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id", ondelete="CASCADE")),
    sa.Column("is_admin", sa.Boolean, nullable=False),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(f"id ~ '{API_KEY_ID_PATTERN}'", name="id_is_short"),
    # An admin key belongs to no tenant; a tenant key to exactly one.
    sa.CheckConstraint("is_admin = (tenant_id IS NULL)", name="admin_or_tenant"),
)

api_audit_log = sa.Table(
    "api_audit_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    # No foreign keys: the record outlives a revoked key and a removed tenant.
    sa.Column("key_id", sa.Text),
    sa.Column("tenant_id", sa.Text),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("status_code", sa.SmallInteger, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text),
    # How the presented key fared (`valid`, `missing`, `malformed`, `unknown`, `revoked`, `wrong_secret`).
    sa.Column("key_status", sa.Text),
    sa.Column("client", sa.Text),
    sa.Index(None, "at"),
    sa.Index(None, "tenant_id", "at"),
)

# Failed authentications per client address and per key id in the current window: the API's throttle, shared by
# every API process. A row whose window ended is deleted at the next failure.
api_auth_failures = sa.Table(
    "api_auth_failures",
    metadata,
    sa.Column("subject", sa.Text, primary_key=True),
    sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Index(None, "window_started_at"),
)

# Community metrics (`store/community_metrics.py`, docs/metrics.md): only hashes and counts. Each UTC day whose
# messages or reactions a statement changed is noted in `metric_changed_days` by statement triggers on `messages` and
# `message_emoji_reactions` (migration 0013); the metrics recompute those days and consume the notes.
metric_changed_days = sa.Table(
    "metric_changed_days",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    # `messages`: a day of messages or reactions; `members`: a day members joined or left.
    sa.Column("source", sa.Text, nullable=False, server_default="messages"),
    sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.CheckConstraint("source IN ('messages', 'members')", name="known_source"),
    sa.Index(None, "tenant_id"),
)

daily_communicators = sa.Table(
    "daily_communicators",
    metadata,
    _tenant_fk(),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("author_hash", sa.Text, primary_key=True),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("first_message_id", sa.BigInteger, nullable=False),
    sa.Column("first_channel_id", sa.BigInteger, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Index(None, "tenant_id", "author_hash", "day"),
)

communicator_first_messages = sa.Table(
    "communicator_first_messages",
    metadata,
    _tenant_fk(),
    sa.Column("author_hash", sa.Text, primary_key=True),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("first_message_id", sa.BigInteger, nullable=False),
    sa.Column("first_channel_id", sa.BigInteger, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Index(None, "tenant_id", "first_day"),
)

channel_daily_activity = sa.Table(
    "channel_daily_activity",
    metadata,
    _tenant_fk(),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("channel_id", sa.BigInteger, primary_key=True),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("communicators", sa.Integer, nullable=False),
    sa.Column("new_communicators", sa.Integer, nullable=False),
    sa.Column("reactions", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)

daily_active_members = sa.Table(
    "daily_active_members",
    metadata,
    _tenant_fk(),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("daily", sa.Integer, nullable=False),
    sa.Column("weekly", sa.Integer, nullable=False),
    sa.Column("days_28", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)

weekly_retention = sa.Table(
    "weekly_retention",
    metadata,
    _tenant_fk(),
    sa.Column("week", sa.Date, primary_key=True),
    sa.Column("new_communicators", sa.Integer, nullable=False),
    sa.Column("retained_next_week", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)

member_daily = sa.Table(
    "member_daily",
    metadata,
    _tenant_fk(),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("joins", sa.Integer, nullable=False),
    sa.Column("leaves", sa.Integer, nullable=False),
    sa.Column("activated", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)

THREAD_KINDS = ("forum_post", "thread")

thread_first_replies = sa.Table(
    "thread_first_replies",
    metadata,
    _tenant_fk(),
    sa.Column("thread_id", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.Column("first_reply_seconds", sa.Float),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.CheckConstraint("kind IN ('forum_post', 'thread')", name="known_kind"),
    sa.Index(None, "tenant_id", "created_day"),
)

daily_responsiveness = sa.Table(
    "daily_responsiveness",
    metadata,
    _tenant_fk(),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("threads", sa.Integer, nullable=False),
    sa.Column("answered", sa.Integer, nullable=False),
    sa.Column("answered_within_24h", sa.Integer, nullable=False),
    sa.Column("median_first_reply_seconds", sa.Float),
    sa.Column("p90_first_reply_seconds", sa.Float),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.CheckConstraint("kind IN ('forum_post', 'thread')", name="known_kind"),
)

# Per tenant, the moment up to which every written row was audited for raw user ids (`store/raw_id_audit.py`):
# the next audit reads only what was written since.
raw_id_audits = sa.Table(
    "raw_id_audits",
    metadata,
    _tenant_fk(),
    sa.Column("audited_through", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_full_scan_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)

# The community's members, one row per member hash (the keyed hash `messages.author_hash` uses): what Discord lists
# about membership and nothing that identifies the person (no name, nickname or avatar). `left_at` is set when a
# complete listing no longer lists the member and cleared when one lists them again.
members = sa.Table(
    "members",
    metadata,
    _tenant_fk(),
    sa.Column("member_hash", sa.Text, primary_key=True),
    sa.Column("joined_at", sa.DateTime(timezone=True)),
    sa.Column("role_ids", pg.ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
    sa.Column("is_bot", sa.Boolean, nullable=False),
    sa.Column("pending", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("premium_since", sa.DateTime(timezone=True)),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("left_at", sa.DateTime(timezone=True)),
    sa.Index(None, "tenant_id", "joined_at"),
    sa.Index(None, "tenant_id", "left_at"),
)

# The guild's roles. `permissions` is bigint: Discord's permission bits (up to 1 << 50 today) fit a signed 64-bit
# integer, and PostgreSQL's bitwise operators (`permissions & 8 <> 0`) work on bigint, not on numeric.
roles = sa.Table(
    "roles",
    metadata,
    _tenant_fk(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("color", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("permissions", sa.BigInteger, nullable=False),
    sa.Column("managed", sa.Boolean, nullable=False),
    sa.Column("mentionable", sa.Boolean, nullable=False),
    sa.Column("hoist", sa.Boolean, nullable=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)

MEMBER_SYNC_STATUSES = ("synced", "no_intent", "failed")

# Per tenant: the last member listing (when, how complete, its cost) and why members are not synced, if they are not.
member_syncs = sa.Table(
    "member_syncs",
    metadata,
    _tenant_fk(),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_complete_at", sa.DateTime(timezone=True)),
    sa.Column("members_listed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in MEMBER_SYNC_STATUSES) + ")", name="known_status"),
)

# Who reacted (tenants that opted in with `tenants.who_reacted`): one row per member, emoji and kind (burst: a super
# reaction). No foreign key to messages, as for reactions (see above `messages`).
message_reactors = sa.Table(
    "message_reactors",
    metadata,
    _tenant_fk(),
    sa.Column("message_id", sa.BigInteger, primary_key=True),
    sa.Column("emoji_key", sa.Text, primary_key=True),
    sa.Column("member_hash", sa.Text, primary_key=True),
    sa.Column("burst", sa.Boolean, primary_key=True),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    sa.Index(None, "tenant_id", "member_hash"),
    sa.Index(None, "tenant_id", "synced_at"),
)

# The reaction counts each reactor listing was taken at: a listing is redone only when the counts differ.
message_reactor_syncs = sa.Table(
    "message_reactor_syncs",
    metadata,
    _tenant_fk(),
    sa.Column("message_id", sa.BigInteger, primary_key=True),
    sa.Column("emoji_key", sa.Text, primary_key=True),
    sa.Column("normal_count", sa.Integer, nullable=False),
    sa.Column("burst_count", sa.Integer, nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
)
