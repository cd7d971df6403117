"""Benchmark 7: the hourly run with 1% of channels changed and a stream of edits, deletions and reactions on the
last 7 days: the requests it makes beside the floor the refresh policy sets, and how true the copy is after it.

The model (per hour, on a guild whose channels each hold `messages_per_channel` messages spread over the last
7 days): 1% of channels get a new message; of the messages of the last 24 h, 2% are edited, 10% gain reactions
(1-5 of an emoji, a fifth of them a second emoji) and 1% lose their reactions again, 0.5% are deleted; of the
messages of days 2-7, 0.5% are edited, 2% gain reactions and 0.2% are deleted (reactions and edits come mostly in
a message's first hours). Changes are drawn with a fixed seed.

Staleness is the share of messages whose content, reactions and deletion state equal Discord's (the emulator's
ground truth) after the run: for the last 24 h after the hourly run (target 100%), for the last 7 days after the
daily re-read (target 100%). Each sync runs in its own process (`bench.sync_once`), as a Dagster run would.
It counts requests and compares state, so its figures do not depend on the machine's load.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from bench.infra import EmulatorProcess, Server, sync_environment
from discord_sync.emulator import GuildSpec
from discord_sync.store.database import create_db_engine
from discord_sync.store.schema import channel_refreshes, message_emoji_reactions, messages
from discord_sync.store.tenants import add_tenant

TENANT = "bench_refresh"
DAY_S = 86_400
MESSAGE_ROUTE = "GET /channels/{channel_id}/messages"
SINGLE_MESSAGE_ROUTE = "GET /channels/{channel_id}/messages/{message_id}"
# (share edited, share reacted to, share with reactions removed, share deleted) per hour, by age.
RECENT_MODEL = (0.02, 0.10, 0.01, 0.005)
WEEK_MODEL = (0.005, 0.02, 0.0, 0.002)
EMOJI = ("👍", "🎉", "❤️", "😂")


@dataclass
class RunFigures:
    """One sync's requests by kind and what it re-read."""

    requests: int
    message_pages: int
    confirmations: int
    discovery: int
    refresh_requests: int
    windows: int
    deleted: int


@dataclass
class RefreshMeasurement:
    channels: int
    messages: int
    changes: dict
    hourly: RunFigures
    hourly_floor: int
    daily: RunFigures
    daily_floor: int
    fresh_24h_after_hourly: float
    fresh_7d_after_hourly: float
    fresh_7d_after_daily: float


