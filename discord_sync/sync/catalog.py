"""A tenant's channel catalog: what discovery saw now, plus known channels that disappeared, marked deleted."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import CHANNEL_COLUMNS, channel_row
from discord_sync.source.protocol import ChannelListing
from discord_sync.store.schema import channels as channels_table


def previous_catalog(engine: sa.Engine, tenant_id: str) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*[channels_table.c[c] for c in CHANNEL_COLUMNS]).where(
                channels_table.c.tenant_id == tenant_id, channels_table.c.deleted_at.is_(None)
            )
        ).all()
    return pd.DataFrame(rows, columns=list(CHANNEL_COLUMNS), dtype=object)


def catalog_frame(
    tenant_id: str, listing: ChannelListing, previous: pd.DataFrame, anonymizer: Anonymizer, now: datetime
) -> tuple[pd.DataFrame, int]:
    """The catalog to upsert: every channel seen now, plus previously known ones that disappeared, marked deleted.

    Threads under a parent whose archived listing was refused are not marked: unseen is not the same as gone.
    """
    rows = [channel_row(tenant_id, payload, anonymizer, now) for payload in listing.channels]
    seen = {row["id"] for row in rows}
    gone = (
        previous[~previous["id"].isin(seen) & ~previous["parent_id"].isin(listing.unlisted_parents)].copy()
        if len(previous)
        else previous
    )
    if len(gone):
        gone["deleted_at"] = now
    frame = pd.DataFrame(rows, columns=list(CHANNEL_COLUMNS), dtype=object)
    if len(gone):
        frame = pd.concat([frame, gone[list(CHANNEL_COLUMNS)]], ignore_index=True)
    return frame, len(gone)
