import hashlib
import re

import pytest

from discord_sync.shaping.anonymize import HASH_HEX_CHARS, Anonymizer

KEY = "test-anonymization-key-0123456789"
USER = "80351110224678912"


def test_same_user_same_hash_across_instances_and_types():
    assert Anonymizer(KEY).user_hash(USER) == Anonymizer(KEY).user_hash(int(USER))
    assert re.fullmatch(rf"[0-9a-f]{{{HASH_HEX_CHARS}}}", Anonymizer(KEY).user_hash(USER))


def test_hash_depends_on_the_key_and_is_not_a_plain_hash():
    keyed = Anonymizer(KEY).user_hash(USER)
    assert keyed != Anonymizer(KEY + "x").user_hash(USER)
    assert keyed not in hashlib.sha256(USER.encode()).hexdigest()
    assert keyed not in hashlib.md5(USER.encode()).hexdigest()


@pytest.mark.parametrize(
    "content, raw_ids_gone, kept",
    [
        (f"hi <@{USER}>", [USER], ["hi <@"]),
        (f"hi <@!{USER}>!", [USER], ["!"]),
        (f"<@{USER}><@!{USER}>", [USER], []),
        (
            "role <@&123456789012345678> and channel <#223456789012345678>",
            [],
            ["<@&123456789012345678>", "<#223456789012345678>"],
        ),
        ("no mentions at all", [], ["no mentions at all"]),
        ("", [], []),
        ("<@notanid> stays", [], ["<@notanid> stays"]),
    ],
)
def test_user_mentions_are_rewritten_to_the_author_hash(content, raw_ids_gone, kept):
    anonymizer = Anonymizer(KEY)
    scrubbed = anonymizer.scrub_mentions(content)
    for raw in raw_ids_gone:
        assert raw not in scrubbed
        assert f"<@{anonymizer.user_hash(raw)}>" in scrubbed
    for text in kept:
        assert text in scrubbed


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        Anonymizer("")


ANON = Anonymizer(KEY)
HASHED = ANON.user_hash(USER)


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"Ticket closed by <@{USER}>", f"Ticket closed by <@{HASHED}>"),
        (f"Assignee: <@!{USER}>", f"Assignee: <@{HASHED}>"),
        (f"https://discord.com/users/{USER}", f"https://discord.com/users/{HASHED}"),
        (f"see discordapp.com/users/{USER}.", f"see discordapp.com/users/{HASHED}."),
        (f"<https://ptb.discord.com/users/{USER}>", f"<https://ptb.discord.com/users/{HASHED}>"),
        (f"https://canary.discordapp.com/users/{USER}/", f"https://canary.discordapp.com/users/{HASHED}/"),
        (f"HTTPS://Discord.com/Users/{USER}", f"HTTPS://Discord.com/Users/{HASHED}"),
        (f"ask <@{USER}> or discord.com/users/{USER}", f"ask <@{HASHED}> or discord.com/users/{HASHED}"),
        # Not user ids: kept as they are.
        ("role <@&123456789012345678>", "role <@&123456789012345678>"),
        ("channel <#123456789012345678>", "channel <#123456789012345678>"),
        ("https://discord.com/channels/1/2/3", "https://discord.com/channels/1/2/3"),
        ("https://example.com/users/123456789012345678", "https://example.com/users/123456789012345678"),
        ("https://discord.com/users/@me", "https://discord.com/users/@me"),
        ("<@123456789012345678901>", "<@123456789012345678901>"),  # 21 digits: no snowflake
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_scrub_text_rewrites_mentions_and_profile_links(text, expected):
    assert ANON.scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"<@{USER}>",
        f"https://discord.com/users/{USER}",
        f"x <@!{USER}> y discordapp.com/users/{USER}",
        # A hash that happens to start with digits is not read as an id the second time.
        "https://discord.com/users/1234567890abcdef1234567890abcdef",
        "<@12345678901234567890123456789012>",
    ],
)
def test_scrubbing_is_idempotent(text):
    once = ANON.scrub_text(text)
    assert ANON.scrub_text(once) == once


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        (7, 7),
        (True, True),
        ([f"<@{USER}>", 1, None], [f"<@{HASHED}>", 1, None]),
        (("a", f"<@{USER}>"), ("a", f"<@{HASHED}>")),
        (
            {"title": f"by <@{USER}>", "fields": [{"name": "Assignee", "value": f"<@!{USER}>"}]},
            {"title": f"by <@{HASHED}>", "fields": [{"name": "Assignee", "value": f"<@{HASHED}>"}]},
        ),
        (
            {"footer": {"text": f"discord.com/users/{USER}"}, "later_added": {"deep": [[f"<@{USER}>"]]}},
            {"footer": {"text": f"discord.com/users/{HASHED}"}, "later_added": {"deep": [[f"<@{HASHED}>"]]}},
        ),
        ({f"<@{USER}>": "key"}, {f"<@{HASHED}>": "key"}),
    ],
)
def test_scrub_walks_every_string_of_a_json_value(value, expected):
    assert ANON.scrub(value) == expected
