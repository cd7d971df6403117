"""Dagster's own storage (runs, events, schedules) in the product's PostgreSQL.

`dagster.yaml` names this class, so every Dagster process (webserver, daemon, run workers, the CLI) finds the
same database the product uses: `DATABASE_URL`, or the embedded server when it is unset. Dagster's tables live in
the schema `dagster`, away from the analysts' tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from discord_sync.store.database import dagster_storage_url, ensure_dagster_schema, resolve_database_url


class DiscordSyncDagsterStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` pointed at the product's database, schema `dagster`, via psycopg2."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> DiscordSyncDagsterStorage:
        url = resolve_database_url()
        ensure_dagster_schema(url)
        return cls(postgres_url=dagster_storage_url(url), inst_data=inst_data)
