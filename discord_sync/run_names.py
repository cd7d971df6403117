"""The names a tenant sync run is known by on Dagster: its job, its partitions and the tags that steer it.

Shared by the definitions that declare them (`defs/`) and the code that starts and finds runs (`control/`, the
CLI), which must not import the definitions; so they live here, importing nothing.
"""

SYNC_JOB_NAME = "sync_tenant"
TENANT_PARTITIONS_NAME = "tenants"

# Dagster tags every run of a partition with its key (here the tenant id); the run queue limits it to one per tenant.
PARTITION_TAG = "dagster/partition"
# "true": forget the tenant's checkpoints and attempts (stored messages stay), sync everything again from the
# beginning, then re-read the stored history to confirm deletions.
RESET_TAG = "discord_sync/reset"
# A channel or thread id: the same for that one channel.
RESET_CHANNEL_TAG = "discord_sync/reset_channel"
# "true", beside a reset tag: first DELETE the reset's stored messages (tombstones, messages of deleted and unreadable
# channels included: history no re-sync brings back). Only `discord-sync sync reset --purge` sets it.
PURGE_TAG = "discord_sync/purge"
# "true": besides the new messages, re-read the tenant's whole stored history at SYNC_RECONCILE_REQUESTS_PER_SECOND
# and apply every edit, reaction change and deletion found.
RECONCILE_TAG = "discord_sync/reconcile"
# The id of the API key that asked for a run (never the key itself), so a run can be traced to its caller.
REQUESTED_BY_TAG = "discord_sync/requested_by"
# "true": the `no_raw_user_ids` check reads every stored row of the tenant, not only those written since its last
# passing run.
RAW_ID_FULL_SCAN_TAG = "discord_sync/raw_id_full_scan"
