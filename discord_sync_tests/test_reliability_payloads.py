"""Malformed, unexpected and hostile payloads through the real shaping and write path into a real PostgreSQL.

Property-based: hypothesis draws pages of messages in the spec's shape (`openapi.json` MessageResponse: ids as
snowflake strings, author, content, timestamps, mentions, reactions with count details, attachments, message
reference) mixed with broken variants of every field. Whatever the page, the batch is written: every valid
message is stored with exactly its reactions and attachments, every broken one is reported with its id, and
text is stored faithfully except what PostgreSQL cannot hold (NUL removed, lone surrogates become U+FFFD).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import clean_text, shape_messages
from discord_sync.store.schema import channels, message_attachments, message_emoji_reactions, messages
from discord_sync.store.writer import write_message_batch
from discord_sync_tests.databases import TEST_ANONYMIZATION_KEY
from discord_sync_tests.sync_harness import create_tenant

TENANT = "acme"
CHANNEL_ID = 900000000000000001
ANONYMIZER = Anonymizer(TEST_ANONYMIZATION_KEY)
HOSTILE_TEXTS = [
    "'); DROP TABLE messages; --",
    "Robert'); DELETE FROM tenants WHERE ('1'='1",
    "\\'; COPY messages TO PROGRAM 'id'; --",
    "tab\there\nnewline\\N backslash-N is COPY's NULL",
    "NUL\x00inside\x00",
    "\x00",
    "lone \ud800 high and \udfff low surrogate",
    "",
    "x" * 4000,
    "emoji 🦀 and RTL \u202e and zero-width \u200b",
]

_ids = itertools.count(1_000_000_000_000_000_000)


def _snowflake() -> st.SearchStrategy[str]:
    return st.builds(lambda: str(next(_ids)))


_any_text = st.text(st.characters(exclude_categories=()), max_size=60) | st.sampled_from(HOSTILE_TEXTS)
_timestamp = st.datetimes(min_value=datetime(2015, 5, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.isoformat()
)
_user = st.fixed_dictionaries(
    {"id": _snowflake(), "username": _any_text},
    optional={"bot": st.booleans(), "global_name": st.none() | _any_text},
)
_emoji = st.one_of(
    st.fixed_dictionaries({"id": st.none(), "name": st.sampled_from(["👍", "🔥", "❤️", "😂", "🦀"])}),
    st.fixed_dictionaries({"id": _snowflake(), "name": _any_text, "animated": st.booleans()}),
)
_reaction = st.fixed_dictionaries(
    {"emoji": _emoji, "count": st.integers(1, 10_000)},
    optional={
        "count_details": st.fixed_dictionaries({"normal": st.integers(0, 10_000), "burst": st.integers(0, 100)}),
        "me": st.booleans(),
    },
)
_attachment = st.fixed_dictionaries(
    {"id": _snowflake(), "filename": _any_text, "size": st.integers(0, 2**40), "url": _any_text},
    optional={
        "content_type": _any_text,
        "width": st.integers(1, 10_000),
        "height": st.integers(1, 10_000),
        "proxy_url": _any_text,
        "description": _any_text,
    },
)


def _unique_emoji(reactions: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for reaction in reactions:
        key = reaction["emoji"]["id"] or reaction["emoji"]["name"]
        if key not in seen:
            seen.add(key)
            unique.append(reaction)
    return unique


valid_message = st.fixed_dictionaries(
    {
        "id": _snowflake(),
        "channel_id": st.just(str(CHANNEL_ID)),
        "author": _user,
        "content": _any_text,
        "timestamp": _timestamp,
        "edited_timestamp": st.none() | _timestamp,
        "type": st.sampled_from([0, 6, 7, 18, 19, 20, 21]),
        "tts": st.booleans(),
        "mention_everyone": st.booleans(),
        "mentions": st.lists(_user, max_size=3),
        "mention_roles": st.lists(_snowflake(), max_size=2),
        "attachments": st.lists(_attachment, max_size=3),
        "embeds": st.just([]),
        "pinned": st.booleans(),
        "flags": st.integers(0, 2**16),
        "reactions": st.lists(_reaction, max_size=4).map(_unique_emoji),
    },
    optional={
        "message_reference": st.fixed_dictionaries(
            {"message_id": _snowflake(), "channel_id": st.just(str(CHANNEL_ID))}
        ),
        "webhook_id": _snowflake(),
        "unexpected_new_field": st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    },
)

# Each breaks one field the spec fixes: wrong types, out-of-range numbers, missing required parts.
_BREAKAGES = {
    "id not a number": lambda m: {**m, "id": "not-a-snowflake"},
    "id negative": lambda m: {**m, "id": "-5"},
    "id beyond bigint": lambda m: {**m, "id": str(2**70)},
    "id missing": lambda m: {k: v for k, v in m.items() if k != "id"},
    "author not an object": lambda m: {**m, "author": "someone"},
    "author id not a snowflake": lambda m: {**m, "author": {"id": {"nested": 1}}},
    "timestamp garbage": lambda m: {**m, "timestamp": "yesterday-ish"},
    "type not a number": lambda m: {**m, "type": "reply"},
    "type beyond smallint": lambda m: {**m, "type": 70_000},
    "flags beyond integer": lambda m: {**m, "flags": 2**40},
    "reactions not a list": lambda m: {**m, "reactions": 7},
    "reaction count not a number": lambda m: {**m, "reactions": [{"emoji": {"name": "👍"}, "count": "many"}]},
    "reaction count beyond integer": lambda m: {**m, "reactions": [{"emoji": {"name": "👍"}, "count": 2**40}]},
    "attachment without id": lambda m: {**m, "attachments": [{"filename": "a.png", "size": 1, "url": "u"}]},
    "attachment width not a number": lambda m: {
        **m,
        "attachments": [{"id": str(next(_ids)), "filename": "a", "size": 1, "url": "u", "width": "wide"}],
    },
    "attachment size negative beyond bigint": lambda m: {
        **m,
        "attachments": [{"id": str(next(_ids)), "filename": "a", "size": -(2**70), "url": "u"}],
    },
    "mention_roles not snowflakes": lambda m: {**m, "mention_roles": ["admins"]},
    "message_reference id garbage": lambda m: {**m, "type": 19, "message_reference": {"message_id": "x"}},
}
# Damage the row shaping may store around (what is valid is kept) rather than report.
TOLERATED = {"author id not a snowflake"}
broken_message = st.tuples(valid_message, st.sampled_from(sorted(_BREAKAGES))).map(
    lambda pair: (pair[1], _BREAKAGES[pair[1]](pair[0]))
)
not_a_message = st.sampled_from([None, 42, "message", [], ["id", "1"]])


@pytest.fixture
def tenant_channel(engine):
    create_tenant(engine, TENANT, 123456789012345678)
    with engine.begin() as conn:
        conn.execute(
            channels.insert().values(
                tenant_id=TENANT,
                id=CHANNEL_ID,
                name="general",
                type=0,
                is_thread=False,
                created_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )
    return CHANNEL_ID


def _stored(conn: sa.Connection, ids: list[int]) -> dict[int, tuple]:
    rows = conn.execute(
        sa.select(messages.c.id, messages.c.content).where(messages.c.tenant_id == TENANT, messages.c.id.in_(ids))
    ).all()
    return {row.id: row for row in rows}


def _children(conn: sa.Connection, table: sa.Table, ids: list[int]) -> int:
    return conn.execute(
        sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == TENANT, table.c.message_id.in_(ids))
    ).scalar_one()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    page=st.lists(
        st.one_of(valid_message.map(lambda m: ("valid", m)), broken_message, not_a_message.map(lambda m: ("junk", m))),
        min_size=1,
        max_size=12,
    )
)
def test_a_page_of_valid_broken_and_junk_messages_never_crashes_the_batch(engine, tenant_channel, page):
    payloads = [payload for _, payload in page]
    rows = shape_messages(TENANT, CHANNEL_ID, payloads, ANONYMIZER)
    valid = [payload for kind, payload in page if kind == "valid"]
    broken = [(kind, payload) for kind, payload in page if kind not in ("valid", "junk")]

    with engine.connect() as conn, conn.begin() as transaction:
        write_message_batch(conn, TENANT, CHANNEL_ID, rows, checkpoint=None)
        valid_ids = [int(m["id"]) for m in valid]
        stored = _stored(conn, valid_ids)
        assert sorted(stored) == sorted(valid_ids), "every valid message is stored"
        for message in valid:
            content = stored[int(message["id"])].content
            assert "\x00" not in content
            assert ANONYMIZER.scrub_mentions(clean_text(message["content"])) == content
        assert _children(conn, message_emoji_reactions, valid_ids) == sum(len(m["reactions"]) for m in valid)
        assert _children(conn, message_attachments, valid_ids) == sum(len(m["attachments"]) for m in valid)
        transaction.rollback()

    reported = {error.item_id for error in rows.errors}
    strict = [(breakage, payload) for breakage, payload in broken if breakage not in TOLERATED]
    junk = sum(kind == "junk" for kind, _ in page)
    assert len(rows.messages) + len(rows.errors) == len(page), "every item is either stored or reported"
    assert len(rows.errors) >= len(strict) + junk, "every bad item is reported"
    for breakage, payload in strict:
        try:
            item_id = int(payload["id"])
        except (KeyError, ValueError):
            continue
        if 0 <= item_id < 2**63:
            assert item_id in reported, f"{breakage}: reported with its id"


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=lambda t: repr(t[:30]))
def test_hostile_content_is_stored_as_text_never_executed(engine, tenant_channel, text):
    message = {
        "id": "1100000000000000001",
        "content": text,
        "timestamp": "2024-01-01T00:00:00+00:00",
        "author": {"id": "80351110224678912"},
        "type": 0,
    }
    rows = shape_messages(TENANT, CHANNEL_ID, [message], ANONYMIZER)
    with engine.begin() as conn:
        write_message_batch(conn, TENANT, CHANNEL_ID, rows, checkpoint=1100000000000000001)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(messages.c.content).where(messages.c.id == 1100000000000000001)).scalar_one()
        tables = set(conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        tenants = conn.execute(sa.text("SELECT count(*) FROM tenants")).scalar_one()
    expected = text.replace("\x00", "")
    expected = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in expected)
    assert stored == expected
    assert {"messages", "tenants", "channels"} <= tables and tenants == 1


def test_a_reaction_listed_twice_or_a_message_sent_twice_in_a_page_does_not_break_the_batch(engine, tenant_channel):
    base = {
        "id": "1100000000000000002",
        "content": "twice",
        "timestamp": "2024-01-01T00:00:00+00:00",
        "author": {"id": "80351110224678912"},
        "type": 0,
        "reactions": [
            {"emoji": {"id": None, "name": "👍"}, "count": 2},
            {"emoji": {"id": None, "name": "👍"}, "count": 3},
        ],
        "attachments": [{"id": "1100000000000000003", "filename": "a.png", "size": 1, "url": "u"}],
    }
    neighbour = {**base, "id": "1100000000000000004", "reactions": [], "attachments": []}
    rows = shape_messages(TENANT, CHANNEL_ID, [base, base, neighbour], ANONYMIZER)
    with engine.begin() as conn:
        write_message_batch(conn, TENANT, CHANNEL_ID, rows, checkpoint=1100000000000000004)
    with engine.connect() as conn:
        ids = conn.execute(sa.select(messages.c.id).order_by(messages.c.id)).scalars().all()
        reactions = conn.execute(sa.select(message_emoji_reactions.c.emoji_key)).scalars().all()
        attachments = conn.execute(sa.select(message_attachments.c.id)).scalars().all()
    assert ids == [1100000000000000002, 1100000000000000004]
    assert reactions == ["👍"] and attachments == [1100000000000000003]
