"""The community metrics equal their definitions (docs/metrics.md), computed here in Python from the rows the test
writes, and a refresh recomputes only what the changed days reach."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from discord_sync.store.community_metrics import (
    pending_changed_days,
    refresh_community_metrics,
)
from discord_sync.store.schema import channels, message_emoji_reactions, messages
from discord_sync.store.tenants import add_tenant

TENANT = "metrics"
DISCORD_EPOCH_MS = 1420070400000
TEXT, FORUM = 900, 950
AUTHORS = [f"{i:032x}" for i in range(1, 13)]


def snowflake(at: datetime, seq: int) -> int:
    """A message id whose snowflake time is `at`, as Discord's are."""
    return ((int(at.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22) + seq


@dataclass
class Msg:
    id: int
    channel_id: int
    author: str | None
    created_at: datetime
    bot: bool = False
    webhook: bool = False
    type: int = 0
    deleted: bool = False
    reactions: int = 0

    @property
    def day(self) -> date:
        return self.created_at.astimezone(UTC).date()

    @property
    def counted(self) -> bool:
        return (
            not self.deleted and not self.bot and not self.webhook and self.author is not None and self.type in (0, 19)
        )


@dataclass
class Thread:
    id: int
    parent_id: int
    owner: str
    created_at: datetime
    kind: str


def _today() -> date:
    return datetime.now(UTC).date()


class Guild:
    """Rows the test writes, and the metrics their definitions give."""

    @classmethod
    def stored(cls, engine: sa.Engine, tenant: str) -> Guild:
        """The rows a sync stored for `tenant`, read back for the definitions to compute on."""
        guild = cls.__new__(cls)
        guild.engine, guild.msgs, guild.threads = engine, {}, {}
        with engine.connect() as conn:
            for r in conn.execute(
                sa.text(
                    """SELECT m.*, (SELECT coalesce(sum(count), 0) FROM message_emoji_reactions e
                                    WHERE e.tenant_id = m.tenant_id AND e.message_id = m.id) AS reaction_count
                       FROM messages m WHERE tenant_id = :t"""
                ),
                {"t": tenant},
            ):
                guild.msgs[r.id] = Msg(
                    r.id,
                    r.channel_id,
                    r.author_hash,
                    r.created_at,
                    r.author_is_bot,
                    r.is_webhook,
                    r.type,
                    r.deleted_at is not None,
                    int(r.reaction_count),
                )
            for r in conn.execute(
                sa.text(
                    """SELECT c.id, c.parent_id, c.owner_hash, c.created_at, p.type AS parent_type FROM channels c
                       LEFT JOIN channels p ON p.tenant_id = c.tenant_id AND p.id = c.parent_id
                       WHERE c.tenant_id = :t AND c.type IN (10, 11, 12) AND c.owner_hash IS NOT NULL"""
                ),
                {"t": tenant},
            ):
                kind = "forum_post" if r.parent_type in (15, 16) else "thread"
                guild.threads[r.id] = Thread(r.id, r.parent_id, r.owner_hash, r.created_at, kind)
        return guild

    def __init__(self, engine: sa.Engine, seed: int = 7, days: int = 60) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.msgs: dict[int, Msg] = {}
        self.threads: dict[int, Thread] = {}
        self.seq = 0
        start = datetime.combine(_today() - timedelta(days=days), time(), tzinfo=UTC)
        with engine.begin() as conn:
            add_tenant(conn, TENANT, 4242)
            for cid, name, ctype in ((TEXT, "general", 0), (FORUM, "help", 15)):
                conn.execute(
                    channels.insert().values(
                        tenant_id=TENANT, id=cid, name=name, type=ctype, is_thread=False, created_at=start
                    )
                )
        rows = []
        for day in range(days - 1):
            for _ in range(self.rng.randint(0, 9)):
                at = start + timedelta(days=day, seconds=self.rng.randint(0, 86399))
                rows.append(self._message(TEXT, at))
            if self.rng.random() < 0.4:
                rows.extend(self._thread(start + timedelta(days=day, seconds=self.rng.randint(0, 80000))))
        self.write(rows)

    def _message(self, channel: int, at: datetime, author: str | None = None, **kinds) -> Msg:
        self.seq += 1
        r = self.rng.random()
        if author is None and not kinds:
            kinds = (
                {"bot": True}
                if r < 0.08
                else {"webhook": True}
                if r < 0.12
                else {"type": 7}
                if r < 0.15
                else {"deleted": True}
                if r < 0.2
                else {"type": 19}
                if r < 0.3
                else {}
            )
        author = author or self.rng.choice(AUTHORS[: 4 + int(at.day % 8)])
        return Msg(
            snowflake(at, self.seq % 4096),
            channel,
            None if kinds.get("deleted") else author,
            at,
            reactions=0 if kinds.get("deleted") else self.rng.choice([0, 0, 1, 3]),
            **kinds,
        )

    def _thread(self, at: datetime) -> list[Msg]:
        forum = self.rng.random() < 0.6
        owner = self.rng.choice(AUTHORS)
        starter = Msg(snowflake(at, 4095), TEXT, owner, at)
        thread_id = starter.id
        self.threads[thread_id] = Thread(
            thread_id, FORUM if forum else TEXT, owner, at, "forum_post" if forum else "thread"
        )
        with self.engine.begin() as conn:
            conn.execute(
                channels.insert().values(
                    tenant_id=TENANT,
                    id=thread_id,
                    parent_id=FORUM if forum else TEXT,
                    name="post",
                    type=11,
                    is_thread=True,
                    owner_hash=owner,
                    created_at=at,
                )
            )
        posts = [Msg(thread_id, thread_id, owner, at)] if forum else []
        for _ in range(self.rng.randint(0, 4)):
            later = at + timedelta(seconds=self.rng.choice([60, 3600, 20000, 90000, 200000]) + self.rng.randint(0, 99))
            author = self.rng.choice([owner, *AUTHORS[:6]])
            posts.append(self._message(thread_id, later, author, bot=self.rng.random() < 0.1))
        return [starter, *posts] if not forum else posts

    def write(self, rows: list[Msg]) -> None:
        """Insert the messages and their reactions, as the sync's writer would (one statement each)."""
        rows = [m for m in rows if m.id not in self.msgs]
        for m in rows:
            self.msgs[m.id] = m
        with self.engine.begin() as conn:
            conn.execute(
                messages.insert(),
                [
                    {
                        "tenant_id": TENANT,
                        "id": m.id,
                        "channel_id": m.channel_id,
                        "author_hash": m.author,
                        "author_is_bot": m.bot,
                        "is_webhook": m.webhook,
                        "type": m.type,
                        "content": "",
                        "created_at": m.created_at,
                        "deleted_at": m.created_at if m.deleted else None,
                    }
                    for m in rows
                ],
            )
            reacted = [m for m in rows if m.reactions]
            if reacted:
                conn.execute(
                    message_emoji_reactions.insert(),
                    [
                        {
                            "tenant_id": TENANT,
                            "message_id": m.id,
                            "emoji_key": "👍",
                            "emoji_name": "👍",
                            "count": m.reactions,
                        }
                        for m in reacted
                    ],
                )

    def tombstone(self, message_id: int) -> None:
        """Delete a message as the sync's tombstone does: author and reactions go, the row stays."""
        m = self.msgs[message_id]
        m.deleted, m.author, m.reactions = True, None, 0
        with self.engine.begin() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.tenant_id == TENANT, messages.c.id == message_id)
                .values(deleted_at=sa.func.now(), author_hash=None)
            )
            conn.execute(
                message_emoji_reactions.delete().where(
                    message_emoji_reactions.c.tenant_id == TENANT, message_emoji_reactions.c.message_id == message_id
                )
            )

    # --- the definitions, in Python -------------------------------------------------------------------------------

    def first_messages(self) -> dict[str, Msg]:
        firsts: dict[str, Msg] = {}
        for m in sorted(self.msgs.values(), key=lambda m: m.id):
            if m.counted and m.author not in firsts:
                firsts[m.author] = m  # type: ignore[index]
        return firsts

    def activity(self) -> dict[tuple[date, int], tuple[int, int, int, int]]:
        counted: dict[tuple[date, int], int] = defaultdict(int)
        authors: dict[tuple[date, int], set[str]] = defaultdict(set)
        reactions: dict[tuple[date, int], int] = defaultdict(int)
        for m in self.msgs.values():
            key = (m.day, m.channel_id)
            if not m.deleted:
                reactions[key] += m.reactions
            if m.counted:
                counted[key] += 1
                authors[key].add(m.author)  # type: ignore[arg-type]
        new: dict[tuple[date, int], int] = defaultdict(int)
        for m in self.first_messages().values():
            new[(m.day, m.channel_id)] += 1
        keys = {k for k in set(counted) | set(reactions) if counted[k] or reactions[k]}
        return {k: (counted[k], len(authors[k]), new[k], reactions[k]) for k in keys}

    def posting_days(self) -> dict[date, set[str]]:
        days: dict[date, set[str]] = defaultdict(set)
        for m in self.msgs.values():
            if m.counted:
                days[m.day].add(m.author)  # type: ignore[arg-type]
        return days

    def active_members(self, day: date) -> tuple[int, int, int]:
        days = self.posting_days()

        def window(n: int) -> int:
            return len(set().union(*(days.get(day - timedelta(days=i), set()) for i in range(n))))

        return window(1), window(7), window(28)

    def retention(self, week: date) -> tuple[int, int]:
        days = self.posting_days()
        new = {a for a, m in self.first_messages().items() if week <= m.day < week + timedelta(days=7)}
        next_week = set().union(*(days.get(week + timedelta(days=7 + i), set()) for i in range(7)))
        return len(new), len(new & next_week)

    def first_replies(self) -> dict[int, tuple[str, date, float | None]]:
        replies: dict[int, tuple[str, date, float | None]] = {}
        for t in self.threads.values():
            times = [
                m.created_at for m in self.msgs.values() if m.channel_id == t.id and m.counted and m.author != t.owner
            ]
            seconds = (min(times) - t.created_at).total_seconds() if times else None
            replies[t.id] = (t.kind, t.created_at.astimezone(UTC).date(), seconds)
        return replies


