"""The tenant sync job.

A run of `sync_tenant` for partition T refreshes tenant T's channel catalog, then its messages, reactions and
attachments. Tags on the run (or on a backfill, whose runs inherit them; named in `run_names`) turn it into a reset
or a reconcile.
"""

import dagster as dg

from discord_sync.defs.partitions import tenant_partitions
from discord_sync.run_names import SYNC_JOB_NAME

SYNC_ASSET_KEYS = ["channels", "messages", "reactions", "attachments", "members", "roles", "message_reactors"]

sync_tenant_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    selection=SYNC_ASSET_KEYS,
    partitions_def=tenant_partitions,
    description="Sync one tenant: its channel catalog, then every changed channel's new messages.",
)
