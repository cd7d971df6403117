"""Benchmark 12: the community metrics' recompute after an hourly sync of a tenant with 1,000,000 stored messages.

The history is loaded in SQL (`generate_series`, not through the sync): two years of messages in 20 channels and
400 forum posts, 5,000 authors (a few prolific), 8% from bots, 2% tombstones, reactions on 30% of messages. Then:

- the full compute (every day noted, as after the migration on a database with history),
- an hourly sync's changes: 400 new messages this hour, reactions and edits on 200 messages of the last 24 h
  (two changed days: today and yesterday),
- a daily re-read's changes: edits, reactions and a deletion on each of the last 7 days,

each followed by `refresh_community_metrics`, timed. What the recompute reads is bounded by the changed days (and
the 28-day windows and the threads they reach), never by the history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from bench.infra import Server
from discord_sync.store.community_metrics import MetricsRefresh, refresh_community_metrics
from discord_sync.store.database import create_db_engine
from discord_sync.store.tenants import add_tenant

TENANT = "bench"
CHANNELS = 20
POSTS = 400
AUTHORS = 5000
HISTORY_DAYS = 730
SNOWFLAKE = "((((extract(epoch FROM {t}) * 1000)::bigint - 1420070400000) << 22) | ({seq} % 4194304))"

_CHANNELS = f"""
INSERT INTO channels (tenant_id, id, name, type, is_thread, created_at)
SELECT :tenant, c, 'channel ' || c, CASE WHEN c = 1 THEN 15 ELSE 0 END, false, now() - interval '{HISTORY_DAYS} days'
FROM generate_series(1, {CHANNELS}) c;
INSERT INTO channels (tenant_id, id, parent_id, name, type, is_thread, owner_hash, created_at)
SELECT :tenant, 1000 + p, 1, 'post ' || p, 11, true, md5('author' || (p % {AUTHORS})),
       now() - (p * interval '{HISTORY_DAYS} days' / {POSTS})
FROM generate_series(1, {POSTS}) p;
"""

# Messages spread evenly over the history; authors skewed (the square makes low numbers prolific); every 25th
# message in a forum post.
_MESSAGES = f"""
INSERT INTO messages (tenant_id, id, channel_id, author_hash, author_is_bot, type, content, created_at, deleted_at)
SELECT :tenant, {SNOWFLAKE.format(t="s.t", seq="s.i")},
       CASE WHEN s.i % 25 = 0 THEN 1000 + 1 + (s.i / 25) % {POSTS} ELSE 2 + s.i % {CHANNELS - 1} END,
       CASE WHEN s.i % 50 = 7 THEN NULL ELSE md5('author' || floor(power(random(), 2) * {AUTHORS})::int) END,
       s.i % 12 = 5, CASE WHEN s.i % 10 = 3 THEN 19 ELSE 0 END, '',
       s.t, CASE WHEN s.i % 50 = 7 THEN s.t END
FROM (SELECT i, now() - interval '{HISTORY_DAYS} days' + (i * interval '{HISTORY_DAYS} days' / :count) AS t
      FROM generate_series(1, :count) i) s
"""

_REACTIONS = """
INSERT INTO message_emoji_reactions (tenant_id, message_id, emoji_key, emoji_name, count, normal_count)
SELECT tenant_id, id, '👍', '👍', 1 + id % 5, 1 + id % 5 FROM messages
WHERE tenant_id = :tenant AND deleted_at IS NULL AND id % 10 < 3
"""

# An hourly sync: new messages of the last hour, and re-read changes (reactions, edits) in the last 24 h.
_HOURLY = f"""
INSERT INTO messages (tenant_id, id, channel_id, author_hash, type, content, created_at)
SELECT :tenant, {SNOWFLAKE.format(t="s.t", seq="(s.i + 2000000)")}, 2 + s.i % {CHANNELS - 1},
       md5('author' || floor(power(random(), 2) * {AUTHORS})::int), 0, 'new', s.t
