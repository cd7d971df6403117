"""`/metrics` (admin key): Prometheus metrics read from the product's tables at scrape time, plus the API's own.

Sync figures come from `sync_runs`, so every API process (and the sync runs themselves, in other processes)
agree: syncs by outcome, messages, Discord requests, 429s, invalid requests, seconds since each tenant's last
successful sync. The API counts its own requests by route and status, which shows refused (invalid) calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from discord_sync.api.auth import admin_key
from discord_sync.api.responses import errors
from discord_sync.store.api_keys import ApiKey
from discord_sync.store.sync_runs import run_metrics
from discord_sync.store.sync_status import RunOutcome

router = APIRouter(tags=["operations"])


class SyncCollector(Collector):
    """Reads per-tenant sync totals from `sync_runs` on each scrape."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        with self.engine.connect() as conn:
            rows = run_metrics(conn)
        syncs = CounterMetricFamily("discord_sync_syncs", "Tenant sync runs by outcome", labels=["tenant", "outcome"])
        counters = {
            "messages": CounterMetricFamily("discord_sync_messages_synced", "Messages stored", labels=["tenant"]),
            "discord_requests": CounterMetricFamily(
                "discord_sync_discord_requests", "Requests made to Discord", labels=["tenant"]
            ),
            "rate_limit_hits": CounterMetricFamily(
                "discord_sync_discord_rate_limited", "429 answers from Discord", labels=["tenant"]
            ),
            "invalid_requests": CounterMetricFamily(
                "discord_sync_discord_invalid_requests",
                "401, 403 and 429 answers (Discord's invalid-request limit counts them)",
                labels=["tenant"],
            ),
        }
        since = GaugeMetricFamily(
            "discord_sync_seconds_since_last_success",
            "Seconds since the tenant's last fully successful sync finished (absent before the first)",
            labels=["tenant"],
        )
        for row in rows:
            tenant = row["tenant_id"]
            for outcome in RunOutcome:
                syncs.add_metric([tenant, outcome], row[f"runs_{outcome}"])
            for column, family in counters.items():
                family.add_metric([tenant], row[column])
            if row["seconds_since_success"] is not None:
                since.add_metric([tenant], float(row["seconds_since_success"]))
        yield syncs
        yield from counters.values()
        yield since


class ApiMetrics:
    """The app's own registry: the sync collector and a counter of API requests by route and status."""

    def __init__(self, engine: sa.Engine) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SyncCollector(engine))
        self.requests = Counter(
            "discord_sync_api_requests",
            "API requests by route and status (4xx are refused, invalid requests)",
            ["method", "route", "status"],
            registry=self.registry,
        )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
        **errors(401, 403),
    },
    summary="Prometheus metrics (admin key)",
)
def metrics(request: Request, _: Annotated[ApiKey, Depends(admin_key)]) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
