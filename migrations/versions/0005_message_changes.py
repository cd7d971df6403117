"""messages that stay true: deletion state, message kinds (embeds, stickers, polls, forwards), attachment URL
expiry, thread counters, and when each channel's history was last re-read

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:30:00.000000

All new columns are nullable without a default, so adding them rewrites no existing row.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MESSAGE_COLUMNS = (
    ("deleted_at", sa.DateTime(timezone=True)),
    ("embeds", pg.JSONB),
    ("sticker_items", pg.JSONB),
    ("poll", pg.JSONB),
    ("forwarded", pg.JSONB),
)


def upgrade() -> None:
    for name, type_ in MESSAGE_COLUMNS:
        op.add_column("messages", sa.Column(name, type_))
    op.add_column("message_attachments", sa.Column("url_expires_at", sa.DateTime(timezone=True)))
    op.add_column("channels", sa.Column("total_message_sent", sa.Integer))
    op.create_table(
        "channel_refreshes",
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("channel_id", sa.BigInteger, nullable=False),
        sa.Column("hourly_refreshed_at", sa.DateTime(timezone=True)),
        sa.Column("daily_refreshed_at", sa.DateTime(timezone=True)),
        sa.Column("reconciled_at", sa.DateTime(timezone=True)),
        sa.Column("deletions_seen", sa.Integer),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_channel_refreshes_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "channel_id", name="pk_channel_refreshes"),
    )


def downgrade() -> None:
    op.drop_table("channel_refreshes")
    op.drop_column("channels", "total_message_sent")
    op.drop_column("message_attachments", "url_expires_at")
    for name, _ in reversed(MESSAGE_COLUMNS):
        op.drop_column("messages", name)
