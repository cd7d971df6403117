"""Community metrics computed in PostgreSQL, where the rows are, for the days the last sync changed only.

Statement triggers on `messages` and `message_emoji_reactions` (migration 0013) note each UTC day a statement
inserted, updated or deleted rows of in `metric_changed_days` (and one on `members` the join and leave days of
members whose join, leave or bot flag changed): one `INSERT ... SELECT DISTINCT` per statement over
its transition table, so the writer's `COPY` batches pay a few rows per batch, not a trigger per row. A reaction's
day is its message's (the message id's snowflake time, which is the message's `created_at`). This is exact (every
write path, a tombstone, a purge and a reaction change included) and costs nothing to read: `messages.synced_at`
would miss reaction-only changes and deleted rows.

`refresh_community_metrics` takes a tenant's notes (`DELETE ... RETURNING`, in the transaction that recomputes, so a
note committed meanwhile stays for the next refresh) and recomputes, with `INSERT ... SELECT` and upserts:

- `daily_communicators` (who posted on a day) for the changed days; from it `communicator_first_messages` for the
  authors of those days and the authors whose first day was one of them;
- `channel_daily_activity` for the changed days and the days an author's first message moved to or from;
- `daily_active_members` for each changed day and the 27 days after it (up to today): the windows that hold it;
- `weekly_retention` for the weeks of those days and the week before each changed day;
- `member_daily` (joins, leaves, activation) for the days members joined or left, as noted from `members`, and the
  join days a changed message day can activate (the 7 days before it and itself);
- `thread_first_replies` for the threads created or with messages on a changed day (a thread starts with a
  message, so its creation day is noted), then `daily_responsiveness` for the days those threads were created.

What counts as a message (docs/metrics.md): written by a person (not a bot, not a webhook), not deleted, a default
message or a reply (Discord types 0 and 19; join notices, pins and other system messages are not messages people
wrote). Reactions count on every message that still exists, a bot's included (a role menu's reactions are people's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

# Discord message types a person writes: DEFAULT and REPLY.
COUNTED_MESSAGE_TYPES = (0, 19)
COUNTED = (
    "m.deleted_at IS NULL AND NOT m.author_is_bot AND NOT m.is_webhook AND m.author_hash IS NOT NULL"
    f" AND m.type IN ({', '.join(map(str, COUNTED_MESSAGE_TYPES))})"
)
# Thread channel types (announcement, public, private thread); a public thread under a forum or media channel is a post.
THREAD_TYPES = (10, 11, 12)
FORUM_TYPES = (15, 16)
DAY_RANGE = "m.created_at >= (d.day::timestamp AT TIME ZONE 'UTC') AND m.created_at < ((d.day + 1)::timestamp AT TIME ZONE 'UTC')"
TODAY = "(now() AT TIME ZONE 'UTC')::date"
ANSWER_WITHIN_SECONDS = 24 * 3600

_STEPS: tuple[str, ...] = (
    # The day ranges are join parameters, so the planner estimates a day at a tenth of the history; past
    # jit_above_cost it then spends a second compiling what runs in milliseconds.
    "SET LOCAL jit = off",
    # The days to recompute, taken from the notes.
    "CREATE TEMPORARY TABLE _notes (day date, source text) ON COMMIT DROP",
    """WITH taken AS (DELETE FROM metric_changed_days WHERE tenant_id = :tenant RETURNING day, source)
       INSERT INTO _notes SELECT DISTINCT day, source FROM taken""",
    "CREATE TEMPORARY TABLE _changed_days (day date PRIMARY KEY) ON COMMIT DROP",
    "INSERT INTO _changed_days SELECT DISTINCT day FROM _notes WHERE source = 'messages'",
    # Temporary tables have no statistics until analyzed: without them the planner guesses a thousand days and
    # scans the tenant's whole history instead of its index on (tenant_id, created_at).
    "ANALYZE _changed_days",
    # Who posted on each changed day.
    """DELETE FROM daily_communicators dc USING _changed_days d WHERE dc.tenant_id = :tenant AND dc.day = d.day""",
    f"""INSERT INTO daily_communicators (tenant_id, day, author_hash, messages, first_message_id, first_channel_id)
        SELECT :tenant, d.day, m.author_hash, count(*), min(m.id), (array_agg(m.channel_id ORDER BY m.id))[1]
        FROM _changed_days d JOIN messages m ON m.tenant_id = :tenant AND {DAY_RANGE}
        WHERE {COUNTED}
        GROUP BY d.day, m.author_hash""",
    # Each author's first message in the guild, for the authors a changed day can move it for.
    "CREATE TEMPORARY TABLE _authors (author_hash text PRIMARY KEY) ON COMMIT DROP",
    """INSERT INTO _authors
       SELECT dc.author_hash FROM daily_communicators dc JOIN _changed_days d ON dc.day = d.day
       WHERE dc.tenant_id = :tenant
       UNION
       SELECT f.author_hash FROM communicator_first_messages f JOIN _changed_days d ON f.first_day = d.day
       WHERE f.tenant_id = :tenant""",
    "ANALYZE _authors",
    """CREATE TEMPORARY TABLE _new_first ON COMMIT DROP AS
       SELECT a.author_hash, f.day AS first_day, f.first_message_id, f.first_channel_id
       FROM _authors a CROSS JOIN LATERAL (
           SELECT dc.day, dc.first_message_id, dc.first_channel_id FROM daily_communicators dc
           WHERE dc.tenant_id = :tenant AND dc.author_hash = a.author_hash ORDER BY dc.day LIMIT 1
       ) f""",
    "ANALYZE _new_first",
    # Days whose activity to recompute: the changed days, and the old and new first days of authors whose moved.
    "CREATE TEMPORARY TABLE _activity_days (day date PRIMARY KEY) ON COMMIT DROP",
    """INSERT INTO _activity_days
       SELECT day FROM _changed_days
       UNION
       SELECT o.first_day FROM communicator_first_messages o JOIN _authors a ON a.author_hash = o.author_hash
       LEFT JOIN _new_first n ON n.author_hash = o.author_hash
       WHERE o.tenant_id = :tenant AND n.first_message_id IS DISTINCT FROM o.first_message_id
       UNION
       SELECT n.first_day FROM _new_first n
       LEFT JOIN communicator_first_messages o ON o.tenant_id = :tenant AND o.author_hash = n.author_hash
       WHERE o.first_message_id IS DISTINCT FROM n.first_message_id""",
    "ANALYZE _activity_days",
    """DELETE FROM communicator_first_messages o USING _authors a
       WHERE o.tenant_id = :tenant AND o.author_hash = a.author_hash
         AND NOT EXISTS (SELECT 1 FROM _new_first n WHERE n.author_hash = o.author_hash)""",
    """INSERT INTO communicator_first_messages (tenant_id, author_hash, first_day, first_message_id, first_channel_id)
       SELECT :tenant, author_hash, first_day, first_message_id, first_channel_id FROM _new_first
       ON CONFLICT (tenant_id, author_hash) DO UPDATE SET
           first_day = EXCLUDED.first_day, first_message_id = EXCLUDED.first_message_id,
           first_channel_id = EXCLUDED.first_channel_id, computed_at = now()
       WHERE communicator_first_messages.first_message_id IS DISTINCT FROM EXCLUDED.first_message_id""",
    # Activity per channel and day.
    """DELETE FROM channel_daily_activity a USING _activity_days d WHERE a.tenant_id = :tenant AND a.day = d.day""",
    f"""INSERT INTO channel_daily_activity
            (tenant_id, day, channel_id, messages, communicators, new_communicators, reactions)
        WITH per_channel AS (
            SELECT d.day, m.channel_id,
                   count(*) FILTER (WHERE {COUNTED}) AS messages,
                   count(DISTINCT m.author_hash) FILTER (WHERE {COUNTED}) AS communicators,
                   coalesce(sum(r.count), 0) AS reactions
            FROM _activity_days d JOIN messages m ON m.tenant_id = :tenant AND {DAY_RANGE}
            LEFT JOIN LATERAL (
                SELECT sum(e.count) AS count FROM message_emoji_reactions e
                WHERE e.tenant_id = :tenant AND e.message_id = m.id
            ) r ON true
            WHERE m.deleted_at IS NULL
            GROUP BY d.day, m.channel_id
        ), firsts AS (
            SELECT f.first_day AS day, f.first_channel_id AS channel_id, count(*) AS new_communicators
            FROM communicator_first_messages f JOIN _activity_days d ON f.first_day = d.day
            WHERE f.tenant_id = :tenant
            GROUP BY f.first_day, f.first_channel_id
        )
        SELECT :tenant, p.day, p.channel_id, p.messages, p.communicators, coalesce(f.new_communicators, 0), p.reactions
        FROM per_channel p LEFT JOIN firsts f ON f.day = p.day AND f.channel_id = p.channel_id
        WHERE p.messages > 0 OR p.reactions > 0""",
    # Active members: every day whose 1-, 7- or 28-day window holds a changed day, up to today.
    f"""CREATE TEMPORARY TABLE _member_days ON COMMIT DROP AS
        SELECT DISTINCT g::date AS day FROM _changed_days d,
            generate_series(d.day, least(d.day + 27, greatest({TODAY}, d.day)), interval '1 day') g""",
    "ANALYZE _member_days",
    # The author-days those windows read, each with the author's next posting day among them: an author-day covers
    # the targets from its day up to 27 (or 6) days later but before that next day, so each author covers a
    # target at most once and a plain count replaces count(DISTINCT) (which sorted every window: minutes for a
    # whole history). An author-day skipped between two read ones covers only targets the earlier one covers.
    """CREATE TEMPORARY TABLE _window_days ON COMMIT DROP AS
       SELECT DISTINCT (t.day - g)::date AS day FROM _member_days t, generate_series(0, 27) g""",
    "ANALYZE _window_days",
    """CREATE TEMPORARY TABLE _author_days ON COMMIT DROP AS
       SELECT dc.author_hash, dc.day, lead(dc.day) OVER (PARTITION BY dc.author_hash ORDER BY dc.day) AS next_day
       FROM _window_days w JOIN daily_communicators dc ON dc.tenant_id = :tenant AND dc.day = w.day""",
    "ANALYZE _author_days",
    """INSERT INTO daily_active_members (tenant_id, day, daily, weekly, days_28)
       SELECT :tenant, t.day,
              count(a.day) FILTER (WHERE a.day = t.day),
              count(a.day) FILTER (WHERE t.day <= a.day + 6),
              count(a.day)
       FROM _member_days t
       LEFT JOIN _author_days a
           ON t.day >= a.day AND t.day <= a.day + 27 AND (a.next_day IS NULL OR t.day < a.next_day)
       GROUP BY t.day
       ON CONFLICT (tenant_id, day) DO UPDATE SET
           daily = EXCLUDED.daily, weekly = EXCLUDED.weekly, days_28 = EXCLUDED.days_28, computed_at = now()""",
    # Week-1 retention (weeks start on Monday, UTC): a week's new communicators change with first days in it, its
    # retained ones with who posted the week after.
    """CREATE TEMPORARY TABLE _weeks ON COMMIT DROP AS
       SELECT date_trunc('week', day)::date AS week FROM _activity_days
       UNION
       SELECT date_trunc('week', day)::date - 7 FROM _changed_days""",
    "ANALYZE _weeks",
    """INSERT INTO weekly_retention (tenant_id, week, new_communicators, retained_next_week)
       SELECT :tenant, w.week, count(f.author_hash),
              count(f.author_hash) FILTER (WHERE EXISTS (
                  SELECT 1 FROM daily_communicators dc
                  WHERE dc.tenant_id = :tenant AND dc.author_hash = f.author_hash
                    AND dc.day >= w.week + 7 AND dc.day < w.week + 14))
       FROM _weeks w
       LEFT JOIN communicator_first_messages f
           ON f.tenant_id = :tenant AND f.first_day >= w.week AND f.first_day < w.week + 7
       GROUP BY w.week
       ON CONFLICT (tenant_id, week) DO UPDATE SET
           new_communicators = EXCLUDED.new_communicators, retained_next_week = EXCLUDED.retained_next_week,
           computed_at = now()""",
    # Responsiveness: threads and forum posts with a message on a changed day.
    f"""CREATE TEMPORARY TABLE _threads ON COMMIT DROP AS
        SELECT c.id, c.created_at, c.owner_hash,
               CASE WHEN p.type IN ({", ".join(map(str, FORUM_TYPES))}) THEN 'forum_post' ELSE 'thread' END AS kind
        FROM channels c LEFT JOIN channels p ON p.tenant_id = c.tenant_id AND p.id = c.parent_id
        WHERE c.tenant_id = :tenant AND c.type IN ({", ".join(map(str, THREAD_TYPES))}) AND c.owner_hash IS NOT NULL
          AND (c.id IN (SELECT DISTINCT m.channel_id FROM _changed_days d
                        JOIN messages m ON m.tenant_id = :tenant AND {DAY_RANGE})
               OR (c.created_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM _changed_days))""",
    "ANALYZE _threads",
    f"""INSERT INTO thread_first_replies (tenant_id, thread_id, kind, created_day, first_reply_seconds)
        SELECT :tenant, t.id, t.kind, (t.created_at AT TIME ZONE 'UTC')::date,
               extract(epoch FROM (
                   -- Ids order messages by creation: the thread's index on (tenant_id, channel_id, id) stops at
                   -- the first reply instead of reading the whole thread.
                   SELECT m.created_at FROM messages m
                   WHERE m.tenant_id = :tenant AND m.channel_id = t.id AND {COUNTED}
                     AND m.author_hash <> t.owner_hash
                   ORDER BY m.id LIMIT 1
               ) - t.created_at)
        FROM _threads t
        ON CONFLICT (tenant_id, thread_id) DO UPDATE SET
            kind = EXCLUDED.kind, created_day = EXCLUDED.created_day,
            first_reply_seconds = EXCLUDED.first_reply_seconds, computed_at = now()""",
    f"""INSERT INTO daily_responsiveness (tenant_id, day, kind, threads, answered, answered_within_24h,
                                          median_first_reply_seconds, p90_first_reply_seconds)
        SELECT :tenant, r.created_day, r.kind, count(*), count(r.first_reply_seconds),
               count(*) FILTER (WHERE r.first_reply_seconds <= {ANSWER_WITHIN_SECONDS}),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY r.first_reply_seconds),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY r.first_reply_seconds)
        FROM (SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS day, kind FROM _threads) d
        JOIN thread_first_replies r ON r.tenant_id = :tenant AND r.created_day = d.day AND r.kind = d.kind
        GROUP BY r.created_day, r.kind
        ON CONFLICT (tenant_id, day, kind) DO UPDATE SET
            threads = EXCLUDED.threads, answered = EXCLUDED.answered,
            answered_within_24h = EXCLUDED.answered_within_24h,
            median_first_reply_seconds = EXCLUDED.median_first_reply_seconds,
            p90_first_reply_seconds = EXCLUDED.p90_first_reply_seconds, computed_at = now()""",
)

_MEMBER_STEPS: tuple[str, ...] = (
    # Joins, leaves and activation: the days members joined or left (noted from `members`), and the 8 join days a
    # changed message day can activate members of (a post on day d counts for joins from d - 7 to d).
    """CREATE TEMPORARY TABLE _member_days_changed ON COMMIT DROP AS
       SELECT day FROM _notes WHERE source = 'members'
       UNION
       SELECT (d.day - g)::date FROM _changed_days d, generate_series(0, 7) g""",
    "ANALYZE _member_days_changed",
    """DELETE FROM member_daily a USING _member_days_changed d WHERE a.tenant_id = :tenant AND a.day = d.day""",
    f"""INSERT INTO member_daily (tenant_id, day, joins, leaves, activated)
        SELECT :tenant, day, joins, leaves, activated FROM (
            SELECT d.day,
                   (SELECT count(*) FROM members j WHERE j.tenant_id = :tenant AND NOT j.is_bot
                      AND j.joined_at >= (d.day::timestamp AT TIME ZONE 'UTC')
                      AND j.joined_at < ((d.day + 1)::timestamp AT TIME ZONE 'UTC')) AS joins,
                   (SELECT count(*) FROM members l WHERE l.tenant_id = :tenant AND NOT l.is_bot
                      AND l.left_at >= (d.day::timestamp AT TIME ZONE 'UTC')
                      AND l.left_at < ((d.day + 1)::timestamp AT TIME ZONE 'UTC')) AS leaves,
                   (SELECT count(*) FROM members j WHERE j.tenant_id = :tenant AND NOT j.is_bot
                      AND j.joined_at >= (d.day::timestamp AT TIME ZONE 'UTC')
                      AND j.joined_at < ((d.day + 1)::timestamp AT TIME ZONE 'UTC')
                      AND EXISTS (SELECT 1 FROM messages m
                                  WHERE m.tenant_id = :tenant AND m.author_hash = j.member_hash AND {COUNTED}
                                    AND m.created_at >= j.joined_at
                                    AND m.created_at <= j.joined_at + interval '7 days')) AS activated
            FROM _member_days_changed d
        ) per_day
        WHERE joins > 0 OR leaves > 0""",
)

_COUNTS = sa.text(
    """SELECT (SELECT count(*) FROM _changed_days) AS changed_days,
              (SELECT count(*) FROM _activity_days) AS activity_days,
              (SELECT count(*) FROM _member_days) AS active_member_days,
              (SELECT count(*) FROM _weeks) AS retention_weeks,
              (SELECT count(*) FROM _threads) AS threads,
              (SELECT count(*) FROM _member_days_changed) AS member_days"""
)


@dataclass(frozen=True)
class MetricsRefresh:
    """What one refresh recomputed: the changed days it took, and the rows of each metric it rewrote."""

    changed_days: int
    activity_days: int
    active_member_days: int
    retention_weeks: int
    threads: int
    member_days: int


def refresh_community_metrics(conn: sa.Connection, tenant_id: str) -> MetricsRefresh:
    """Recompute the tenant's metrics for the days its rows changed since the last refresh, in the caller's
    transaction (commit it: the notes it took are deleted with it)."""
    for step in (*_STEPS, *_MEMBER_STEPS):
        conn.execute(sa.text(step), {"tenant": tenant_id})
    row = conn.execute(_COUNTS).mappings().one()
    return MetricsRefresh(**{key: int(value) for key, value in row.items()})


def note_all_days(conn: sa.Connection, tenant_id: str) -> int:
    """Note every day the tenant has messages on, or members joined or left on, as changed, so the next refresh
    recomputes everything (to rebuild the metrics); returns the days noted."""
    noted = conn.execute(
        sa.text(
            """INSERT INTO metric_changed_days (tenant_id, day)
               SELECT DISTINCT :tenant, (created_at AT TIME ZONE 'UTC')::date FROM messages WHERE tenant_id = :tenant"""
        ),
        {"tenant": tenant_id},
    ).rowcount
    noted += conn.execute(
        sa.text(
            """INSERT INTO metric_changed_days (tenant_id, day, source)
               SELECT DISTINCT :tenant, (at AT TIME ZONE 'UTC')::date, 'members' FROM (
                   SELECT joined_at AS at FROM members WHERE tenant_id = :tenant
                   UNION ALL SELECT left_at FROM members WHERE tenant_id = :tenant) j
               WHERE at IS NOT NULL"""
        ),
        {"tenant": tenant_id},
    ).rowcount
    return noted


def pending_changed_days(conn: sa.Connection, tenant_id: str) -> list[date]:
    """The days noted as changed that no refresh has taken yet."""
    return list(
        conn.execute(
            sa.text("SELECT DISTINCT day FROM metric_changed_days WHERE tenant_id = :tenant ORDER BY day"),
            {"tenant": tenant_id},
        ).scalars()
    )


def latest_figures(conn: sa.Connection, tenant_id: str) -> dict[str, float | int | str | None]:
    """The tenant's latest figures, for the materialization's metadata (the UI plots numbers across runs):
    active members on the latest day, that day's messages, the last complete week's retention and the last 28
    days' responsiveness."""
    params = {"tenant": tenant_id}
    members = (
        conn.execute(
            sa.text(
                f"""SELECT day, daily, weekly, days_28 FROM daily_active_members
                    WHERE tenant_id = :tenant AND day <= {TODAY} ORDER BY day DESC LIMIT 1"""
            ),
            params,
        )
        .mappings()
        .first()
    )
    figures: dict[str, float | int | str | None] = {
        "latest_day": str(members["day"]) if members else None,
        "daily_active_members": int(members["daily"]) if members else 0,
        "weekly_active_members": int(members["weekly"]) if members else 0,
        "active_members_28_days": int(members["days_28"]) if members else 0,
    }
    figures["messages_latest_day"] = int(
        conn.execute(
            sa.text(
                """SELECT coalesce(sum(messages), 0) FROM channel_daily_activity
                   WHERE tenant_id = :tenant AND day = (SELECT max(day) FROM channel_daily_activity
                                                        WHERE tenant_id = :tenant)"""
            ),
            params,
        ).scalar_one()
    )
    retention = (
        conn.execute(
            sa.text(
                f"""SELECT new_communicators, retained_next_week FROM weekly_retention
                    WHERE tenant_id = :tenant AND week + 14 <= {TODAY} ORDER BY week DESC LIMIT 1"""
            ),
            params,
        )
        .mappings()
        .first()
    )
    new = int(retention["new_communicators"]) if retention else 0
    figures["week_1_retention"] = (int(retention["retained_next_week"]) / new) if retention and new else 0.0
    responsiveness = (
        conn.execute(
            sa.text(
                f"""SELECT count(*) AS threads,
                           count(*) FILTER (WHERE first_reply_seconds <= {ANSWER_WITHIN_SECONDS}) AS within,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY first_reply_seconds) AS median
                    FROM thread_first_replies WHERE tenant_id = :tenant AND created_day > {TODAY} - 28"""
            ),
            params,
        )
        .mappings()
        .one()
    )
    members = (
        conn.execute(
            sa.text(
                f"""SELECT coalesce(sum(joins) FILTER (WHERE day > {TODAY} - 28), 0) AS joins,
                           coalesce(sum(leaves) FILTER (WHERE day > {TODAY} - 28), 0) AS leaves,
                           coalesce(sum(joins) FILTER (WHERE day BETWEEN {TODAY} - 35 AND {TODAY} - 8), 0) AS cohort,
                           coalesce(sum(activated) FILTER (WHERE day BETWEEN {TODAY} - 35 AND {TODAY} - 8), 0)
                               AS activated
                    FROM member_daily WHERE tenant_id = :tenant AND day > {TODAY} - 36"""
            ),
            params,
        )
        .mappings()
        .one()
    )
    figures["joins_last_28_days"] = int(members["joins"])
    figures["leaves_last_28_days"] = int(members["leaves"])
    cohort = int(members["cohort"])
    # Members who joined 8 to 35 days ago: each has had its full 7 days to post.
    figures["activation_rate"] = int(members["activated"]) / cohort if cohort else 0.0
    threads = int(responsiveness["threads"])
    figures["threads_last_28_days"] = threads
    figures["answered_within_24h_share"] = (int(responsiveness["within"]) / threads) if threads else 0.0
    figures["median_first_reply_hours"] = (
        float(responsiveness["median"]) / 3600 if responsiveness["median"] is not None else 0.0
    )
    return figures
