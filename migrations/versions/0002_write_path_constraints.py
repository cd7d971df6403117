"""lighter write path: no redundant tenant foreign keys on messages and their children, partial reply index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000

`messages`, `message_emoji_reactions` and `message_attachments` each checked `tenant_id -> tenants.id` on every
row although the rows already reach their tenant through `messages -> channels -> tenants` (children through
`-> messages`), all `ON DELETE CASCADE`: removing a tenant still removes every row. Most messages are not
replies, so the `(tenant_id, reply_to_id)` index only holds the rows that are.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_FK_TABLES = ("messages", "message_emoji_reactions", "message_attachments")
REPLY_INDEX = "ix_messages_tenant_id_reply_to_id"


def upgrade() -> None:
    for table in TENANT_FK_TABLES:
        op.drop_constraint(op.f(f"fk_{table}_tenant_id_tenants"), table, type_="foreignkey")
    op.drop_index(op.f(REPLY_INDEX), table_name="messages")
    op.create_index(
        op.f(REPLY_INDEX),
        "messages",
        ["tenant_id", "reply_to_id"],
        unique=False,
        postgresql_where="reply_to_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index(op.f(REPLY_INDEX), table_name="messages")
    op.create_index(op.f(REPLY_INDEX), "messages", ["tenant_id", "reply_to_id"], unique=False)
    for table in TENANT_FK_TABLES:
        op.create_foreign_key(
            op.f(f"fk_{table}_tenant_id_tenants"), table, "tenants", ["tenant_id"], ["id"], ondelete="CASCADE"
        )
