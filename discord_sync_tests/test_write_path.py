"""The write path's fast `COPY` and its fallback, against a real PostgreSQL; and migration 0002 on stored data.

New messages are copied straight in; a batch that overlaps stored rows is rolled back to its savepoint and
upserted instead, with exactly the same result as before the fast path existed.
"""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import ATTACHMENT_COLUMNS, MESSAGE_COLUMNS, REACTION_COLUMNS, shape_messages
from discord_sync.store.database import create_db_engine
from discord_sync.store.migrate import alembic_config
from discord_sync.store.purge import purge_stored_messages
from discord_sync.store.schema import (
    channels,
    message_attachments,
    message_emoji_reactions,
    messages,
    metadata,
    sync_progress,
    tenants,
)
from discord_sync.store.tenants import add_tenant
from discord_sync.store.writer import upsert_frame, write_message_batch

ANON = Anonymizer("test-anonymization-key-0123456789")
BASE = 1_100_000_000_000_000_000


def _payload(i, content=None, reactions=None, attachments=None, reply_to=None):
    payload = {
        "id": str(BASE + i),
        "type": 19 if reply_to else 0,
        "content": content or f"message {i}",
        "timestamp": "2023-04-21T10:00:00+00:00",
        "author": {"id": "80351110224678912"},
        "reactions": [
            {"emoji": {"id": None, "name": "👍"}, "count": 1},
            {"emoji": {"id": "42", "name": "party", "animated": True}, "count": 3},
        ]
        if reactions is None
        else reactions,
        "attachments": [{"id": str(5000 + i), "filename": "f.txt", "size": 1, "url": "https://cdn/f.txt"}]
        if attachments is None
        else attachments,
    }
    if reply_to:
        payload["message_reference"] = {"message_id": str(BASE + reply_to), "channel_id": "900"}
    return payload


def _batch(payloads):
    return shape_messages("acme", 900, payloads, ANON)


def _write(engine, rows, checkpoint=None):
    with engine.begin() as conn:
        return write_message_batch(conn, "acme", 900, rows, checkpoint=checkpoint)


def _messages_synced(engine) -> int:
    """The channel's `sync_progress.messages_synced`."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sync_progress.c.messages_synced)).scalar_one()


def _stored(engine):
    """Every stored row of the three tables (messages with their synced_at), in key order."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            for table in (messages, message_emoji_reactions, message_attachments)
        )


def test_new_messages_are_copied_straight_in(engine, tenant_with_channel):
    payloads = [_payload(i) for i in range(20)]
    rows = _batch(payloads + [payloads[3]])  # a page that repeats a message
    rows.reactions.append(rows.reactions[0])  # and an emoji listed twice
    assert _write(engine, rows, checkpoint=BASE + 19) is True
    stored_messages, stored_reactions, stored_attachments = _stored(engine)
    assert [m.id for m in stored_messages] == [BASE + i for i in range(20)]
    assert stored_messages[5].content == "message 5" and stored_messages[5].synced_at is not None
    assert len(stored_reactions) == 40 and len(stored_attachments) == 20
    with engine.connect() as conn:
        progress = conn.execute(sa.select(sync_progress.c.last_message_id, sync_progress.c.messages_synced)).one()
    assert progress.last_message_id == BASE + 19
    assert progress.messages_synced == 20, "the repeated message counts once"


def test_the_same_batch_written_twice_falls_back_and_changes_nothing(engine, tenant_with_channel):
    rows = _batch([_payload(i) for i in range(30)])
    assert _write(engine, rows) is True
    before = _stored(engine)
    assert _write(engine, rows) is False
    assert _stored(engine) == before, "equal rows are not rewritten, children not duplicated"
    assert _messages_synced(engine) == 30, "re-written messages are not counted again"


def test_an_overlapping_batch_stores_edits_new_rows_and_removed_children(engine, tenant_with_channel):
    assert _write(engine, _batch([_payload(i) for i in range(10)])) is True
    (before_messages, _, _) = _stored(engine)
    overlapping = [_payload(i) for i in range(5, 15)]
    overlapping[1] = _payload(6, content="edited", reactions=[{"emoji": {"id": None, "name": "🎉"}, "count": 2}])
    overlapping[2] = _payload(7, reactions=[], attachments=[])  # its reactions and attachment were removed
    assert _write(engine, _batch(overlapping)) is False
    stored_messages, stored_reactions, stored_attachments = _stored(engine)
    assert [m.id for m in stored_messages] == [BASE + i for i in range(15)]
    assert _messages_synced(engine) == 15, "only the 5 messages new to the store are added to the count"
    by_id = {m.id: m for m in stored_messages}
    assert by_id[BASE + 6].content == "edited"
    assert by_id[BASE + 5].synced_at == before_messages[5].synced_at, "an unchanged row is left untouched"
    reactions_of = lambda i: sorted((r.emoji_key, r.count) for r in stored_reactions if r.message_id == BASE + i)  # noqa: E731
    assert reactions_of(6) == [("🎉", 2)]
    assert reactions_of(7) == []
    assert reactions_of(12) == [("42", 3), ("👍", 1)]
    assert len(stored_reactions) == 2 * 15 - 2 - 1
    assert sorted(a.message_id - BASE for a in stored_attachments) == [i for i in range(15) if i != 7]