def percentile(values: list[float], q: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    values = sorted(values)
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def assert_metrics_match(guild: Guild, conn: sa.Connection, tenant: str = TENANT) -> None:
    """Every stored metric row equals its definition computed from the rows written, and no row is missing."""
    stored_activity = {
        (r.day, r.channel_id): (r.messages, r.communicators, r.new_communicators, r.reactions)
        for r in conn.execute(sa.text("SELECT * FROM channel_daily_activity WHERE tenant_id = :t"), {"t": tenant})
    }
    assert stored_activity == guild.activity()

    members = list(conn.execute(sa.text("SELECT * FROM daily_active_members WHERE tenant_id = :t"), {"t": tenant}))
    message_days = {m.day for m in guild.msgs.values()}
    expected_days = {
        d + timedelta(days=i) for d in message_days for i in range(28) if d + timedelta(days=i) <= max(_today(), d)
    }
    assert {r.day for r in members} == expected_days
    for r in members:
        assert (r.daily, r.weekly, r.days_28) == guild.active_members(r.day), r.day

    weeks = list(conn.execute(sa.text("SELECT * FROM weekly_retention WHERE tenant_id = :t"), {"t": tenant}))
    assert {r.week for r in weeks} >= {d - timedelta(days=d.weekday()) for d in message_days}
    for r in weeks:
        assert (r.new_communicators, r.retained_next_week) == guild.retention(r.week), r.week

    expected_replies = guild.first_replies()
    stored_replies = {
        r.thread_id: (r.kind, r.created_day, r.first_reply_seconds)
        for r in conn.execute(sa.text("SELECT * FROM thread_first_replies WHERE tenant_id = :t"), {"t": tenant})
    }
    assert stored_replies.keys() == expected_replies.keys()
    for thread_id, (kind, day, seconds) in expected_replies.items():
        stored_kind, stored_day, stored_seconds = stored_replies[thread_id]
        assert (stored_kind, stored_day) == (kind, day)
        assert stored_seconds == pytest.approx(seconds, abs=0.01) if seconds is not None else stored_seconds is None

    by_day: dict[tuple[date, str], list[float | None]] = defaultdict(list)
    for kind, day, seconds in expected_replies.values():
        by_day[(day, kind)].append(seconds)
    stored = {
        (r.day, r.kind): r
        for r in conn.execute(sa.text("SELECT * FROM daily_responsiveness WHERE tenant_id = :t"), {"t": tenant})
    }
    assert stored.keys() == by_day.keys()
    for key, values in by_day.items():
        answered = [v for v in values if v is not None]
        row = stored[key]
        assert (row.threads, row.answered, row.answered_within_24h) == (
            len(values),
            len(answered),
            sum(v <= 86400 for v in answered),
        )
        for column, q in (("median_first_reply_seconds", 0.5), ("p90_first_reply_seconds", 0.9)):
            expected = percentile(answered, q)
            assert getattr(row, column) == (pytest.approx(expected, abs=0.01) if expected is not None else None)


def _refresh(engine: sa.Engine):
    with engine.begin() as conn:
        return refresh_community_metrics(conn, TENANT)


def test_every_metric_equals_its_definition(engine):
    guild = Guild(engine)
    assert len(guild.threads) > 5 and len(guild.msgs) > 200
    done = _refresh(engine)
    assert done.changed_days >= 50
    with engine.connect() as conn:
        assert_metrics_match(guild, conn)
        assert pending_changed_days(conn, TENANT) == []


def test_refresh_recomputes_only_the_days_a_sync_changed(engine):
    guild = Guild(engine, seed=11)
    _refresh(engine)
    with engine.connect() as conn:
        before = {
            table: dict(
                conn.execute(
                    sa.text(f"SELECT {key}, computed_at FROM {table} WHERE tenant_id = :t"), {"t": TENANT}
                ).all()
            )
            for table, key in (
                ("channel_daily_activity", "(day, channel_id)::text"),
                ("daily_active_members", "day"),
                ("weekly_retention", "week"),
            )
        }
    # A sync writes one new message yesterday and tombstones a message of 20 days ago, whose author posted first
    # then (the author's first message moves to a later day: that day's new communicators change too).
    yesterday = datetime.combine(_today() - timedelta(days=1), time(12), tzinfo=UTC)
    newcomer = "f" * 32
    guild.write([Msg(snowflake(yesterday, 4000), TEXT, newcomer, yesterday, reactions=2)])
    firsts = guild.first_messages()
    old_day = _today() - timedelta(days=20)
    candidates = [m for m in firsts.values() if m.day <= old_day]
    moved = max(candidates, key=lambda m: m.id)
    moved_author = moved.author
    guild.tombstone(moved.id)
    done = _refresh(engine)
    assert done.changed_days == 2
    new_first = guild.first_messages().get(moved_author)  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert_metrics_match(guild, conn)
        after_activity = dict(
            conn.execute(
                sa.text("SELECT day, max(computed_at) FROM channel_daily_activity WHERE tenant_id = :t GROUP BY day"),
                {"t": TENANT},
            ).all()
        )
        after_members = dict(
            conn.execute(
                sa.text("SELECT day, computed_at FROM daily_active_members WHERE tenant_id = :t"), {"t": TENANT}
            ).all()
        )
    recomputed_activity = {
        day for day, at in after_activity.items() if at > max(before["channel_daily_activity"].values())
    }
    expected_activity = {yesterday.date(), moved.day} | ({new_first.day} if new_first else set())
    assert recomputed_activity <= expected_activity
    assert yesterday.date() in recomputed_activity
    # Active members: only the 28-day windows that hold a changed day; older days keep their computed_at.
    recomputed = {day for day, at in after_members.items() if at != before["daily_active_members"].get(day)}
    windows = {d + timedelta(days=i) for d in (moved.day, yesterday.date()) for i in range(28)}
    assert recomputed == {day for day in windows if day <= _today()}
    assert len(after_members) > len(recomputed) + 10


def test_nothing_changed_recomputes_nothing(engine):
    Guild(engine, seed=3, days=10)
    _refresh(engine)
    again = _refresh(engine)
    assert (again.changed_days, again.activity_days, again.active_member_days, again.threads) == (0, 0, 0, 0)


def _member_rows(guild: Guild, rng: random.Random) -> list[dict]:
    """Members for the guild's authors and a few who never post: joins over the history, some left, two bots."""
    start = min(m.created_at for m in guild.msgs.values())
    rows = []
    for i, author in enumerate([*AUTHORS, *(f"{0xABC000 + i:032x}" for i in range(8))]):
        joined = start + timedelta(days=rng.randint(0, 55), seconds=rng.randint(0, 86399))
        left = joined + timedelta(days=rng.randint(1, 20)) if rng.random() < 0.3 else None
        rows.append(
            {
                "tenant_id": TENANT,
                "member_hash": author,
                "joined_at": joined,
                "is_bot": i % 9 == 8,
                "last_seen_at": datetime.now(UTC),
                "left_at": left if left and left.date() < _today() else None,
            }
        )
    return rows


def expected_member_daily(guild: Guild, members: list[dict]) -> dict[date, tuple[int, int, int]]:
    """Joins, leaves and activated per UTC day, by their definitions (bots left out)."""
    joins: dict[date, int] = defaultdict(int)
    leaves: dict[date, int] = defaultdict(int)
    activated: dict[date, int] = defaultdict(int)
    for member in members:
        if member["is_bot"]:
            continue
        joined = member["joined_at"]
        joins[joined.date()] += 1
        if member["left_at"]:
            leaves[member["left_at"].date()] += 1
        if any(
            m.counted and m.author == member["member_hash"] and joined <= m.created_at <= joined + timedelta(days=7)
            for m in guild.msgs.values()
        ):
            activated[joined.date()] += 1
    return {d: (joins[d], leaves[d], activated[d]) for d in set(joins) | set(leaves)}


def _stored_member_daily(conn: sa.Connection) -> dict[date, tuple[int, int, int]]:
    return {
        r.day: (r.joins, r.leaves, r.activated)
        for r in conn.execute(sa.text("SELECT * FROM member_daily WHERE tenant_id = :t"), {"t": TENANT})
    }


def test_joins_leaves_and_activation_equal_their_definitions_and_follow_member_changes(engine):
    from discord_sync.store.schema import members as members_table

    guild = Guild(engine, seed=5)
    rng = random.Random(5)
    members = _member_rows(guild, rng)
    with engine.begin() as conn:
        conn.execute(members_table.insert(), members)
    _refresh(engine)
    with engine.connect() as conn:
        assert _stored_member_daily(conn) == expected_member_daily(guild, members)
    assert sum(a for _, _, a in expected_member_daily(guild, members).values()) > 0

    # A listing that only sees the members again notes nothing; one that finds a member gone notes that day.
    with engine.begin() as conn:
        conn.execute(
            members_table.update().where(members_table.c.tenant_id == TENANT).values(last_seen_at=sa.func.now())
        )
        assert pending_changed_days(conn, TENANT) == []
        stayer = next(m for m in members if not m["is_bot"] and m["left_at"] is None)
        stayer["left_at"] = datetime.combine(_today(), time(1), tzinfo=UTC)
        conn.execute(
            members_table.update()
            .where(members_table.c.tenant_id == TENANT, members_table.c.member_hash == stayer["member_hash"])
            .values(left_at=stayer["left_at"])
        )
    done = _refresh(engine)
    assert done.changed_days == 0 and done.member_days >= 1
    with engine.connect() as conn:
        assert _stored_member_daily(conn) == expected_member_daily(guild, members)


def test_the_migration_notes_the_stored_history_so_the_first_refresh_computes_it(engine):
    from alembic import command
    from alembic.script import ScriptDirectory

    from discord_sync.store.migrate import alembic_config
    from discord_sync.store.schema import members as members_table

    with engine.connect() as conn:
        script = ScriptDirectory.from_config(alembic_config(conn))
    metrics_revision = next(r for r in script.walk_revisions() if (r.doc or "").startswith("community metrics"))

    def migrate_to(revision: str, *, down: bool = False) -> None:
        with engine.connect() as conn:
            (command.downgrade if down else command.upgrade)(alembic_config(conn), revision)
            conn.commit()

    # The database as it was before the metrics, with history in it; the downgrade runs too.
    migrate_to(metrics_revision.down_revision, down=True)  # type: ignore[arg-type]
    guild = Guild(engine, seed=9, days=20)
    members = _member_rows(guild, random.Random(9))
    with engine.begin() as conn:
        conn.execute(members_table.insert(), members)
    migrate_to("head")
    with engine.connect() as conn:
        noted = set(pending_changed_days(conn, TENANT))
    assert noted >= {m.day for m in guild.msgs.values()}
    _refresh(engine)
    with engine.connect() as conn:
        assert_metrics_match(guild, conn)
        assert _stored_member_daily(conn) == expected_member_daily(guild, members)
