"""The channel catalog a sync upserts (`catalog.catalog_frame`): what discovery saw, plus what disappeared."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import CHANNEL_COLUMNS, channel_row
from discord_sync.source.protocol import ChannelListing
from discord_sync.sync.catalog import catalog_frame

pytestmark = pytest.mark.unit

ANON = Anonymizer("test-anonymization-key-0123456789")
BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 2, tzinfo=UTC)
TEXT = {"id": "1100000000000000001", "type": 0, "name": "general"}
FORUM = {"id": "1100000000000000002", "type": 15, "name": "help"}
POST = {"id": "1100000000000000003", "type": 11, "name": "a post", "parent_id": FORUM["id"]}


def previous(*payloads: dict) -> pd.DataFrame:
    """The catalog stored by an earlier sync."""
    rows = [channel_row("acme", payload, ANON, BEFORE) for payload in payloads]
    return pd.DataFrame(rows, columns=list(CHANNEL_COLUMNS), dtype=object)


def by_id(frame: pd.DataFrame) -> dict[int, dict]:
    return {row["id"]: row for row in frame.to_dict("records")}


def test_a_first_catalog_is_every_channel_seen_and_marks_nothing_deleted() -> None:
    frame, gone = catalog_frame("acme", ChannelListing([TEXT, FORUM, POST]), previous(), ANON, NOW)
    assert gone == 0
    assert sorted(by_id(frame)) == sorted(int(p["id"]) for p in (TEXT, FORUM, POST))
    assert list(frame.columns) == list(CHANNEL_COLUMNS)
    assert all(row["deleted_at"] is None and row["last_seen_at"] == NOW for row in by_id(frame).values())


def test_a_channel_no_longer_seen_is_kept_and_marked_deleted_now() -> None:
    frame, gone = catalog_frame("acme", ChannelListing([FORUM, POST]), previous(TEXT, FORUM, POST), ANON, NOW)
    rows = by_id(frame)
    assert gone == 1
    assert rows[int(TEXT["id"])]["deleted_at"] == NOW and rows[int(TEXT["id"])]["name"] == "general"
    assert rows[int(POST["id"])]["deleted_at"] is None


def test_an_unseen_thread_under_a_parent_not_listed_now_is_not_marked_deleted() -> None:
    listing = ChannelListing([TEXT, FORUM])  # the forum's threads were not listed (quiet, refused or hidden)
    frame, gone = catalog_frame("acme", listing, previous(TEXT, FORUM, POST), ANON, NOW)
    assert gone == 0
    assert int(POST["id"]) not in by_id(frame), "left as stored: unseen is not the same as gone"
