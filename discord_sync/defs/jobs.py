"""The tenant sync job and the run tags that steer it.

A run of `sync_tenant` for partition T refreshes tenant T's channel catalog, then its messages, reactions and
attachments. Tags on the run (or on a backfill, whose runs inherit them) turn it into a reset.
"""

import dagster as dg

from discord_sync.control.tags import RESET_CHANNEL_TAG, RESET_TAG
from discord_sync.defs.partitions import tenant_partitions

__all__ = ["RESET_CHANNEL_TAG", "RESET_TAG", "SYNC_ASSET_KEYS", "sync_tenant_job"]

SYNC_ASSET_KEYS = ["channels", "messages", "reactions", "attachments"]

sync_tenant_job = dg.define_asset_job(
    "sync_tenant",
    selection=SYNC_ASSET_KEYS,
    partitions_def=tenant_partitions,
    description="Sync one tenant: its channel catalog, then every changed channel's new messages.",
)
