"""Tenants are Dagster dynamic partitions: one partition key per tenant id (a slug, see `tenants.py`)."""

import dagster as dg

from discord_sync.run_names import TENANT_PARTITIONS_NAME

tenant_partitions = dg.DynamicPartitionsDefinition(name=TENANT_PARTITIONS_NAME)
