"""The bot's effective permissions in a channel, computed from roles and overwrites exactly as Discord does.

Discord's documented algorithm (Permissions, "Permission Hierarchy"): the guild owner and any holder of
ADMINISTRATOR may do everything; otherwise the base is the @everyone role's permissions OR every role of the
member; in a channel the @everyone overwrite applies first, then all the member's role overwrites together
(deny, then allow), then the member's own overwrite. Without VIEW_CHANNEL nothing else in the channel counts.
Threads take their parent's permissions. Pure: payloads in, bits and reasons out.
"""

from __future__ import annotations

from dataclasses import dataclass

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_THREADS = 1 << 34
ALL_PERMISSIONS = (1 << 64) - 1
ROLE_OVERWRITE, MEMBER_OVERWRITE = 0, 1


@dataclass(frozen=True)
class BotMember:
    """What decides the bot's permissions in a guild: its id, its roles, the guild's roles and owner."""

    user_id: int
    guild_id: int
    owner_id: int | None
    role_ids: frozenset[int]
    # Every role of the guild by id, with its permission bits (@everyone's id is the guild's).
    role_permissions: dict[int, int]

    @classmethod
    def from_payloads(cls, guild: dict, member: dict, user_id: int) -> BotMember:
        """From `GET /guilds/{id}` (its `roles`) and `GET /guilds/{id}/members/{bot_id}`."""
        return cls(
            user_id=user_id,
            guild_id=int(guild["id"]),
            owner_id=int(guild["owner_id"]) if guild.get("owner_id") else None,
            role_ids=frozenset(int(r) for r in member.get("roles") or []),
            role_permissions={int(r["id"]): int(r.get("permissions") or 0) for r in guild.get("roles") or []},
        )


def base_permissions(member: BotMember) -> int:
    """The member's guild-wide permissions: @everyone OR its roles; everything for the owner or an administrator."""
    if member.owner_id == member.user_id:
        return ALL_PERMISSIONS
    permissions = member.role_permissions.get(member.guild_id, 0)
    for role_id in member.role_ids:
        permissions |= member.role_permissions.get(role_id, 0)
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return permissions


def channel_permissions(member: BotMember, overwrites: list[dict]) -> int:
    """The member's permissions in a channel with these `permission_overwrites`."""
    permissions = base_permissions(member)
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_target = {(int(o["type"]), int(o["id"])): o for o in overwrites or []}
    everyone = by_target.get((ROLE_OVERWRITE, member.guild_id))
    if everyone is not None:
        permissions = (permissions & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role_id in member.role_ids:
        role = by_target.get((ROLE_OVERWRITE, role_id))
        if role is not None:
            allow |= int(role["allow"])
            deny |= int(role["deny"])
    permissions = (permissions & ~deny) | allow
    own = by_target.get((MEMBER_OVERWRITE, member.user_id))
    if own is not None:
        permissions = (permissions & ~int(own["deny"])) | int(own["allow"])
    if not permissions & VIEW_CHANNEL:
        # A channel the member cannot see grants nothing else.
        return 0
    return permissions


def unreadable_reason(permissions: int) -> str | None:
    """Why the bot may not read a channel's history with these permissions, or None when it may."""
    if not permissions & VIEW_CHANNEL:
        return "missing View Channel"
    if not permissions & READ_MESSAGE_HISTORY:
        return "missing Read Message History"
    return None


def can_list_private_archived(permissions: int) -> bool:
    """Whether `GET .../threads/archived/private` is allowed (else only the joined-private listing is)."""
    return bool(permissions & MANAGE_THREADS) and bool(permissions & READ_MESSAGE_HISTORY)
