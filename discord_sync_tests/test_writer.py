"""The write path against a real PostgreSQL: upserts are idempotent and a batch is all-or-nothing."""

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import shape_messages
from discord_sync.store.schema import channels, message_attachments, message_emoji_reactions, messages, sync_progress
from discord_sync.store.writer import upsert_frame, upsert_sql, write_message_batch

ANON = Anonymizer("test-anonymization-key-0123456789")


def _payload(i, content="hi", reactions=None):
    return {
        "id": str(1_100_000_000_000_000_000 + i),
        "type": 0,
        "content": content,
        "timestamp": "2023-04-21T10:00:00+00:00",
        "author": {"id": "80351110224678912"},
        "reactions": reactions or [{"emoji": {"id": None, "name": "👍"}, "count": 1}],
        "attachments": [{"id": str(5000 + i), "filename": "f.txt", "size": 1, "url": "https://cdn/f.txt"}],
    }


def _counts(engine):
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in (messages, message_emoji_reactions, message_attachments)
        )


def test_writing_the_same_batch_twice_changes_nothing(engine, tenant_with_channel):
    rows = shape_messages("acme", 900, [_payload(i) for i in range(50)], ANON)
    with engine.begin() as conn:
        write_message_batch(conn, "acme", 900, rows, checkpoint=1_100_000_000_000_000_049)
    with engine.connect() as conn:
        before = conn.execute(
            sa.select(messages.c.id, messages.c.synced_at, messages.c.content).order_by(messages.c.id)
        ).all()
    with engine.begin() as conn:
        write_message_batch(conn, "acme", 900, rows, checkpoint=1_100_000_000_000_000_049)
    with engine.connect() as conn:
        after = conn.execute(
            sa.select(messages.c.id, messages.c.synced_at, messages.c.content).order_by(messages.c.id)
        ).all()
        checkpoint = conn.execute(sa.select(sync_progress.c.last_message_id)).scalar()
    assert _counts(engine) == (50, 50, 50)
    assert before == after, "equal rows must not even be rewritten"
    assert checkpoint == 1_100_000_000_000_000_049


def test_an_edit_updates_the_row_and_replaces_its_reactions(engine, tenant_with_channel):
    with engine.begin() as conn:
        write_message_batch(conn, "acme", 900, shape_messages("acme", 900, [_payload(1)], ANON), checkpoint=None)
        edited = _payload(1, content="edited", reactions=[{"emoji": {"id": None, "name": "🎉"}, "count": 2}])
        write_message_batch(conn, "acme", 900, shape_messages("acme", 900, [edited], ANON), checkpoint=None)
    with engine.connect() as conn:
        assert conn.execute(sa.select(messages.c.content)).scalar() == "edited"
        assert conn.execute(sa.select(message_emoji_reactions.c.emoji_name, message_emoji_reactions.c.count)).all() == [
            ("🎉", 2)
        ]


def test_a_failing_batch_leaves_nothing_half_written(engine, tenant_with_channel):
    rows = shape_messages("acme", 900, [_payload(i) for i in range(10)], ANON)
    rows.attachments.append(("acme", 1, 999, None, "x", None, 1, None, None, None, None, None))  # NOT NULL violation
    with pytest.raises(psycopg.errors.NotNullViolation):
        with engine.begin() as conn:
            write_message_batch(conn, "acme", 900, rows, checkpoint=1_100_000_000_000_000_009)
    assert _counts(engine) == (0, 0, 0)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_progress)).scalar() == 0


def test_upsert_frame_keeps_snowflakes_exact(engine, tenant_with_channel):
    big = 1_234_567_890_123_456_789
    frame = pd.DataFrame(
        [
            {
                "tenant_id": "acme",
                "id": big,
                "parent_id": None,
                "name": "t",
                "type": 11,
                "is_thread": True,
                "created_at": pd.Timestamp("2024-01-01", tz="UTC"),
            }
        ],
        dtype=object,
    )
    with engine.begin() as conn:
        upsert_frame(conn, channels, frame)
    with engine.connect() as conn:
        assert conn.execute(sa.select(channels.c.id).where(channels.c.type == 11)).scalar() == big


def test_upsert_sql_names_only_schema_identifiers():
    text = upsert_sql(messages, ["tenant_id", "id", "content"]).as_string()
    assert 'INSERT INTO "messages"' in text
    assert 'ON CONFLICT ("tenant_id", "id") DO UPDATE SET "content" = EXCLUDED."content"' in text
    assert "IS DISTINCT FROM" in text
