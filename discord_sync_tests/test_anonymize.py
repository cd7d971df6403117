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
