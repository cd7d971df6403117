"""messages and their children without per-row foreign-key checks; removing a tenant removes them by trigger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 01:10:00.000000

A foreign key is checked by a trigger on every inserted row: `messages -> channels`, `message_emoji_reactions ->
messages` and `message_attachments -> messages` cost a third of the write path (benchmark 4: 1.50 s with them,
0.97 s without, for 50,000 messages with their reactions and attachments; every index kept). The writer keeps
these relationships itself: it writes a channel's messages only after the channel is stored, and a message's
reactions and attachments in the same transaction as the message. Every batch also writes its channel's
`sync_progress` row, whose foreign key to `tenants` stays, so a batch of a removed tenant cannot commit.

What the cascades did is kept: removing a tenant (with `discord-sync tenant remove` or plain SQL) removes its
messages, reactions and attachments by an `AFTER DELETE` trigger on `tenants`; a reset deletes a channel's
reactions and attachments with its messages.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    (
        "fk_messages_tenant_id_channel_id_channels",
        "messages",
        "channels",
        ["tenant_id", "channel_id"],
        ["tenant_id", "id"],
    ),
    (
        "fk_message_emoji_reactions_tenant_id_message_id_messages",
        "message_emoji_reactions",
        "messages",
        ["tenant_id", "message_id"],
        ["tenant_id", "id"],
    ),
    (
        "fk_message_attachments_tenant_id_message_id_messages",
        "message_attachments",
        "messages",
        ["tenant_id", "message_id"],
        ["tenant_id", "id"],
    ),
)

REMOVE_TENANT_MESSAGES = """
CREATE FUNCTION remove_tenant_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM message_emoji_reactions WHERE tenant_id = OLD.id;
    DELETE FROM message_attachments WHERE tenant_id = OLD.id;
    DELETE FROM messages WHERE tenant_id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER tenants_remove_messages AFTER DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION remove_tenant_messages();
"""


def upgrade() -> None:
    for name, table, _, _, _ in FOREIGN_KEYS:
        op.drop_constraint(name, table, type_="foreignkey")
    op.execute(REMOVE_TENANT_MESSAGES)


def downgrade() -> None:
    op.execute("DROP TRIGGER tenants_remove_messages ON tenants; DROP FUNCTION remove_tenant_messages();")
    for name, table, referred, local, remote in FOREIGN_KEYS:
        op.create_foreign_key(name, table, referred, local, remote, ondelete="CASCADE")
