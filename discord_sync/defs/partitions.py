"""Tenants are Dagster dynamic partitions: one partition key per tenant id (a slug, see `tenants.py`)."""

import dagster as dg

TENANT_PARTITIONS_NAME = "tenants"
tenant_partitions = dg.DynamicPartitionsDefinition(name=TENANT_PARTITIONS_NAME)
