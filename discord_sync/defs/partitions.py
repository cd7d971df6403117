"""Tenants are Dagster dynamic partitions: one partition key per tenant id (a slug, see `tenants.py`)."""

import dagster as dg

tenant_partitions = dg.DynamicPartitionsDefinition(name="tenants")
