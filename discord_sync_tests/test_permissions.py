"""Discord's permission algorithm, case by case (docs: Permissions, "Permission Overwrites")."""

from __future__ import annotations

import pytest

from discord_sync.source.discord.permissions import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    MANAGE_THREADS,
    READ_MESSAGE_HISTORY,
    VIEW_CHANNEL,
    BotMember,
    can_list_private_archived,
    channel_permissions,
    unreadable_reason,
)

pytestmark = pytest.mark.unit

GUILD, BOT, OWNER, MODS, BOTS = 100, 200, 300, 401, 402
SEND_MESSAGES = 1 << 11
READ = VIEW_CHANNEL | READ_MESSAGE_HISTORY


def member(everyone: int = READ, roles: dict[int, int] | None = None, owner: int = OWNER) -> BotMember:
    roles = roles if roles is not None else {BOTS: 0}
    return BotMember(
        user_id=BOT,
        guild_id=GUILD,
        owner_id=owner,
        role_ids=frozenset(roles),
        role_permissions={GUILD: everyone, **roles},
    )


def role(target: int, allow: int = 0, deny: int = 0) -> dict:
    return {"id": str(target), "type": 0, "allow": str(allow), "deny": str(deny)}


def own(allow: int = 0, deny: int = 0) -> dict:
    return {"id": str(BOT), "type": 1, "allow": str(allow), "deny": str(deny)}


@pytest.mark.parametrize(
    ("bot", "overwrites", "expected"),
    [
        pytest.param(member(), [], READ, id="everyone_role_is_the_base"),
        pytest.param(member(everyone=0, roles={BOTS: READ}), [], READ, id="member_roles_add_to_everyone"),
        pytest.param(member(everyone=0, roles={BOTS: ADMINISTRATOR}), [own(deny=READ)], ALL_PERMISSIONS, id="admin"),
        pytest.param(member(everyone=0, roles={}, owner=BOT), [role(GUILD, deny=READ)], ALL_PERMISSIONS, id="owner"),
        pytest.param(member(), [role(GUILD, deny=VIEW_CHANNEL)], 0, id="everyone_overwrite_hides"),
        pytest.param(
            member(roles={BOTS: 0}),
            [role(GUILD, deny=VIEW_CHANNEL), role(BOTS, allow=VIEW_CHANNEL)],
            READ,
            id="role_allow_beats_everyone_deny",
        ),
        pytest.param(
            member(roles={BOTS: 0, MODS: 0}),
            [role(BOTS, allow=READ_MESSAGE_HISTORY), role(MODS, deny=READ_MESSAGE_HISTORY)],
            READ,
            id="role_overwrites_deny_then_allow_together",
        ),
        pytest.param(
            member(roles={BOTS: 0}),
            [role(BOTS, allow=VIEW_CHANNEL), own(deny=VIEW_CHANNEL)],
            0,
            id="member_overwrite_is_last",
        ),
        pytest.param(
            member(roles={BOTS: 0}),
            [role(GUILD, deny=VIEW_CHANNEL), role(BOTS, deny=VIEW_CHANNEL), own(allow=VIEW_CHANNEL)],
            READ,
            id="member_allow_beats_role_deny",
        ),
        pytest.param(
            member(roles={BOTS: 0}), [role(MODS, deny=VIEW_CHANNEL)], READ, id="overwrite_for_a_role_not_held_ignored"
        ),
        pytest.param(member(everyone=VIEW_CHANNEL), [], VIEW_CHANNEL, id="view_without_history"),
        pytest.param(
            member(everyone=VIEW_CHANNEL | SEND_MESSAGES),
            [own(deny=VIEW_CHANNEL, allow=READ_MESSAGE_HISTORY)],
            0,
            id="without_view_channel_nothing_counts",
        ),
    ],
)
def test_channel_permissions_follow_discords_hierarchy(bot: BotMember, overwrites: list[dict], expected: int) -> None:
    assert channel_permissions(bot, overwrites) == expected


@pytest.mark.parametrize(
    ("permissions", "reason"),
    [
        (READ, None),
        (0, "missing View Channel"),
        (VIEW_CHANNEL, "missing Read Message History"),
        (ALL_PERMISSIONS, None),
    ],
)
def test_unreadable_reason_names_the_missing_permission(permissions: int, reason: str | None) -> None:
    assert unreadable_reason(permissions) == reason


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [(READ, False), (READ | MANAGE_THREADS, True), (VIEW_CHANNEL | MANAGE_THREADS, False)],
)
def test_private_archived_listing_needs_manage_threads_and_history(permissions: int, allowed: bool) -> None:
    assert can_list_private_archived(permissions) is allowed


def test_bot_member_is_read_from_the_guild_and_member_payloads() -> None:
    guild = {
        "id": str(GUILD),
        "owner_id": str(OWNER),
        "roles": [{"id": str(GUILD), "permissions": str(READ)}, {"id": str(BOTS), "permissions": str(MANAGE_THREADS)}],
    }
    bot = BotMember.from_payloads(guild, {"roles": [str(BOTS)]}, BOT)
    assert channel_permissions(bot, []) == READ | MANAGE_THREADS
