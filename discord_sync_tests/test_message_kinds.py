"""Table-driven tests of the shaping of what messages carry beside text: embeds, stickers, polls, forwards, signed
attachment URLs, and the deletion signal of a reply whose original is gone."""

from datetime import UTC, datetime

import pytest

from discord_sync.shaping import message_kinds
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.rows import ATTACHMENT_COLUMNS, MESSAGE_COLUMNS, shape_messages
from discord_sync_tests.test_rows import ANON, MESSAGE_ID, USER, message

pytestmark = pytest.mark.unit

POLL = {
    "question": {"text": "Ship it?"},
    "answers": [
        {"answer_id": 1, "poll_media": {"text": "yes", "emoji": {"id": None, "name": "👍"}}},
        {"answer_id": 2, "poll_media": {"text": "no"}},
    ],
    "expiry": "2026-12-01T10:00:00+00:00",
    "allow_multiselect": False,
    "layout_type": 1,
    "results": {"is_finalized": False, "answer_counts": [{"id": 1, "count": 7, "me_voted": False}]},
}
FORWARD_REFERENCE = {"type": 1, "message_id": "1100000000000000005", "channel_id": "901", "guild_id": "1"}
SNAPSHOT = {
    "message": {
        "type": 0,
        "content": f"see <@{USER}>",
        "mentions": [{"id": USER, "username": "someone"}],
        "mention_roles": [],
        "attachments": [{"id": "77", "filename": "a.png", "size": 5, "url": "https://cdn/a.png"}],
        "embeds": [],
        "timestamp": "2026-11-29T10:00:00+00:00",
        "edited_timestamp": None,
        "flags": 0,
        "components": [],
    }
}


def column(rows, name):
    return rows.messages[0][MESSAGE_COLUMNS.index(name)]


@pytest.mark.parametrize(
    "fields, name, expected",
    [
        ({}, "embeds", None),
        ({}, "sticker_items", None),
        ({}, "poll", None),
        ({}, "forwarded", None),
        ({}, "deleted_at", None),
        (
            {"embeds": [{"type": "rich", "title": "T", "description": "D", "url": "https://x", "color": 5}]},
            "embeds",
            [{"type": "rich", "url": "https://x", "title": "T", "description": "D"}],
        ),
        (
            {
                "embeds": [
                    {
                        "type": "rich",
                        "title": "Ticket",
                        "fields": [{"name": "Assignee", "value": "Sam", "inline": True}],
                        "footer": {"text": "Support bot", "icon_url": "https://x/i.png"},
                        "author": {"name": "Helpdesk", "url": "https://x"},
                    }
                ]
            },
            "embeds",
            [
                {
                    "type": "rich",
                    "url": None,
                    "title": "Ticket",
                    "description": None,
                    "fields": [{"name": "Assignee", "value": "Sam"}],
                    "footer": "Support bot",
                    "author": "Helpdesk",
                }
            ],
        ),
        (
            {"embeds": [{"type": "image"}]},
            "embeds",
            [{"type": "image", "url": None, "title": None, "description": None}],
        ),
        (
            {"sticker_items": [{"id": "1234567890123456789", "name": "wave", "format_type": 1}]},
            "sticker_items",
            [{"id": "1234567890123456789", "name": "wave", "format_type": 1}],
        ),
        (
            {"poll": POLL},
            "poll",
            {
                "question": "Ship it?",
                "answers": [
                    {"answer_id": 1, "text": "yes", "emoji": "👍", "votes": 7},
                    {"answer_id": 2, "text": "no", "emoji": None, "votes": 0},
                ],
                "expires_at": "2026-12-01T10:00:00+00:00",
                "allow_multiselect": False,
                "finalized": False,
            },
        ),
        (
            {"message_reference": FORWARD_REFERENCE, "message_snapshots": [SNAPSHOT], "flags": 16384},
            "forwarded",
            {
                "message_id": "1100000000000000005",
                "channel_id": "901",
                "guild_id": "1",
                "messages": [
                    {
                        "type": 0,
                        "content": f"see <@{ANON.user_hash(USER)}>",
                        "created_at": "2026-11-29T10:00:00+00:00",
                        "edited_at": None,
                        "mentioned_user_hashes": [ANON.user_hash(USER)],
                        "attachments": [
                            {
                                "id": "77",
                                "filename": "a.png",
                                "url": "https://cdn/a.png",
                                "size": 5,
                                "content_type": None,
                            }
                        ],
                        "embeds": None,
                        "sticker_items": None,
                    }
                ],
            },
        ),
        # A forward is not a reply: it links to no message of the channel.
        ({"type": 0, "message_reference": FORWARD_REFERENCE, "message_snapshots": [SNAPSHOT]}, "reply_to_id", None),
        ({"type": 46, "content": ""}, "type", 46),
    ],
)
def test_message_kind_is_kept_not_flattened(fields, name, expected):
    rows = shape_messages("acme", 900, [message(**fields)], ANON)
    assert not rows.errors
    assert column(rows, name) == expected


