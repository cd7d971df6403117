"""Applying deletions to stored messages: each policy does what docs/schema.md says, touches only the messages
named and still live, and applying it twice changes nothing the second time."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from discord_sync.shaping.rows import shape_messages
from discord_sync.store.deletions import apply_deletions, stored_live_ids
from discord_sync.store.schema import message_attachments, message_emoji_reactions, messages
from discord_sync.store.writer import write_messages
from discord_sync_tests.test_rows import ANON, message

pytestmark = pytest.mark.integration

IDS = [1_100_000_000_000_000_001, 1_100_000_000_000_000_002]


def _store(engine) -> None:
    payloads = [
        message(
            id=str(i),
            content=f"text {i}",
            reactions=[{"emoji": {"id": None, "name": "👍"}, "count": 2}],
            attachments=[{"id": str(i + 5), "filename": "a.png", "size": 1, "url": "https://cdn/a.png"}],
            embeds=[{"type": "rich", "title": "T"}],
        )
        for i in IDS
    ]
    with engine.begin() as conn:
        write_messages(conn, "acme", shape_messages("acme", 900, payloads, ANON))


def _children(engine, table, message_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.message_id == message_id)
        ).scalar()


@pytest.mark.parametrize("policy", ["tombstone", "delete", "keep"])
def test_a_deletion_applies_its_policy_to_the_named_message_only_and_once(engine, tenant_with_channel, policy):
    _store(engine)
    with engine.begin() as conn:
        assert apply_deletions(conn, "acme", [IDS[0], 999], policy) == 1
    with engine.begin() as conn:
        assert apply_deletions(conn, "acme", [IDS[0]], policy) == 0
        assert stored_live_ids(conn, "acme", 900, 0, IDS[-1]) == {IDS[1]}
        rows = {r.id: r for r in conn.execute(sa.select(messages)).all()}
    if policy == "delete":
        assert IDS[0] not in rows
    else:
        assert rows[IDS[0]].deleted_at is not None
        assert (rows[IDS[0]].content == "") is (policy == "tombstone")
        assert (rows[IDS[0]].embeds is None) is (policy == "tombstone")
    gone = policy != "keep"
    assert _children(engine, message_emoji_reactions, IDS[0]) == (0 if gone else 1)
    assert _children(engine, message_attachments, IDS[0]) == (0 if gone else 1)
    assert rows[IDS[1]].deleted_at is None and rows[IDS[1]].content == f"text {IDS[1]}"
    assert _children(engine, message_emoji_reactions, IDS[1]) == 1


def test_an_unknown_policy_is_refused_by_name(engine, tenant_with_channel):
    with engine.begin() as conn, pytest.raises(ValueError, match="tombstone, delete, keep"):
        apply_deletions(conn, "acme", IDS, "shred")
