"""the request limiter's lanes: a slot pointer for bulk work and the time hourly work was last seen

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 04:30:00.000000

`source/rate_limiter.py` lets hourly syncs' requests go ahead of bulk work (initial syncs, resets, reconciles):
bulk requests keep to a share of the rate while hourly requests were seen lately. Both columns start empty: no
bulk pointer yet, no hourly work seen.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("request_rate_limiter", sa.Column("bulk_next_slot_at", sa.DateTime(timezone=True)))
    op.add_column("request_rate_limiter", sa.Column("hourly_seen_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("request_rate_limiter", "hourly_seen_at")
    op.drop_column("request_rate_limiter", "bulk_next_slot_at")
