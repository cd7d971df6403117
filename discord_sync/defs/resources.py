"""Dagster resources: the Discord client, the sync's tuning and secrets, the product's PostgreSQL, its IO manager,
and the alert webhook.

The IO manager upserts the assets that return a DataFrame (the channel catalog, through `store.writer.upsert_frame`).
The message sync, which must not hold a tenant's history in memory, writes its batches itself from inside the asset
(`store.writer.write_message_batch`: a `COPY` of new messages, the staging upsert when a batch overlaps stored ones)
and reports what it wrote as materialization metadata. Every default comes from `settings.DEFAULTS`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import PrivateAttr

from discord_sync.defs.alert_webhook import AlertWebhook
from discord_sync.run_names import HOURLY_LANE
from discord_sync.settings import DEFAULTS, Settings
from discord_sync.source.discord.client import DiscordSource
from discord_sync.source.rate_limiter import PostgresRateLimiter
from discord_sync.store.database import libpq_url, shared_engine
from discord_sync.store.migrate import require_current_schema
from discord_sync.store.retention import RetentionPolicy
from discord_sync.store.schema import metadata
from discord_sync.store.writer import upsert_frame
from discord_sync.sync.refresh_plan import RefreshPolicy
from discord_sync.sync.report import SyncOptions

GLOBAL_LIMITER_BUCKET = "discord:global"


class PostgresResource(dg.ConfigurableResource):
    """The product's PostgreSQL (`DATABASE_URL`, passed as an `EnvVar` so the password never enters Dagster)."""

    database_url: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Migrating is a deploy step (`discord-sync migrate`); a run only refuses to touch a schema it does not know.
        require_current_schema(self.database_url)

    def url(self) -> str:
        """The database URL, for the parts that open their own connections (the request limiter)."""
        return self.database_url

    def engine(self) -> sa.Engine:
        """The process's shared engine on the product's tables."""
        return shared_engine(self.database_url)


class DiscordResource(dg.ConfigurableResource):
    """Discord's REST API through discord.py, paced by the request limiter shared through PostgreSQL."""

    bot_token: str
    # Where the request limiter keeps the bot's shared budget.
    postgres: PostgresResource
    discord_api_base_url: str = DEFAULTS.discord_api_base_url
    global_requests_per_second: float = DEFAULTS.global_requests_per_second
    bulk_request_share: float = DEFAULTS.bulk_request_share
    max_rate_limit_wait: float = DEFAULTS.max_rate_limit_wait
    request_timeout: float = DEFAULTS.request_timeout
    debug_rate_limits: bool = DEFAULTS.debug_rate_limits
    # The instance and id of the run this resource serves (none outside a run).
    _run: tuple[dg.DagsterInstance, str] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.instance is not None and context.run_id:
            self._run = (context.instance, context.run_id)

    def source(self, *, lane: str = HOURLY_LANE) -> DiscordSource:
        """A new (not yet logged-in) session whose requests take the limiter's slots in the run's `lane`; use it as
        `async with resource.source(lane=...) as source`.

        In a run that is being canceled it raises `dg.Failure` (no retry) instead. Cancelling interrupts the step
        that is running, but Dagster turns that interrupt into a retry of any step with a `RetryPolicy` when steps run
        in process (dagster-io/dagster#15026): without this check the retried step would sync on, and the run worker
        would never record the cancellation (a container is killed after its stop timeout; run monitoring then marks
        the run CANCELED minutes later). With it, the retried step stops at once and the run ends CANCELED.
        """
        self._stop_if_canceling()
        limiter = PostgresRateLimiter(
            libpq_url(self.postgres.url()),
            GLOBAL_LIMITER_BUCKET,
            self.global_requests_per_second,
            lane=lane,
            bulk_share=self.bulk_request_share,
        )
        return DiscordSource(
            token=self.bot_token,
            api_base_url=self.discord_api_base_url,
            limiter=limiter,
            request_timeout=self.request_timeout,
            max_rate_limit_wait=self.max_rate_limit_wait,
            debug_rate_limits=self.debug_rate_limits,
        )

    def _stop_if_canceling(self) -> None:
        if self._run is None:
            return
        instance, run_id = self._run
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED):
            raise dg.Failure(
                f"run {run_id} is being canceled: no new Discord session is opened (the sync resumes from its "
                "checkpoints in the next run)",
                allow_retries=False,
            )


class SyncResource(dg.ConfigurableResource):
    """How a tenant sync runs: parallelism, page and batch sizes, how often archived threads are listed
    completely, and the anonymization key."""

    anonymization_key: str
    max_channel_workers: int = DEFAULTS.max_channel_workers
    max_windows_per_channel: int = DEFAULTS.max_windows_per_channel
    message_fetch_size: int = DEFAULTS.message_fetch_size
    write_batch_messages: int = DEFAULTS.write_batch_messages
    full_thread_listing_hours: int = DEFAULTS.full_thread_listing_hours
    refresh_hourly_horizon_hours: float = DEFAULTS.refresh_hourly_horizon_hours
    refresh_daily_horizon_days: float = DEFAULTS.refresh_daily_horizon_days
    reconcile_requests_per_second: float = DEFAULTS.reconcile_requests_per_second
    deleted_messages: str = DEFAULTS.deleted_messages
    progress_interval_seconds: float = DEFAULTS.progress_interval_seconds
    members_every_hours: float = DEFAULTS.members_every_hours
    reactors_days: int = DEFAULTS.reactors_days
    reactors_request_budget: int = DEFAULTS.reactors_request_budget

    def refresh_policy(self) -> RefreshPolicy:
        """Which stored history each run re-reads, and what a message found deleted becomes."""
        return RefreshPolicy(
            hourly_horizon=timedelta(hours=self.refresh_hourly_horizon_hours),
            daily_horizon=timedelta(days=self.refresh_daily_horizon_days),
            reconcile_requests_per_second=self.reconcile_requests_per_second,
            deleted_messages=self.deleted_messages,
        )

    def options(self) -> SyncOptions:
        """The sync's tuning as the sync engine takes it."""
        return SyncOptions(
            max_channel_workers=self.max_channel_workers,
            max_windows_per_channel=self.max_windows_per_channel,
            message_fetch_size=self.message_fetch_size,
            write_batch_messages=self.write_batch_messages,
            progress_interval_seconds=self.progress_interval_seconds,
        )


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


