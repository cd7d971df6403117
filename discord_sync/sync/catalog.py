"""A tenant's channel catalog and discovery's memory: what discovery saw now, known channels that are gone marked
deleted, and what the next discovery needs to ask only about change."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import CHANNEL_COLUMNS, channel_row
from discord_sync.source.protocol import ChannelListing, DiscoveryMemory, ThreadListingState
from discord_sync.store.channels import stored_catalog
from discord_sync.store.discovery_state import (
    STATE_COLUMNS,
    known_active_threads,
    replace_thread_listing_rows,
    thread_listing_rows,
)


def previous_catalog(engine: sa.Engine, tenant_id: str) -> pd.DataFrame:
    """The tenant's stored channels and threads that are not deleted."""
    with engine.connect() as conn:
        return stored_catalog(conn, tenant_id)


def discovery_memory(engine: sa.Engine, tenant_id: str, full_listing_interval: timedelta) -> DiscoveryMemory:
    """What the last discovery of the tenant saw, for the next one."""
    with engine.connect() as conn:
        parents = {
            row.parent_id: ThreadListingState(**{c: getattr(row, c) for c in STATE_COLUMNS if c != "parent_id"})
            for row in thread_listing_rows(conn, tenant_id)
        }
        active = known_active_threads(conn, tenant_id)
    return DiscoveryMemory(parents=parents, active_threads=active, full_listing_interval=full_listing_interval)


def remember_discovery(engine: sa.Engine, tenant_id: str, memory: DiscoveryMemory) -> None:
    """Keep what this discovery saw per parent channel.

    Stored before the catalog's own upsert (the IO manager's, after the asset returns): if that upsert failed, a
    thread this listing found could be missed by the next incremental listing; the next full listing (on its
    schedule) finds it again."""
    rows = [
        {"parent_id": parent_id, **{c: getattr(state, c) for c in STATE_COLUMNS if c != "parent_id"}}
        for parent_id, state in memory.parents.items()
    ]
    with engine.begin() as conn:
        replace_thread_listing_rows(conn, tenant_id, rows)


def catalog_frame(
    tenant_id: str, listing: ChannelListing, previous: pd.DataFrame, anonymizer: Anonymizer, now: datetime
) -> tuple[pd.DataFrame, int]:
    """The catalog to upsert: every channel seen now, plus previously known ones that are gone, marked deleted.

    A known channel not seen is gone (the guild's channel list is complete). A known thread not seen is gone only
    when its parent is gone, its parent's threads were all listed now, or Discord said it no longer exists: a
    thread under a parent that was not listed (quiet, refused, or hidden from the bot) is unseen, not gone.
    """
    rows = [channel_row(tenant_id, payload, anonymizer, now) for payload in listing.channels]
    for row in rows:
        row["unreadable_reason"] = listing.unreadable.get(row["id"])
    seen = {row["id"] for row in rows}
    gone = previous.iloc[0:0]
    if len(previous):
        unseen = previous[~previous["id"].isin(seen)]
        is_thread = unseen["is_thread"].astype(bool)
        thread_gone = (
            ~unseen["parent_id"].isin(seen)
            | unseen["parent_id"].isin(listing.listed_parents)
            | unseen["id"].isin(listing.gone_threads)
        )
        gone = unseen[~is_thread | thread_gone].copy()
    if len(gone):
        gone["deleted_at"] = now
    frame = pd.DataFrame(rows, columns=list(CHANNEL_COLUMNS), dtype=object)
    if len(gone):
        frame = pd.concat([frame, gone[list(CHANNEL_COLUMNS)]], ignore_index=True)
    return frame, len(gone)