FROM (SELECT i, now() - interval '1 hour' + i * interval '1 hour' / 401 AS t FROM generate_series(1, 400) i) s;
UPDATE messages SET content = 'edited', edited_at = now(), synced_at = now()
WHERE tenant_id = :tenant AND created_at > now() - interval '24 hours' AND created_at < now() - interval '1 hour'
  AND id % 7 = 0 AND deleted_at IS NULL;
INSERT INTO message_emoji_reactions (tenant_id, message_id, emoji_key, emoji_name, count, normal_count)
SELECT tenant_id, id, '🎉', '🎉', 1, 1 FROM messages
WHERE tenant_id = :tenant AND created_at > now() - interval '24 hours' AND id % 7 = 1 AND deleted_at IS NULL
ON CONFLICT DO NOTHING;
"""

# A daily re-read: edits, reactions and one tombstone on each of the last 7 days.
_DAILY = """
UPDATE messages SET content = 'edited again', edited_at = now(), synced_at = now()
WHERE tenant_id = :tenant AND created_at > now() - interval '7 days' AND id % 13 = 0 AND deleted_at IS NULL;
INSERT INTO message_emoji_reactions (tenant_id, message_id, emoji_key, emoji_name, count, normal_count)
SELECT tenant_id, id, '🚀', '🚀', 2, 2 FROM messages
WHERE tenant_id = :tenant AND created_at > now() - interval '7 days' AND id % 13 = 1 AND deleted_at IS NULL;
UPDATE messages SET deleted_at = now(), author_hash = NULL, content = ''
WHERE tenant_id = :tenant AND id IN (
    SELECT DISTINCT ON ((created_at AT TIME ZONE 'UTC')::date) id FROM messages
    WHERE tenant_id = :tenant AND created_at > now() - interval '7 days' AND deleted_at IS NULL
    ORDER BY (created_at AT TIME ZONE 'UTC')::date, id);
"""


@dataclass
class MetricsMeasurement:
    """Seconds of each recompute and what it covered."""

    messages: int
    reactions: int
    load_seconds: float
    full_seconds: float
    full: MetricsRefresh
    hourly_seconds: float
    hourly: MetricsRefresh
    daily_seconds: float
    daily: MetricsRefresh


def _run(conn: sa.Connection, script: str) -> int:
    """Execute each statement of `script` (bound parameters allow one statement per call); returns rows touched."""
    return sum(
        conn.execute(sa.text(statement), {"tenant": TENANT}).rowcount
        for statement in script.split(";\n")
        if statement.strip()
    )


def _timed_refresh(engine: sa.Engine) -> tuple[float, MetricsRefresh]:
    started = time.perf_counter()
    with engine.begin() as conn:
        done = refresh_community_metrics(conn, TENANT)
    return time.perf_counter() - started, done


def measure_metrics_recompute(server: Server, messages: int = 1_000_000) -> MetricsMeasurement:
    """Load `messages` messages of history in SQL, compute everything once, then time the recompute after an
    hourly sync's and a daily re-read's changes."""
    engine = create_db_engine(server.fresh_database("bench_metrics"))
    started = time.perf_counter()
    with engine.begin() as conn:
        add_tenant(conn, TENANT, 1)
        _run(conn, _CHANNELS)
        conn.execute(sa.text(_MESSAGES), {"tenant": TENANT, "count": messages})
        reactions = conn.execute(sa.text(_REACTIONS), {"tenant": TENANT}).rowcount
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    load_seconds = time.perf_counter() - started
    full_seconds, full = _timed_refresh(engine)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    with engine.begin() as conn:
        _run(conn, _HOURLY)
    hourly_seconds, hourly = _timed_refresh(engine)
    with engine.begin() as conn:
        _run(conn, _DAILY)
    daily_seconds, daily = _timed_refresh(engine)
    engine.dispose()
    return MetricsMeasurement(
        messages, reactions, load_seconds, full_seconds, full, hourly_seconds, hourly, daily_seconds, daily
    )


if __name__ == "__main__":
    import os
    import sys

    m = measure_metrics_recompute(
        Server(os.environ.get("DATABASE_URL")), int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    )
    print(m)
