"""Dagster resources: the Discord client, the sync's tuning and secrets, and the Postgres IO manager.

The IO manager is the one write path into the product's tables. Assets that return a DataFrame (the channel
catalog) are upserted by `handle_output`; the message sync, which must not hold a tenant's history in memory,
streams its batches through the same `writer` functions from inside the asset, on the same `PostgresResource`,
and reports what it wrote as materialization metadata. Either way rows go `COPY` -> staging -> `ON CONFLICT`.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from discord_sync.settings import DEFAULT_API_BASE_URL, Settings
from discord_sync.source.discord.client import DiscordSource
from discord_sync.source.rate_limiter import PostgresRateLimiter
from discord_sync.store.database import libpq_url, resolve_database_url, shared_engine
from discord_sync.store.migrate import migrate
from discord_sync.store.schema import metadata
from discord_sync.store.writer import upsert_frame
from discord_sync.sync.report import SyncOptions

GLOBAL_LIMITER_BUCKET = "discord:global"


class DiscordResource(dg.ConfigurableResource):
    """Discord's REST API through discord.py, paced by the request limiter shared through PostgreSQL."""

    bot_token: str
    api_base_url: str = DEFAULT_API_BASE_URL
    global_requests_per_second: float = 47.0
    max_rate_limit_wait_seconds: float = 60.0
    request_timeout_seconds: float = 30.0
    debug_rate_limits: bool = False

    def source(self, database_url: str) -> DiscordSource:
        """A new (not yet logged-in) session; use it as `async with resource.source(url) as source`."""
        limiter = PostgresRateLimiter(libpq_url(database_url), GLOBAL_LIMITER_BUCKET, self.global_requests_per_second)
        return DiscordSource(
            token=self.bot_token,
            api_base_url=self.api_base_url,
            limiter=limiter,
            request_timeout=self.request_timeout_seconds,
            max_rate_limit_wait=self.max_rate_limit_wait_seconds,
            debug_rate_limits=self.debug_rate_limits,
        )


class SyncResource(dg.ConfigurableResource):
    """How a tenant sync runs: parallelism, page and batch sizes, and the anonymization key."""

    anonymization_key: str
    max_channel_workers: int = 10
    channel_batch_size: int = 5
    message_fetch_size: int = 100
    write_batch_messages: int = 2000
    progress_interval_seconds: float = 5.0

    def options(self) -> SyncOptions:
        return SyncOptions(
            max_channel_workers=self.max_channel_workers,
            max_windows_per_channel=self.channel_batch_size,
            message_fetch_size=self.message_fetch_size,
            write_batch_messages=self.write_batch_messages,
            progress_interval=self.progress_interval_seconds,
        )


class PostgresResource(dg.ConfigurableResource):
    """The product's PostgreSQL: `DATABASE_URL`, or the embedded server when it is unset."""

    database_url: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A run on a fresh database creates the tables first (idempotent, serialized by an advisory lock).
        migrate(self.url())

    def url(self) -> str:
        return self.database_url or resolve_database_url()

    def engine(self) -> sa.Engine:
        return shared_engine(self.url())


class PostgresIOManager(dg.ConfigurableIOManager):
    """Upserts an asset's DataFrame into the table named like the asset; loads a tenant partition's rows back."""

    postgres: PostgresResource

    def engine(self) -> sa.Engine:
        return self.postgres.engine()

    def _table(self, context: dg.OutputContext | dg.InputContext) -> sa.Table:
        return metadata.tables[context.asset_key.path[-1]]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"PostgresIOManager stores DataFrames, got {type(obj).__name__}")
        with self.engine().begin() as conn:
            written = upsert_frame(conn, self._table(context), obj, skip_unchanged=False)
        context.add_output_metadata({"rows_upserted": written})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = self._table(context)
        query = sa.select(table)
        if context.has_asset_partitions:
            query = query.where(table.c.tenant_id == context.asset_partition_key)
        with self.engine().connect() as conn:
            rows = conn.execute(query).all()
        # object dtype keeps snowflakes exact: a float64 column would round them.
        return pd.DataFrame(rows, columns=[c.name for c in table.columns], dtype=object)


def resources_from_settings(settings: Settings) -> dict[str, Any]:
    """The resources of a deployment: secrets through `EnvVar` (never in run config), the rest validated."""
    postgres = PostgresResource(database_url=settings.database_url)
    return {
        "discord": DiscordResource(
            bot_token=dg.EnvVar("DISCORD_BOT_TOKEN"),
            api_base_url=settings.discord_api_base_url,
            global_requests_per_second=settings.global_requests_per_second,
            max_rate_limit_wait_seconds=settings.max_rate_limit_wait,
            request_timeout_seconds=settings.request_timeout,
            debug_rate_limits=settings.debug_rate_limits,
        ),
        "sync": SyncResource(
            anonymization_key=dg.EnvVar("ANONYMIZATION_KEY"),
            max_channel_workers=settings.max_channel_workers,
            channel_batch_size=settings.channel_batch_size,
            message_fetch_size=settings.message_fetch_size,
            write_batch_messages=settings.write_batch_messages,
            progress_interval_seconds=settings.progress_interval,
        ),
        "postgres": postgres,
        "io_manager": PostgresIOManager(postgres=postgres),
    }