def _sync(env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.sync_once", TENANT], env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"sync failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(lines[0].removeprefix("BENCH_RESULT "))
    if not result["success"]:
        raise RuntimeError("sync run did not succeed")
    return result["metadata"]["messages"]


def _figures(control, metadata: dict) -> RunFigures:
    by_route = control.counters()["requests_by_route"]
    pages = by_route.get(MESSAGE_ROUTE, 0)
    confirmations = by_route.get(SINGLE_MESSAGE_ROUTE, 0)
    return RunFigures(
        requests=sum(by_route.values()),
        message_pages=pages,
        confirmations=confirmations,
        discovery=sum(by_route.values()) - pages - confirmations,
        refresh_requests=metadata.get("refresh_requests", 0),
        windows=metadata.get("refresh_windows", 0),
        deleted=metadata.get("refresh_messages_deleted", 0),
    )


def _apply_hour_of_changes(control, channels: list[int], rng: random.Random, now: float) -> dict:
    """The model's changes for one hour, on the emulator; returns how many of each."""
    counts: dict[str, int] = defaultdict(int)
    for channel in channels:
        for payload in control.ground_truth_messages(channel):
            message_id = int(payload["id"])
            age = now - (((message_id >> 22) + 1420070400000) / 1000)
            edit, react, unreact, delete = RECENT_MODEL if age < DAY_S else WEEK_MODEL
            draw = rng.random()
            if draw < delete:
                control.delete_message(channel, message_id)
                counts["deleted"] += 1
                continue
            if rng.random() < edit:
                control.edit_message(channel, message_id, payload["content"] + " (edited)")
                counts["edited"] += 1
            if rng.random() < react:
                control.react(channel, message_id, rng.choice(EMOJI), rng.randint(1, 5))
                counts["reacted"] += 1
            if payload.get("reactions") and rng.random() < unreact:
                first = payload["reactions"][0]
                control.react(channel, message_id, first["emoji"]["name"], -first["count"])
                counts["unreacted"] += 1
    changed = max(1, round(len(channels) * 0.01))
    for number in range(changed):
        control.add_message(channels[number * len(channels) // changed], content=f"new this hour {number}")
    counts["channels_with_new_messages"] = changed
    return dict(counts)


def _fresh_share(engine: sa.Engine, control, channels: list[int], horizon_s: float) -> float:
    """Share of messages younger than `horizon_s` whose content, reactions and deletion state equal Discord's."""
    now = time.time()
    cutoff = now - horizon_s
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(messages.c.id, messages.c.content, messages.c.deleted_at).where(
                messages.c.tenant_id == TENANT, messages.c.created_at >= sa.func.to_timestamp(cutoff)
            )
        ).all()
        reactions = defaultdict(dict)
        for message_id, key, count in conn.execute(
            sa.select(
                message_emoji_reactions.c.message_id,
                message_emoji_reactions.c.emoji_key,
                message_emoji_reactions.c.count,
            ).where(message_emoji_reactions.c.tenant_id == TENANT)
        ):
            reactions[message_id][key] = count
    stored = {r.id: r for r in rows}
    truth = {}
    for channel in channels:
        for payload in control.ground_truth_messages(channel):
            if ((int(payload["id"]) >> 22) + 1420070400000) / 1000 >= cutoff:
                truth[int(payload["id"])] = payload
    equal = 0
    for message_id in stored.keys() | truth.keys():
        row, payload = stored.get(message_id), truth.get(message_id)
        if payload is None:
            equal += row is None or row.deleted_at is not None
        elif row is not None and row.deleted_at is None and row.content == payload["content"]:
            expected = {r["emoji"]["id"] or r["emoji"]["name"]: r["count"] for r in payload.get("reactions", [])}
            equal += reactions.get(message_id, {}) == expected
    return equal / max(1, len(stored.keys() | truth.keys()))


def _floor(
    control, channels: list[int], horizon_s: float, changed: int, windows_with_deletions: int, discovery: int
) -> int:
    """Requests the policy cannot do without: discovery, one page per changed channel, one page per 100 stored
    messages of the horizon per channel (at least one for a channel with any), one confirmation per deletion."""
    now = time.time()
    pages = 0
    for channel in channels:
        recent = sum(
            1
            for p in control.ground_truth_messages(channel)
            if now - (((int(p["id"]) >> 22) + 1420070400000) / 1000) < horizon_s
        )
        pages += math.ceil(recent / 100)
    return discovery + changed + pages + windows_with_deletions


def measure_refresh(server: Server, channels: int, messages_per_channel: int, latency_ms: float) -> RefreshMeasurement:
    spec = GuildSpec(seed=7, layout="uniform", channels=1, messages_per_channel=1)
    with EmulatorProcess.start([spec], latency_ms=latency_ms) as emulator:
        control, guild_id = emulator.client, emulator.guild_ids[0]
        ids = []
        for number in range(channels):
            channel = int(control.create_channel(guild_id, f"week-{number}")["id"])
            control.post_history(channel, messages_per_channel, days=7)
            ids.append(channel)
        url = server.fresh_database("bench_refresh")
        engine = create_db_engine(url)
        with engine.begin() as conn:
            add_tenant(conn, TENANT, guild_id)
        env = sync_environment(emulator.base_url, url)
        _sync(env)  # catch up: counts as every channel's hourly and daily re-read
        _sync(env)  # a quiet hour
        changes = _apply_hour_of_changes(control, ids, random.Random(7), time.time())
        control.reset_counters()
        hourly = _figures(control, _sync(env))
        fresh_24h = _fresh_share(engine, control, ids, DAY_S)
        fresh_7d_hourly = _fresh_share(engine, control, ids, 7 * DAY_S)
        # Deleted messages change no more: the floor counts one confirmation per window that had deletions.
        hourly_floor = _floor(
            control, ids, DAY_S, changes["channels_with_new_messages"], hourly.confirmations, hourly.discovery
        )
        with engine.begin() as conn:
            conn.execute(
                channel_refreshes.update()
                .where(channel_refreshes.c.tenant_id == TENANT)
                .values(daily_refreshed_at=sa.func.now() - sa.text("interval '25 hours'"))
            )
        control.reset_counters()
        daily = _figures(control, _sync(env))
        fresh_7d_daily = _fresh_share(engine, control, ids, 7 * DAY_S)
        daily_floor = _floor(control, ids, 7 * DAY_S, 0, daily.confirmations, daily.discovery)
        engine.dispose()
    return RefreshMeasurement(
        channels=channels,
        messages=channels * messages_per_channel,
        changes=changes,
        hourly=hourly,
        hourly_floor=hourly_floor,
        daily=daily,
        daily_floor=daily_floor,
        fresh_24h_after_hourly=fresh_24h,
        fresh_7d_after_hourly=fresh_7d_hourly,
        fresh_7d_after_daily=fresh_7d_daily,
    )
