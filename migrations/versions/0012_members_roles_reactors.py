"""members and roles of each community, anonymized; who reacted (opt-in per tenant)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:00:00.000000

`members` holds one row per member hash (the keyed hash `messages.author_hash` uses) with what Discord lists
about membership (join time, role ids, bot, pending, boosting since) and nothing that identifies the person.
`roles` holds the guild's roles. `member_syncs` records per tenant when members were last listed completely and,
when they are not synced, why (the Server Members intent missing). `tenants.who_reacted` opts a tenant into
`message_reactors` (who reacted with which emoji); `message_reactor_syncs` remembers the reaction counts each
reactor listing was taken at, so it is refreshed only when the counts change.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.add_column("tenants", sa.Column("who_reacted", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "members",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("member_hash", sa.Text(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("role_ids", pg.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("pending", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("premium_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        _tenant_fk("members"),
        sa.PrimaryKeyConstraint("tenant_id", "member_hash", name="pk_members"),
    )
    op.create_index("ix_members_tenant_id_joined_at", "members", ["tenant_id", "joined_at"])
    op.create_index("ix_members_tenant_id_left_at", "members", ["tenant_id", "left_at"])
    op.create_table(
        "roles",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("color", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("permissions", sa.BigInteger(), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("mentionable", sa.Boolean(), nullable=False),
        sa.Column("hoist", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        _tenant_fk("roles"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_roles"),
    )
    op.create_table(
        "member_syncs",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_complete_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("members_listed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('synced', 'no_intent', 'failed')", name="ck_member_syncs_known_status"),
        _tenant_fk("member_syncs"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_member_syncs"),
    )
    op.create_table(
        "message_reactors",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji_key", sa.Text(), nullable=False),
        sa.Column("member_hash", sa.Text(), nullable=False),
        sa.Column("burst", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _tenant_fk("message_reactors"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "message_id", "emoji_key", "member_hash", "burst", name="pk_message_reactors"
        ),
    )
    op.create_index("ix_message_reactors_tenant_id_member_hash", "message_reactors", ["tenant_id", "member_hash"])
    op.create_index("ix_message_reactors_tenant_id_synced_at", "message_reactors", ["tenant_id", "synced_at"])
    op.create_table(
        "message_reactor_syncs",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji_key", sa.Text(), nullable=False),
        sa.Column("normal_count", sa.Integer(), nullable=False),
        sa.Column("burst_count", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _tenant_fk("message_reactor_syncs"),
        sa.PrimaryKeyConstraint("tenant_id", "message_id", "emoji_key", name="pk_message_reactor_syncs"),
    )


def downgrade() -> None:
    op.drop_table("message_reactor_syncs")
    op.drop_table("message_reactors")
    op.drop_table("member_syncs")
    op.drop_table("roles")
    op.drop_table("members")
    op.drop_column("tenants", "who_reacted")