class SyncFreshness(dg.ConfigurableResource):
    """How old a tenant's last successful sync may get before it counts as stale (`SYNC_FRESHNESS_HOURS`)."""

    max_age_hours: float = DEFAULTS.sync_freshness_hours


class HourlyBatches(dg.ConfigurableResource):
    """How many tenants one hourly sync run syncs (`SYNC_HOURLY_BATCH_TENANTS`): each is still its own partition."""

    tenants: int = DEFAULTS.hourly_batch_tenants


class RunRetention(dg.ConfigurableResource):
    """How long Dagster keeps finished runs and their event logs (`DAGSTER_RUN_RETENTION_DAYS`), and the sync's own
    history (`SYNC_ATTEMPT_RETENTION_DAYS`, `SYNC_FAILED_ATTEMPT_RETENTION_DAYS`, `SYNC_STALE_ATTEMPT_HOURS`,
    `SYNC_RUN_HISTORY_RETENTION_DAYS`, `API_AUDIT_RETENTION_DAYS`)."""

    days: int = DEFAULTS.dagster_run_retention_days
    attempt_days: int = DEFAULTS.attempt_retention_days
    failed_attempt_days: int = DEFAULTS.failed_attempt_retention_days
    stale_attempt_hours: float = DEFAULTS.stale_attempt_hours
    sync_run_days: int = DEFAULTS.run_history_retention_days
    audit_days: int = DEFAULTS.api_audit_retention_days

    def policy(self) -> RetentionPolicy:
        """The retention of the product's history tables."""
        return RetentionPolicy(
            attempt_days=self.attempt_days,
            failed_attempt_days=self.failed_attempt_days,
            stale_attempt_hours=self.stale_attempt_hours,
            sync_run_days=self.sync_run_days,
            audit_days=self.audit_days,
        )


def resources_from_settings(settings: Settings) -> dict[str, Any]:
    """The resources of a deployment, every field filled from `settings`; secrets (the bot token, the anonymization
    key, the database URL with its password) go in as `EnvVar`, so Dagster stores and shows only their names.

    Nothing here requires a variable to be set: an `EnvVar` is read when a run (or a sensor) uses its resource, and
    fails there naming the variable. So Dagster's tools (`dg check defs`, `dg list defs`, `dagster definitions
    validate`) load the code location on a bare checkout, with no database and no secret."""
    postgres = PostgresResource(database_url=dg.EnvVar("DATABASE_URL"))
    return {
        "discord": DiscordResource(
            bot_token=dg.EnvVar("DISCORD_BOT_TOKEN"),
            postgres=postgres,
            discord_api_base_url=settings.discord_api_base_url,
            global_requests_per_second=settings.global_requests_per_second,
            bulk_request_share=settings.bulk_request_share,
            max_rate_limit_wait=settings.max_rate_limit_wait,
            request_timeout=settings.request_timeout,
            debug_rate_limits=settings.debug_rate_limits,
        ),
        "sync": SyncResource(
            anonymization_key=dg.EnvVar("ANONYMIZATION_KEY"),
            max_channel_workers=settings.max_channel_workers,
            max_windows_per_channel=settings.max_windows_per_channel,
            message_fetch_size=settings.message_fetch_size,
            write_batch_messages=settings.write_batch_messages,
            full_thread_listing_hours=settings.full_thread_listing_hours,
            refresh_hourly_horizon_hours=settings.refresh_hourly_horizon_hours,
            refresh_daily_horizon_days=settings.refresh_daily_horizon_days,
            reconcile_requests_per_second=settings.reconcile_requests_per_second,
            deleted_messages=settings.deleted_messages,
            progress_interval_seconds=settings.progress_interval_seconds,
            members_every_hours=settings.members_every_hours,
            reactors_days=settings.reactors_days,
            reactors_request_budget=settings.reactors_request_budget,
        ),
        "postgres": postgres,
        "io_manager": PostgresIOManager(postgres=postgres),
        # A webhook URL often holds a token: through EnvVar, the UI shows the variable's name, not the URL.
        "alert_webhook": AlertWebhook(url=dg.EnvVar("ALERT_WEBHOOK_URL") if settings.alert_webhook_url else None),
        "freshness": SyncFreshness(max_age_hours=settings.sync_freshness_hours),
        "hourly_batches": HourlyBatches(tenants=settings.hourly_batch_tenants),
        "run_retention": RunRetention(
            days=settings.dagster_run_retention_days,
            attempt_days=settings.attempt_retention_days,
            failed_attempt_days=settings.failed_attempt_retention_days,
            stale_attempt_hours=settings.stale_attempt_hours,
            sync_run_days=settings.run_history_retention_days,
            audit_days=settings.api_audit_retention_days,
        ),
    }
