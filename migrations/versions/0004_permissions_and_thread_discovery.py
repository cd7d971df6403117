"""the bot's access per channel, and what thread discovery saw per parent channel

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:30:00.000000

`channels.unreadable_reason` records why the bot's permissions do not let it read a channel (the sync skips it
without a request). `thread_discovery` keeps, per parent channel, what the last discovery saw: the parent's newest
message id (a quiet parent needs no listing), the newest archive time of each archived-thread listing (the next
listing stops there) and when the last full listing ran (a full one runs on a schedule).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("channels", sa.Column("unreadable_reason", sa.Text))
    op.create_table(
        "thread_discovery",
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("parent_id", sa.BigInteger, nullable=False),
        sa.Column("parent_last_message_id", sa.BigInteger),
        sa.Column("public_archived_until", sa.DateTime(timezone=True)),
        sa.Column("private_archived_until", sa.DateTime(timezone=True)),
        sa.Column("joined_private_until", sa.BigInteger),
        sa.Column("last_full_listing_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_thread_discovery_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "parent_id", name=op.f("pk_thread_discovery")),
    )


def downgrade() -> None:
    op.drop_table("thread_discovery")
    op.drop_column("channels", "unreadable_reason")
