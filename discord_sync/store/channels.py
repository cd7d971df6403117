"""`channels`: a tenant's stored channel catalog, as discovery compares against it and as a reset names a channel."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from discord_sync.shaping.rows import CHANNEL_COLUMNS
from discord_sync.store.schema import channels

# Discord's snowflakes are 63-bit; a larger number names no channel (and would overflow the BIGINT parameter).
MAX_SNOWFLAKE = 2**63 - 1


def stored_catalog(conn: sa.Connection, tenant_id: str) -> pd.DataFrame:
    """The tenant's stored channels and threads that are not deleted, in the catalog's columns."""
    rows = conn.execute(
        sa.select(*[channels.c[c] for c in CHANNEL_COLUMNS]).where(
            channels.c.tenant_id == tenant_id, channels.c.deleted_at.is_(None)
        )
    ).all()
    return pd.DataFrame(rows, columns=list(CHANNEL_COLUMNS), dtype=object)


def known_channel(conn: sa.Connection, tenant_id: str, channel_id: int) -> int | None:
    """The id of the tenant's stored channel or thread `channel_id`, or None if the tenant has no such channel."""
    if not 0 < channel_id <= MAX_SNOWFLAKE:
        return None
    found = conn.execute(
        sa.select(channels.c.id).where(channels.c.tenant_id == tenant_id, channels.c.id == channel_id)
    ).scalar()
    return None if found is None else int(found)
