"""A guild's members as Discord lists them: who joined when, with which roles, who left; and who reacted.

The generated guild's people (`Guild.member_ids`) are its first members; `GuildSpec.members` adds more (a large
guild for the benchmark) and the control API adds joins and leaves. Who reacted with an emoji is derived from the
reaction's counts, so it always agrees with them: the normal reactors are `count - burst` members taken in a
fixed order from a place that depends on the message and emoji, the burst reactors the next `burst` ones.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from hashlib import blake2b

from .channel import BOT_USER_ID
from .guild import Guild
from .records import MessageRecord, Reaction, User
from .snowflakes import make_snowflake, snowflake_ms, unix_ms

# The application's flags that say it may list members (the privileged Server Members intent).
GATEWAY_GUILD_MEMBERS = 1 << 14
GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
INTENT_FLAGS = {"on": GATEWAY_GUILD_MEMBERS, "limited": GATEWAY_GUILD_MEMBERS_LIMITED, "off": 0}
_EXTRA_MEMBERS_FROM_MS = unix_ms(2021)


@dataclass
class Membership:
    """One member of the guild: the user, when they joined, their roles, screening and boosting."""

    user_id: int
    joined_ms: int
    role_ids: tuple[int, ...] = ()
    pending: bool = False
    premium_since_ms: int | None = None


@dataclass
class Roster:
    """The guild's current members by user id, and the ids of those who left."""

    members: dict[int, Membership] = field(default_factory=dict)
    left: set[int] = field(default_factory=set)
    joined: int = 0


_ROSTERS: weakref.WeakKeyDictionary[Guild, Roster] = weakref.WeakKeyDictionary()


def _draw(*parts: object) -> int:
    return int.from_bytes(blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def roster(guild: Guild) -> Roster:
    """The guild's members, built on first use: its people, the bot, and `GuildSpec.members` more if asked."""
    found = _ROSTERS.get(guild)
    if found is not None:
        return found
    made = Roster()
    ordinary_roles = [r for r in guild.role_ids if r != guild.id]
    for number, user_id in enumerate(guild.member_ids):
        draw = _draw(guild.seed, user_id)
        made.members[user_id] = Membership(
            user_id=user_id,
            joined_ms=max(guild.created_ms, snowflake_ms(user_id)) + draw % 86_400_000,
            role_ids=tuple(ordinary_roles[: draw % (len(ordinary_roles) + 1)]),
            pending=number % 17 == 5,
            premium_since_ms=guild.created_ms + 86_400_000 * 30 if number % 9 == 4 else None,
        )
    made.members[BOT_USER_ID] = Membership(
        user_id=BOT_USER_ID, joined_ms=guild.created_ms + 86_400_000, role_ids=tuple(guild.bot_role_ids)
    )
    extra = max(0, (guild.spec.members or 0) - len(made.members))
    for number in range(extra):
        joined_ms = _EXTRA_MEMBERS_FROM_MS + number * 1000
        user_id = make_snowflake(joined_ms, (guild.seed * 7919 + number) % (1 << 22))
        guild.users[user_id] = User(id=user_id, username=f"joiner_{guild.seed}_{number}", global_name=None)
        made.members[user_id] = Membership(user_id=user_id, joined_ms=joined_ms)
    _ROSTERS[guild] = made
    return made


def join(guild: Guild, count: int) -> list[int]:
    """`count` new members join now; returns their user ids."""
    members = roster(guild)
    now_ms = int(time.time() * 1000)
    ids = []
    for _ in range(count):
        members.joined += 1
        user_id = make_snowflake(now_ms, (1 << 21) | ((guild.seed * 131 + members.joined) % (1 << 21)))
        guild.users[user_id] = User(id=user_id, username=f"newcomer_{members.joined}", global_name="New Person")
        members.members[user_id] = Membership(user_id=user_id, joined_ms=now_ms)
        members.left.discard(user_id)
        ids.append(user_id)
    return ids


def leave(guild: Guild, user_id: int) -> bool:
    """The member leaves (or is kicked); False when they were not a member."""
    members = roster(guild)
    if user_id not in members.members or user_id == BOT_USER_ID:
        return False
    del members.members[user_id]
    members.left.add(user_id)
    return True


def set_roles(guild: Guild, user_id: int, role_ids: list[int]) -> Membership:
    """Give a member exactly these roles (each must exist); `KeyError` for an unknown member or role."""
    membership = roster(guild).members[user_id]
    unknown = [r for r in role_ids if r not in guild.role_permissions]
    if unknown:
        raise KeyError(f"unknown roles {unknown}")
    membership.role_ids = tuple(role_ids)
    return membership


def listed(guild: Guild, after: int, limit: int) -> list[Membership]:
    """Members with user id > `after`, by user id, at most `limit`: one page of `GET /guilds/{id}/members`."""
    ids = sorted(u for u in roster(guild).members if u > after)[:limit]
    members = roster(guild).members
    return [members[u] for u in ids]


def emoji_key(reaction: Reaction) -> str:
    """How a reaction's emoji is named in a URL: the Unicode emoji itself, or `name:id` for a custom one."""
    return f"{reaction.emoji_name}:{reaction.emoji_id}" if reaction.emoji_id else reaction.emoji_name


def find_reaction(record: MessageRecord, emoji: str) -> Reaction | None:
    """The message's reaction named `emoji` in a URL (`👍`, `name:id`, or a custom emoji's bare id)."""
    for reaction in record.reactions:
        if emoji in (emoji_key(reaction), str(reaction.emoji_id), reaction.emoji_name if not reaction.emoji_id else ""):
            return reaction
    return None


def reactors(guild: Guild, record: MessageRecord, reaction: Reaction) -> tuple[list[int], list[int]]:
    """(normal reactors, burst reactors) of `reaction` on the message, by user id ascending: as many as its counts
    say (at most the guild's people)."""
    pool = guild.member_ids
    start = _draw(record.id, emoji_key(reaction)) % len(pool)
    ordered = pool[start:] + pool[:start]
    normal_count = min(len(pool), max(0, reaction.count - reaction.burst))
    burst_count = min(len(pool) - normal_count, reaction.burst)
    return sorted(ordered[:normal_count]), sorted(ordered[normal_count : normal_count + burst_count])
