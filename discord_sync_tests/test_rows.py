"""Table-driven tests of the pure payload-to-row shaping."""

from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import (
    MESSAGE_COLUMNS,
    REACTION_COLUMNS,
    channel_row,
    clean_text,
    shape_messages,
    snowflake_time,
    stored,
)

KEY = "test-anonymization-key-0123456789"
ANON = Anonymizer(KEY)
USER = "80351110224678912"
MESSAGE_ID = "1100000000000000000"


def message(**fields):
    payload = {
        "id": MESSAGE_ID,
        "channel_id": "900",
        "type": 0,
        "content": "hello",
        "timestamp": "2023-04-21T10:00:00.000000+00:00",
        "edited_timestamp": None,
        "author": {"id": USER, "username": "someone", "bot": False},
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "flags": 0,
    }
    payload.update(fields)
    return payload


def column(row, name):
    return row[MESSAGE_COLUMNS.index(name)]


@pytest.mark.parametrize(
    "fields, name, expected",
    [
        ({}, "content", "hello"),
        ({"content": f"hey <@{USER}>"}, "content", f"hey <@{ANON.user_hash(USER)}>"),
        ({"content": "nul\x00byte"}, "content", "nulbyte"),
        ({"content": "lone \ud800 surrogate"}, "content", "lone \ufffd surrogate"),
        ({"content": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👨‍👩‍👧"}, "content", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👨‍👩‍👧"),
        ({"content": "x" * 4000}, "content", "x" * 4000),
        ({"content": ""}, "content", ""),
        ({"content": None}, "content", ""),
        ({}, "author_hash", ANON.user_hash(USER)),
        ({"webhook_id": "123"}, "is_webhook", True),
        ({"author": {"id": USER, "bot": True}}, "author_is_bot", True),
        (
            {"type": 19, "message_reference": {"message_id": "1099999999999999999", "channel_id": "900"}},
            "reply_to_id",
            1099999999999999999,
        ),
        ({"type": 6, "message_reference": {"message_id": "1099999999999999999"}}, "reply_to_id", None),
        ({"edited_timestamp": "2023-04-22T10:00:00+00:00"}, "edited_at", datetime(2023, 4, 22, 10, tzinfo=UTC)),
        ({"mentions": [{"id": USER}]}, "mentioned_user_hashes", [ANON.user_hash(USER)]),
        ({"mention_roles": ["555"]}, "mentioned_role_ids", [555]),
        ({"thread": {"id": "777", "type": 11}}, "thread_id", 777),
        ({"pinned": True}, "pinned", True),
    ],
)
def test_message_row_fields(fields, name, expected):
    rows = shape_messages("acme", 900, [message(**fields)], ANON)
    assert rows.errors == []
    assert column(rows.messages[0], name) == expected


def test_no_raw_user_id_survives_in_any_message_column():
    payload = message(content=f"<@{USER}> and <@!{USER}>", mentions=[{"id": USER}])
    rows = shape_messages("acme", 900, [payload], ANON)
    assert USER not in repr(rows.messages)


MENTIONS = f"<@{USER}> <@!{USER}> https://discord.com/users/{USER} canary.discordapp.com/users/{USER}"
CARD = {
    "type": "rich",
    "title": MENTIONS,
    "description": MENTIONS,
    "url": f"https://discord.com/users/{USER}",
    "fields": [{"name": MENTIONS, "value": MENTIONS, "inline": False}],
    "footer": {"text": MENTIONS},
    "author": {"name": MENTIONS},
}


def test_no_raw_user_id_survives_in_any_text_a_message_carries():
    payload = message(
        content=MENTIONS,
        embeds=[CARD],
        poll={
            "question": {"text": MENTIONS},
            "answers": [{"answer_id": 1, "poll_media": {"text": MENTIONS}}],
            "expiry": None,
            "allow_multiselect": False,
            "layout_type": 1,
        },
        message_reference={"type": 1, "message_id": "1", "channel_id": "2", "guild_id": "3"},
        message_snapshots=[{"message": {"type": 0, "content": MENTIONS, "embeds": [CARD], "attachments": []}}],
        attachments=[{"id": "5", "filename": "a.png", "url": "https://x/a.png", "size": 1, "description": MENTIONS}],
        reactions=[{"emoji": {"id": None, "name": MENTIONS}, "count": 1}],
    )
    rows = shape_messages("acme", 900, [payload], ANON)
    assert not rows.errors
    stored = repr((rows.messages, rows.reactions, rows.attachments))
    assert USER not in stored
    assert stored.count(ANON.user_hash(USER)) >= 30  # every text kept, with the hash in place of the id


def test_no_raw_user_id_survives_in_a_channel_or_thread_row():
    payload = {
        "id": "1100000000000000001",
        "type": 15,
        "name": f"ask <@{USER}>",
        "topic": f"ask <@!{USER}> or https://discord.com/users/{USER} first",
        "available_tags": [{"id": "7", "name": f"<@{USER}>'s", "moderated": False}],
    }
    row = channel_row("acme", payload, ANON, datetime(2024, 1, 1, tzinfo=UTC))
    assert USER not in repr(row)
    assert row["name"] == f"ask <@{ANON.user_hash(USER)}>"


@pytest.mark.parametrize(
    "reaction, expected",
    [
        (
            {"emoji": {"id": None, "name": "👍"}, "count": 3, "count_details": {"normal": 2, "burst": 1}},
            ("👍", None, "👍", False, 3, 2, 1),
        ),
        (
            {"emoji": {"id": "123456", "name": "party", "animated": True}, "count": 1},
            ("123456", 123456, "party", True, 1, 1, 0),
        ),
        (
            {"emoji": {"id": None, "name": "🇫🇷"}, "count": 5, "count_details": {"normal": 5, "burst": 0}},
            ("🇫🇷", None, "🇫🇷", False, 5, 5, 0),
        ),
    ],
)
def test_reaction_rows(reaction, expected):
    rows = shape_messages("acme", 900, [message(reactions=[reaction])], ANON)
    row = rows.reactions[0]
    assert row[REACTION_COLUMNS.index("emoji_key") :] == expected
    assert row[:2] == ("acme", int(MESSAGE_ID))


def test_attachment_rows_keep_metadata():
    attachment = {
        "id": "42",
        "filename": "cat.png",
        "size": 1024,
        "url": "https://cdn/x/cat.png",
        "proxy_url": "https://media/x/cat.png",
        "content_type": "image/png",
        "width": 64,
        "height": 48,
    }
    rows = shape_messages("acme", 900, [message(attachments=[attachment])], ANON)
    assert rows.attachments == [
        (
            "acme",
            42,
            int(MESSAGE_ID),
            "cat.png",
            "https://cdn/x/cat.png",
            "https://media/x/cat.png",
            1024,
            "image/png",
            64,
            48,
            None,
            None,  # an unsigned URL has no expiry
        )
    ]


@pytest.mark.parametrize(
    "broken",
    [
        {"id": "not-a-number", "content": "x"},
        {"content": "no id at all"},
        {"id": "12", "author": {"id": USER}, "timestamp": "yesterday"},
        {"id": "13", "reactions": [{"emoji": {"id": "abc"}, "count": 1}]},
        {"id": str(2**64), "content": "too big"},
        "not even a dict",
    ],
)
def test_malformed_message_is_reported_with_its_id_and_the_rest_are_kept(broken):
    rows = shape_messages("acme", 900, [message(), broken], ANON)
    assert len(rows.messages) == 1
    assert len(rows.errors) == 1
    assert "malformed message" in rows.errors[0].error


def test_channel_row_for_a_forum_post_thread():
    payload = {
        "id": "1100000000000000001",
        "type": 11,
        "parent_id": "1000",
        "name": "A post",
        "owner_id": USER,
        "applied_tags": ["1", "2"],
        "message_count": 7,
        "last_message_id": "1100000000000000099",
        "thread_metadata": {
            "archived": True,
            "locked": False,
            "archive_timestamp": "2024-01-01T00:00:00+00:00",
            "auto_archive_duration": 1440,
        },
    }
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = channel_row("acme", payload, ANON, now)
    assert row["is_thread"] and row["parent_id"] == 1000 and row["applied_tag_ids"] == [1, 2]
    assert row["owner_hash"] == ANON.user_hash(USER)
    assert row["archived"] is True and row["archived_at"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert row["created_at"] == snowflake_time(1100000000000000001)
    assert USER not in repr(row)


def test_clean_text_passes_ordinary_text_through():
    assert clean_text("plain") == "plain"


def test_a_row_field_added_later_is_scrubbed_unless_it_is_typed_as_a_number_a_flag_or_a_time():
    class Later(NamedTuple):
        id: int
        flag: bool
        at: datetime | None
        note: str | None
        extra: dict | None
        anything: Any

    raw = f"<@{USER}>"
    row = stored(Later, ANON, 1, True, None, raw, {"deep": [raw]}, raw)
    scrubbed = f"<@{ANON.user_hash(USER)}>"
    assert row == Later(1, True, None, scrubbed, {"deep": [scrubbed]}, scrubbed)


def test_the_error_of_a_malformed_message_quotes_no_raw_user_id():
    broken = message(id="1100000000000000009", type=f"<@{USER}>")  # not a number: the error quotes the value
    rows = shape_messages("acme", 900, [broken], ANON)
    assert len(rows.errors) == 1 and "malformed message" in rows.errors[0].error
    assert USER not in rows.errors[0].error and ANON.user_hash(USER) in rows.errors[0].error
