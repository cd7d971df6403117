"""Run tags that steer a tenant sync, shared by the Dagster job, the command line and the HTTP API.

They live outside `defs/` because nothing may import `defs` but `definitions.py`.
"""

# "true": forget the tenant's checkpoints and messages, then sync everything again from the beginning.
RESET_TAG = "discord_sync/reset"
# A channel or thread id: forget that one channel's checkpoint and messages, then sync it again.
RESET_CHANNEL_TAG = "discord_sync/reset_channel"
# The id of the API key that asked for a run (never the key itself), so a run can be traced to its caller.
REQUESTED_BY_TAG = "discord_sync/requested_by"