def test_a_fallback_keeps_what_the_transaction_wrote_before_it(engine, tenant_with_channel):
    """The savepoint rolls back only the failed copy, not an earlier batch of the same transaction."""
    with engine.begin() as conn:
        assert write_message_batch(conn, "acme", 900, _batch([_payload(i) for i in range(10)]), checkpoint=None)
        assert not write_message_batch(
            conn, "acme", 900, _batch([_payload(i) for i in range(8, 12)]), checkpoint=BASE + 11
        )
    stored_messages, stored_reactions, stored_attachments = _stored(engine)
    assert len(stored_messages) == 12 and len(stored_reactions) == 24 and len(stored_attachments) == 12
    with engine.connect() as conn:
        assert conn.execute(sa.select(sync_progress.c.last_message_id)).scalar() == BASE + 11


def test_two_upserts_of_a_table_in_one_transaction_do_not_see_each_others_staged_rows(engine, tenant_with_channel):
    _write(engine, _batch([_payload(1), _payload(2)]))
    with engine.begin() as conn:
        assert not write_message_batch(conn, "acme", 900, _batch([_payload(1, content="v2")]), checkpoint=None)
        assert not write_message_batch(conn, "acme", 900, _batch([_payload(1, content="v3")]), checkpoint=None)
        frame = pd.DataFrame(
            [
                {
                    "tenant_id": "acme",
                    "id": 901,
                    "name": "first",
                    "type": 0,
                    "is_thread": False,
                    "created_at": pd.Timestamp("2024-01-01", tz="UTC"),
                }
            ],
            dtype=object,
        )
        upsert_frame(conn, channels, frame)
        upsert_frame(conn, channels, frame.assign(id=902, name="second"))
        upsert_frame(conn, channels, frame.assign(name="renamed"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(messages.c.content).where(messages.c.id == BASE + 1)).scalar() == "v3"
        names = dict(conn.execute(sa.select(channels.c.id, channels.c.name).where(channels.c.id > 900)).all())
    assert names == {901: "renamed", 902: "second"}


def test_errors_other_than_a_stored_key_still_fail_the_whole_batch(engine, tenant_with_channel):
    # A batch of a tenant that is not (or no longer) there: its checkpoint row's foreign key to `tenants` fails
    # after the rows were copied, and the whole batch goes with it.
    rows = shape_messages("ghost", 900, [_payload(i) for i in range(3)], ANON)
    with pytest.raises(sa.exc.IntegrityError, match="fk_sync_progress_tenant_id_tenants"):
        with engine.begin() as conn:
            write_message_batch(conn, "ghost", 900, rows, checkpoint=BASE + 2)
    assert _stored(engine) == ([], [], [])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_progress)).scalar() == 0


def test_a_channel_purge_removes_that_channels_reactions_and_attachments_and_nothing_else(engine, tenant_with_channel):
    with engine.begin() as conn:
        conn.execute(
            channels.insert().values(
                tenant_id="acme", id=901, name="other", type=0, is_thread=False, created_at=sa.func.now()
            )
        )
    _write(engine, _batch([_payload(i) for i in range(3)]))
    with engine.begin() as conn:
        write_message_batch(
            conn, "acme", 901, shape_messages("acme", 901, [_payload(i) for i in range(10, 12)], ANON), checkpoint=None
        )
    before = _stored(engine)
    with engine.begin() as conn:
        purge_stored_messages(conn, "acme", 900)
    kept_messages, kept_reactions, kept_attachments = _stored(engine)
    assert {m.channel_id for m in kept_messages} == {901}
    kept_ids = {m.id for m in kept_messages}
    assert {r.message_id for r in kept_reactions} <= kept_ids and {a.message_id for a in kept_attachments} <= kept_ids
    assert len(kept_reactions) == sum(1 for r in before[1] if r.message_id in kept_ids) > 0
    # Written again, the channel takes the fast path: nothing of it was left behind to collide with.
    assert _write(engine, _batch([_payload(i) for i in range(3)]))
    after = _stored(engine)
    assert [m.id for m in after[0]] == [m.id for m in before[0]]
    assert [(r.message_id, r.emoji_key, r.count) for r in after[1]] == [
        (r.message_id, r.emoji_key, r.count) for r in before[1]
    ]
    assert [(a.id, a.message_id) for a in after[2]] == [(a.id, a.message_id) for a in before[2]]


def test_only_the_batch_transaction_commits_without_waiting_for_the_wal_flush(engine, tenant_with_channel):
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW synchronous_commit")).scalar() == "on"
        conn.commit()
        write_message_batch(conn, "acme", 900, _batch([_payload(1)]), checkpoint=None)
        assert conn.execute(sa.text("SHOW synchronous_commit")).scalar() == "off"
        conn.commit()
        assert conn.execute(sa.text("SHOW synchronous_commit")).scalar() == "on"


