"""The names a tenant sync run is known by on Dagster: its job, its partitions and the tags that steer it.

Shared by the definitions that declare them (`defs/`) and the code that starts and finds runs (`control/`, the
CLI), which must not import the definitions; so they live here, importing nothing but typing.
"""

from collections.abc import Mapping

SYNC_JOB_NAME = "sync_tenant"
# The hourly schedule's job: one run syncs a batch of tenants, a range of consecutive tenant partitions.
BATCH_JOB_NAME = "sync_tenant_batch"
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

# "true" on the run the new-tenant sensor starts for a tenant just added (its first, full sync).
INITIAL_SYNC_TAG = "discord_sync/initial_sync"
# A run of a range of partitions carries its first and last key (Dagster's own tags for a partition range).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# On a batch run once it ends: the tenants of its batch whose sync failed (comma-separated), each retried alone.
FAILED_TENANTS_TAG = "discord_sync/failed_tenants"
# On the single-tenant run that retries a tenant which failed in a batch: the batch run's id.
BATCH_RETRY_OF_TAG = "discord_sync/batch_retry_of"

# "true" on the runs of the hourly schedule.
HOURLY_SYNC_TAG = "discord_sync/hourly"

# The automation sensor that computes a tenant's community metrics after its own sync, and the tag Dagster puts on
# the runs it launches: such a run carries the tenant's partition tag but is not a sync.
METRICS_SENSOR_NAME = "community_metrics_after_sync"
SENSOR_NAME_TAG = "dagster/sensor_name"

# The lane a run queues in. `dagster.yaml` caps the bulk lane's runs at once below `max_concurrent_runs`, so an
# hourly sync always finds a slot, and the request limiter gives an hourly run's requests precedence.
LANE_TAG = "discord_sync/lane"
# Incremental syncs: the hourly schedule's runs and `sync start` (a tenant's catch-up).
HOURLY_LANE = "hourly"
# Long runs: a new tenant's initial sync, resets and reconciles.
BULK_LANE = "bulk"
# Dagster's run queue dequeues runs of higher priority first (an integer; unset is 0).
PRIORITY_TAG = "dagster/priority"
LANE_PRIORITY = {HOURLY_LANE: "10", BULK_LANE: "0"}

# A run with one of these tags is a bulk run: it re-reads a tenant's whole history or syncs it from the beginning.
_BULK_TAGS = (INITIAL_SYNC_TAG, RESET_TAG, RESET_CHANNEL_TAG, RECONCILE_TAG)


def lane_of(tags: Mapping[str, str] | None) -> str:
    """The lane of a run with these tags: its lane tag if set, else bulk for an initial sync, reset or reconcile
    (a run launched from the UI with only those tags), else hourly."""
    tags = tags or {}
    if tags.get(LANE_TAG) in (HOURLY_LANE, BULK_LANE):
        return tags[LANE_TAG]
    return BULK_LANE if any(tags.get(tag) for tag in _BULK_TAGS) else HOURLY_LANE


def with_lane(tags: Mapping[str, str] | None, lane: str | None = None) -> dict[str, str]:
    """`tags` plus the lane and queue-priority tags every launched run carries (`lane` or the one its tags imply)."""
    lane = lane or lane_of(tags)
    return {**(tags or {}), LANE_TAG: lane, PRIORITY_TAG: LANE_PRIORITY[lane]}
