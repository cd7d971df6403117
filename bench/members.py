"""Benchmark 11: members and who reacted.

11a. The members sync of a 100,000-member guild through the product's Discord source against the emulator (its own
process, rate limits on, emulated latency) into PostgreSQL: requests by route against the floor of one per 1,000
members, and the wall time.

11b. Who reacted, per tenant-hour, for a stated reaction rate: after a first sync that lists everything, an hour
of activity is posted (`MESSAGES_PER_HOUR` new messages, `REACTED_SHARE` of them reacted with one or two emoji, a
third of those also with a burst reaction, and `CHANGED_PER_HOUR` earlier messages gaining a reaction); the
tenant's sync (catalog, messages with the refresh policy, members, reactors) then runs through the real Dagster
assets and the emulator counts its requests by route.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from bench.dagster_stack import environment
from bench.infra import ANONYMIZATION_KEY, BENCH_TOKEN, EmulatorProcess, Server, sync_environment
from discord_sync.defs.assets import channels, messages
from discord_sync.defs.member_assets import members, message_reactors
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME
from discord_sync.defs.resources import DiscordResource, PostgresResource, resources_from_settings
from discord_sync.emulator import GuildSpec
from discord_sync.settings import Settings
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.store.database import create_db_engine
from discord_sync.store.reactors import set_who_reacted
from discord_sync.store.tenants import add_tenant
from discord_sync.sync.members import sync_members

TENANT = "bench"
MEMBERS_ROUTE = "GET /guilds/{guild_id}/members"
REACTORS_ROUTE = "GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}"
MESSAGES_PER_HOUR = 120
REACTED_SHARE = 0.15
CHANGED_PER_HOUR = 12


@dataclass
class MembersMeasurement:
    members: int
    member_requests: int
    total_requests: int
    seconds: float
    stored: int


@dataclass
class ReactorsMeasurement:
    messages_posted: int
    reactions_added: int
    reactor_requests: int
    all_requests: int
    reactor_rows: int


def measure_members_sync(server: Server, latency: float, count: int) -> MembersMeasurement:
    """One members sync of a guild of `count` members (the first, so every member is written)."""
    url = server.fresh_database("bench_members")
    engine = create_db_engine(url)
    emulator = EmulatorProcess.start(
        [GuildSpec(seed=11, layout="uniform", channels=1, members=count)], latency_ms=latency
    )
    try:
        guild_id = emulator.guild_ids[0]
        with engine.begin() as conn:
            add_tenant(conn, TENANT, guild_id)
        resource = DiscordResource(
            bot_token=BENCH_TOKEN,
            discord_api_base_url=emulator.base_url,
            postgres=PostgresResource(database_url=url),
        )

        async def run() -> float:
            async with resource.source() as source:
                started = time.monotonic()
                report = await sync_members(source, engine, TENANT, guild_id, Anonymizer(ANONYMIZATION_KEY))
                assert report.status == "synced", report
                return time.monotonic() - started

        emulator.client.reset_counters()
        seconds = asyncio.run(run())
        counters = emulator.client.counters()
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM members WHERE left_at IS NULL")).scalar_one()
    finally:
        emulator.stop()
        engine.dispose()
    return MembersMeasurement(
        members=count,
        member_requests=counters["requests_by_route"].get(MEMBERS_ROUTE, 0),
        total_requests=counters["requests"],
        seconds=seconds,
        stored=stored,
    )


def _sync(instance: dg.DagsterInstance) -> None:
    result = dg.materialize(
        [channels, messages, members, message_reactors],
        partition_key=TENANT,
        instance=instance,
        resources=resources_from_settings(Settings.from_env()),
    )
    assert result.success


def measure_reactors_hour(server: Server, latency: float) -> ReactorsMeasurement:
    """The requests of one tenant-hour of who reacted at the stated reaction rate."""
    url = server.fresh_database("bench_reactors")
    engine = create_db_engine(url)
    emulator = EmulatorProcess.start(
        [GuildSpec(seed=12, layout="uniform", channels=3, messages_per_channel=50)], latency_ms=latency
    )
    control = emulator.client
    try:
        guild_id = emulator.guild_ids[0]
        with engine.begin() as conn:
            add_tenant(conn, TENANT, guild_id)
            set_who_reacted(conn, TENANT, True)
        channel_ids = [int(c["id"]) for c in control.channels(guild_id) if c["type"] == 0]
        reacted: list[tuple[int, int]] = []

        def post_hour() -> int:
            added = 0
            for n in range(MESSAGES_PER_HOUR):
                channel_id = channel_ids[n % len(channel_ids)]
                message_id = int(control.add_message(channel_id, f"hour message {n}")["id"])
                if n % round(1 / REACTED_SHARE) == 0:
                    control.react(channel_id, message_id, "👍", 1 + n % 5)
                    added += 1
                    if n % 2 == 0:
                        control.react(channel_id, message_id, "🎉", 1 + n % 3)
                        added += 1
                    if n % 3 == 0:
                        control.react(channel_id, message_id, "🔥", 1, burst=True)
                    reacted.append((channel_id, message_id))
            return added

        env = sync_environment(emulator.base_url, url, SYNC_REACTORS_REQUEST_BUDGET="100000")
        with environment(env):
            instance = dg.DagsterInstance.ephemeral()
            instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [TENANT])
            post_hour()
            _sync(instance)  # the catch-up: every reaction of the window listed once
            added = post_hour()
            for channel_id, message_id in reacted[:CHANGED_PER_HOUR]:
                control.react(channel_id, message_id, "👍", 1)
                added += 1
            control.reset_counters()
            _sync(instance)
            counters = control.counters()
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM message_reactors")).scalar_one()
    finally:
        emulator.stop()
        engine.dispose()
    return ReactorsMeasurement(
        messages_posted=MESSAGES_PER_HOUR,
        reactions_added=added,
        reactor_requests=counters["requests_by_route"].get(REACTORS_ROUTE, 0),
        all_requests=counters["requests"],
        reactor_rows=rows,
    )