def test_a_tenant_removal_still_removes_its_messages_reactions_and_attachments(engine, tenant_with_channel):
    # No foreign key ties them to the tenant any more: a trigger on `tenants` removes them (migration 0003).
    _write(engine, _batch([_payload(i) for i in range(5)]))
    with engine.begin() as conn:
        conn.execute(tenants.delete().where(tenants.c.id == "acme"))
    assert _stored(engine) == ([], [], [])


# Migration 0002 on a database that holds data.


@pytest.fixture
def empty_database(pg_server_url):
    name = f"discord_sync_test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_db_engine(
        sa.engine.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    )
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate_to(engine, revision, *, down=False):
    with engine.connect() as conn:
        (command.downgrade if down else command.upgrade)(alembic_config(conn), revision)
        conn.commit()


def _tenant_foreign_keys(conn):
    return set(
        conn.execute(
            sa.text(
                "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND confrelid = 'tenants'::regclass"
            )
        ).scalars()
    )


def _reply_index(conn):
    return conn.execute(
        sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_tenant_id_reply_to_id'")
    ).scalar_one()


ADDED_SINCE_0001 = {"deleted_at", "embeds", "sticker_items", "poll", "forwarded", "url_expires_at"}


def _write_0001_rows(conn, rows) -> None:
    for table, columns, values in (
        (messages, MESSAGE_COLUMNS, rows.messages),
        (message_emoji_reactions, REACTION_COLUMNS, rows.reactions),
        (message_attachments, ATTACHMENT_COLUMNS, rows.attachments),
    ):
        if values:
            conn.execute(
                table.insert(),
                [{c: v for c, v in zip(columns, row, strict=True) if c not in ADDED_SINCE_0001} for row in values],
            )


def _stored_0001(engine):
    """`_stored`, limited to the columns 0001 had."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.select(*[c for c in table.columns if c.name not in ADDED_SINCE_0001]).order_by(
                    *table.primary_key.columns
                )
            ).all()
            for table in (messages, message_emoji_reactions, message_attachments)
        )


def test_migration_0002_keeps_stored_data_and_only_lightens_the_write_path(empty_database):
    engine = empty_database
    _migrate_to(engine, "0001")
    with engine.begin() as conn:
        add_tenant(conn, "acme", 1)
        conn.execute(
            channels.insert().values(
                tenant_id="acme", id=900, name="general", type=0, is_thread=False, created_at=sa.func.now()
            )
        )
        # The 0001 tables, holding the rows 0001's writer stored: today's rows without the columns added since.
        _write_0001_rows(conn, _batch([_payload(i) for i in range(10)] + [_payload(10, reply_to=3)]))
    with engine.connect() as conn:
        assert {"messages", "message_emoji_reactions", "message_attachments"} <= _tenant_foreign_keys(conn)
        assert "WHERE" not in _reply_index(conn)
    before = _stored_0001(engine)

    _migrate_to(engine, "head")
    assert _stored_0001(engine) == before
    with engine.connect() as conn:
        tenant_keys = _tenant_foreign_keys(conn)
        assert not tenant_keys & {"messages", "message_emoji_reactions", "message_attachments"}
        assert {"channels", "sync_progress", "channel_sync_jobs"} <= tenant_keys
        assert _reply_index(conn).endswith("WHERE (reply_to_id IS NOT NULL)")
        replies = (
            conn.execute(
                sa.select(messages.c.id).where(messages.c.tenant_id == "acme", messages.c.reply_to_id == BASE + 3)
            )
            .scalars()
            .all()
        )
    assert replies == [BASE + 10]
    # New batches go the fast way; an overlapping one still falls back.
    with engine.begin() as conn:
        assert write_message_batch(conn, "acme", 900, _batch([_payload(i) for i in range(11, 15)]), checkpoint=None)
        assert not write_message_batch(conn, "acme", 900, _batch([_payload(2, content="edited")]), checkpoint=None)
    # Removing the tenant still cascades through channels and messages to every row.
    with engine.begin() as conn:
        conn.execute(tenants.delete().where(tenants.c.id == "acme"))
    assert _stored(engine) == ([], [], [])

    _migrate_to(engine, "0001", down=True)
    with engine.connect() as conn:
        assert {"messages", "message_emoji_reactions", "message_attachments"} <= _tenant_foreign_keys(conn)
        assert "WHERE" not in _reply_index(conn)


def test_partial_indexes_match_the_declared_schema(engine):
    """Alembic's comparison ignores an index's WHERE clause; this checks the predicates themselves."""
    declared = {
        index.name: str(index.dialect_options["postgresql"]["where"])
        for table in metadata.tables.values()
        for index in table.indexes
        if index.dialect_options["postgresql"]["where"] is not None
    }
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                sa.text(
                    "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND i.indpred IS NOT NULL"
                )
            ).all()
        )
    assert declared == {"ix_messages_tenant_id_reply_to_id": "reply_to_id IS NOT NULL"}
    assert {name: predicate.strip("()") for name, predicate in stored.items()} == declared
