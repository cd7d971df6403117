"""The tenant sync job and the run tags that steer it.

A run of `sync_tenant` for partition T refreshes tenant T's channel catalog, then its messages, reactions and
attachments. Tags on the run (or on a backfill, whose runs inherit them) turn it into a reset or a reconcile.
"""

import dagster as dg

from discord_sync.defs.partitions import tenant_partitions

SYNC_ASSET_KEYS = ["channels", "messages", "reactions", "attachments"]

# "true": forget the tenant's checkpoints and messages, then sync everything again from the beginning.
RESET_TAG = "discord_sync/reset"
# A channel or thread id: forget that one channel's checkpoint and messages, then sync it again.
RESET_CHANNEL_TAG = "discord_sync/reset_channel"
# "true": besides the new messages, re-read the tenant's whole stored history at SYNC_RECONCILE_REQUESTS_PER_SECOND
# and apply every edit, reaction change and deletion found.
RECONCILE_TAG = "discord_sync/reconcile"

sync_tenant_job = dg.define_asset_job(
    "sync_tenant",
    selection=SYNC_ASSET_KEYS,
    partitions_def=tenant_partitions,
    description="Sync one tenant: its channel catalog, then every changed channel's new messages.",
)
