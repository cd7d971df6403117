"""The tenant sync job.

A run of `sync_tenant` for partition T refreshes tenant T's channel catalog, then its messages, reactions and
attachments. Tags on the run (or on a backfill, whose runs inherit them; named in `run_names`) turn it into a reset
or a reconcile.
"""

import dagster as dg

from discord_sync.defs.partitions import tenant_partitions
from discord_sync.run_names import BATCH_JOB_NAME, SYNC_JOB_NAME

SYNC_ASSET_KEYS = ["channels", "messages", "reactions", "attachments", "members", "roles", "message_reactors"]

sync_tenant_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    selection=SYNC_ASSET_KEYS,
    partitions_def=tenant_partitions,
    description="Sync one tenant: its channel catalog, then every changed channel's new messages.",
)

# The hourly schedule's job: a run for a range of tenant partitions syncs each tenant in turn beside the others and
# records each partition's own materializations (`defs/assets.py`). Only `messages` (with `reactions` and
# `attachments`, its multi-asset) is selected: in a batch its step also refreshes each tenant's channel catalog and
# reports `channels` per partition, so that one tenant's failed discovery cannot skip the others' message sync (a
# failed upstream output would skip the whole downstream step). Its checks are evaluated per tenant by the batch
# step itself (`asset_checks.tenant_check_evaluations`), and so are each tenant's members, roles and reactors
# (`member_steps`, each a no-op unless due or opted in) and its community metrics. The metric assets are not
# selected: each selected asset costs one "planned" event per tenant when the run starts, and their automation
# leaves the batch's tenants alone (`community_metrics.after_a_tenants_own_sync`).
BATCH_ASSET_KEYS = ("messages", "reactions", "attachments")

sync_tenant_batch_job = dg.define_asset_job(
    BATCH_JOB_NAME,
    selection=dg.AssetSelection.assets(*BATCH_ASSET_KEYS).without_checks(),
    description="Sync a batch of tenants (a range of tenant partitions), each its own partition: channel catalog "
    "then new messages; a tenant that fails is retried alone.",
)