def test_text_in_json_columns_loses_nul_bytes_and_lone_surrogates():
    rows = shape_messages("acme", 900, [message(embeds=[{"type": "rich", "title": "a\x00b \ud800"}])], ANON)
    assert column(rows, "embeds")[0]["title"] == "ab \ufffd"


def test_no_raw_user_id_survives_in_a_forwarded_message():
    rows = shape_messages(
        "acme", 900, [message(message_reference=FORWARD_REFERENCE, message_snapshots=[SNAPSHOT])], ANON
    )
    assert USER not in repr(rows.messages)


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "https://cdn.discordapp.com/attachments/1/2/a.png?ex=6750a1b0&is=674f5030&hm=abc123&",
            datetime.fromtimestamp(0x6750A1B0, tz=UTC),
        ),
        ("https://cdn.discordapp.com/attachments/1/2/a.png", None),
        ("https://cdn.discordapp.com/attachments/1/2/a.png?ex=nothex", None),
        ("http://[::1/a.png?ex=6750a1b0", None),  # not a URL at all: the attachment is kept, without expiry
        ("", None),
        (None, None),
    ],
)
def test_attachment_url_expiry_is_read_from_its_ex_parameter(url, expected):
    assert message_kinds.url_expires_at(url) == expected


def test_attachment_row_records_when_its_url_expires():
    attachment = {"id": "42", "filename": "a.png", "size": 1, "url": "https://cdn/a.png?ex=6750a1b0&is=1&hm=2&"}
    rows = shape_messages("acme", 900, [message(attachments=[attachment])], ANON)
    assert rows.attachments[0][ATTACHMENT_COLUMNS.index("url_expires_at")] == datetime.fromtimestamp(0x6750A1B0, tz=UTC)


REFERENCE = {"type": 0, "message_id": "1099999999999999999", "channel_id": "900"}


@pytest.mark.parametrize(
    "fields, deleted",
    [
        ({"type": 19, "message_reference": REFERENCE, "referenced_message": None}, [1099999999999999999]),
        # The key absent: Discord did not try to resolve it (not a statement that it is gone).
        ({"type": 19, "message_reference": REFERENCE}, []),
        ({"type": 19, "message_reference": REFERENCE, "referenced_message": message(id="1099999999999999999")}, []),
        # Another channel's message may only be hidden from the bot.
        ({"type": 19, "message_reference": {**REFERENCE, "channel_id": "901"}, "referenced_message": None}, []),
        # A pin notice's reference is not a reply.
        ({"type": 6, "message_reference": REFERENCE, "referenced_message": None}, []),
    ],
)
def test_a_reply_whose_original_is_null_names_a_deleted_message(fields, deleted):
    rows = shape_messages("acme", 900, [message(**fields)], Anonymizer("test-anonymization-key-0123456789"))
    assert rows.deleted_referenced_ids == deleted
    assert rows.messages[0][1] == int(MESSAGE_ID)
