"""where the `no_raw_user_ids` check stopped reading each tenant's rows; messages indexed by when they were written

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 04:30:00.000000

`raw_id_audits` keeps, per tenant, the moment up to which every written row was audited for raw user ids, so the
next audit reads only the rows written since (`store/raw_id_audit.py`). The index on `messages (tenant_id,
synced_at)` lets that read find a tenant's recently written messages without visiting its whole history.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_id_audits",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("audited_through", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_full_scan_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_raw_id_audits_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_raw_id_audits"),
    )
    op.create_index("ix_messages_tenant_id_synced_at", "messages", ["tenant_id", "synced_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_tenant_id_synced_at", table_name="messages")
    op.drop_table("raw_id_audits")
