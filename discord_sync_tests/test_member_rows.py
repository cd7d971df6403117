"""Members, roles and reactors as rows (no name of a person kept, ids hashed, bad payloads named), and the pure
decisions of the members and who-reacted syncs: when members are due, how many requests a reaction takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.members import MemberPayloadError, emoji_in_url, member_row, role_row
from discord_sync.store.members import MemberSyncState
from discord_sync.store.reactors import ReactionToList
from discord_sync.sync.members import member_sync_due
from discord_sync.sync.reactors import pages_needed

pytestmark = pytest.mark.unit
ANON = Anonymizer("unit-test-key-0123456789")
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
MEMBER = {
    "user": {"id": "80351110224678912", "username": "nelly", "global_name": "Nelly 🦊", "avatar": "abc", "bot": False},
    "nick": "the nick",
    "avatar": "guild-avatar",
    "roles": ["41771983423143936", "41771983423143937"],
    "joined_at": "2015-04-26T06:26:56.936000+00:00",
    "premium_since": None,
    "pending": True,
}


def test_a_member_row_holds_the_hash_and_membership_facts_and_no_name_or_raw_id():
    row = member_row("acme", MEMBER, ANON, NOW)
    assert row["member_hash"] == ANON.user_hash(80351110224678912)
    assert row["role_ids"] == [41771983423143936, 41771983423143937]
    assert (row["pending"], row["is_bot"], row["premium_since"]) == (True, False, None)
    assert row["joined_at"] == datetime(2015, 4, 26, 6, 26, 56, 936000, tzinfo=UTC)
    text = repr(row)
    for identifying in ("80351110224678912", "nelly", "Nelly", "the nick", "abc", "guild-avatar"):
        assert identifying not in text


@pytest.mark.parametrize(
    "payload",
    [{"roles": []}, {**MEMBER, "user": {"id": "x"}}, {**MEMBER, "roles": ["one"]}, {**MEMBER, "joined_at": "never"}],
)
def test_a_malformed_member_is_refused_with_an_error_that_says_so(payload):
    with pytest.raises(MemberPayloadError, match="malformed member payload"):
        member_row("acme", payload, ANON, NOW)


def test_a_role_name_is_scrubbed_and_permissions_beyond_bigint_are_refused_naming_the_role():
    role = {"id": "7", "name": "mods of <@80351110224678912>", "color": 3, "position": 2, "permissions": "8"}
    row = role_row("acme", role, ANON, NOW)
    assert row["name"] == f"mods of <@{ANON.user_hash(80351110224678912)}>"
    assert (row["permissions"], row["managed"], row["hoist"]) == (8, False, False)
    with pytest.raises(MemberPayloadError, match="role 7: permissions"):
        role_row("acme", {**role, "permissions": str(2**63)}, ANON, NOW)


def test_an_emoji_is_named_in_urls_as_discord_expects():
    assert emoji_in_url("👍", None, "👍") == "👍"
    assert emoji_in_url("123", 123, "blobwave") == "blobwave:123"
    assert emoji_in_url("123", 123, None) == "_:123"


def _state(status: str, hours_ago: float) -> MemberSyncState:
    return MemberSyncState(status, None, NOW - timedelta(hours=hours_ago), None)


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (None, True),
        (_state("synced", 23), False),
        (_state("synced", 24), True),
        (_state("no_intent", 2), False),
        (_state("no_intent", 25), True),
        (_state("failed", 0.5), False),
        (_state("failed", 1), True),
    ],
)
def test_members_are_listed_once_per_cadence_and_a_failed_listing_again_after_an_hour(state, due):
    assert member_sync_due(state, NOW, timedelta(hours=24)) is due


@pytest.mark.parametrize(("normal", "burst", "pages"), [(1, 0, 1), (99, 0, 1), (100, 0, 2), (250, 3, 4), (0, 2, 1)])
def test_a_reaction_takes_one_request_per_100_reactors_of_each_kind_and_one_to_see_a_full_pages_end(
    normal, burst, pages
):
    assert pages_needed(ReactionToList(1, 2, "👍", None, "👍", normal, burst)) == pages
