"""Wires the project together for Dagster; nothing else lives here."""

import dagster as dg

from discord_sync.assets import channels, messages
from discord_sync.jobs import sync_tenant_job
from discord_sync.resources import resources_from_settings
from discord_sync.settings import Settings

settings = Settings.from_env()

defs = dg.Definitions(
    assets=[channels, messages],
    jobs=[sync_tenant_job],
    resources=resources_from_settings(settings),
)
