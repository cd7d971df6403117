"""`/_control` routes for guild- and channel-level change: roles, the bot's roles, permission overwrites, thread
archive/unarchive/lock, tags, renames and moves, and the bot's permissions per channel as ground truth.

Kept apart from the message-level control routes (`control_routes.py`) so that each group grows on its own.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import payloads
from .channel import BOT_USER_ID, MANAGE_THREADS, READ_MESSAGE_HISTORY, VIEW_CHANNEL, Channel
from .control_routes import PREFIX, _channel, _guild
from .guild import Guild
from .responses import json_response

CHANNEL_FIELDS = ("name", "topic", "position")


def _overwrite(raw: dict[str, Any]) -> dict[str, int]:
    return {"id": int(raw["id"]), "type": int(raw["type"]), "allow": int(raw["allow"]), "deny": int(raw["deny"])}


async def update_channel(request: web.Request) -> web.Response:
    """PATCH /channels/{channel_id}: name, topic, position, parent_id (a move), and for threads archived, locked
    and applied_tags; answers the channel's new payload."""
    guild, channel = _channel(request)
    body: dict[str, Any] = await request.json()
    for name in CHANNEL_FIELDS:
        if name in body:
            setattr(channel, name, body[name])
    if "parent_id" in body:
        channel.parent_id = int(body["parent_id"]) if body["parent_id"] else None
    if "applied_tags" in body:
        channel.applied_tags = tuple(sorted(int(t) for t in body["applied_tags"]))
    if "archived" in body or "locked" in body:
        if not channel.is_thread:
            raise web.HTTPBadRequest(text="only threads are archived or locked")
        locked = bool(body["locked"]) if "locked" in body else None
        guild.archive_thread(channel, bool(body.get("archived", channel.archived)), locked)
    return json_response(payloads.channel(guild, channel))


async def set_overwrites(request: web.Request) -> web.Response:
    """PUT /channels/{channel_id}/overwrites: replace the channel's permission overwrites."""
    guild, channel = _channel(request)
    channel.overwrites = [_overwrite(o) for o in await request.json()]
    return json_response(payloads.channel(guild, channel))


async def set_bot_access(request: web.Request) -> web.Response:
    """POST /channels/{channel_id}/bot_access {view, read_history}: a member overwrite for the bot that denies what
    is false (and drops the overwrite when both are true): a channel becoming hidden, or readable again."""
    guild, channel = _channel(request)
    body = await request.json()
    deny = (0 if body.get("view", True) else VIEW_CHANNEL) | (
        0 if body.get("read_history", True) else READ_MESSAGE_HISTORY
    )
    others = [o for o in channel.overwrites if (o["type"], o["id"]) != (1, BOT_USER_ID)]
    channel.overwrites = others + ([{"id": BOT_USER_ID, "type": 1, "allow": 0, "deny": deny}] if deny else [])
    return json_response(payloads.channel(guild, channel))


async def set_role(request: web.Request) -> web.Response:
    """PUT /guilds/{guild_id}/roles/{role_id} {permissions}: create or change a role."""
    guild = _guild(request)
    body = await request.json()
    guild.role_permissions[int(request.match_info["role_id"])] = int(body["permissions"])
    return json_response({"roles": {str(r): str(p) for r, p in guild.role_permissions.items()}})


async def set_bot_roles(request: web.Request) -> web.Response:
    """PUT /guilds/{guild_id}/bot_roles {role_ids}: the roles the bot member holds (each must exist)."""
    guild = _guild(request)
    role_ids = [int(r) for r in (await request.json())["role_ids"]]
    unknown = [r for r in role_ids if r not in guild.role_permissions]
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown roles {unknown}")
    guild.bot_role_ids = role_ids
    return json_response(payloads.bot_member(guild))


async def set_bot_manage_threads(request: web.Request) -> web.Response:
    """POST /guilds/{guild_id}/bot_manage_threads {enabled}: grant or take Manage Threads on the bot's own role."""
    guild = _guild(request)
    enabled = bool((await request.json())["enabled"])
    permissions = guild.role_permissions[guild.bot_role_id]
    guild.role_permissions[guild.bot_role_id] = (
        permissions | MANAGE_THREADS if enabled else permissions & ~MANAGE_THREADS
    )
    return json_response({"manage_threads": enabled})


async def bot_permissions(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/bot_permissions: per channel and thread, the bot's permission bits, whether it may
    view it and whether it may read its messages (ground truth for permission tests)."""
    guild = _guild(request)
    return json_response({str(c.id): _access(guild, c) for c in guild.channels.values()})


def _access(guild: Guild, channel: Channel) -> dict[str, Any]:
    return {
        "permissions": str(guild.bot_permissions(channel)),
        "visible": guild.visible(channel),
        "readable": guild.readable(channel),
    }


def add_guild_control_routes(app: web.Application) -> None:
    """Register the guild- and channel-level control routes under `/_control`."""
    r = app.router
    r.add_patch(PREFIX + "/channels/{channel_id}", update_channel)
    r.add_put(PREFIX + "/channels/{channel_id}/overwrites", set_overwrites)
    r.add_post(PREFIX + "/channels/{channel_id}/bot_access", set_bot_access)
    r.add_put(PREFIX + "/guilds/{guild_id}/roles/{role_id}", set_role)
    r.add_put(PREFIX + "/guilds/{guild_id}/bot_roles", set_bot_roles)
    r.add_post(PREFIX + "/guilds/{guild_id}/bot_manage_threads", set_bot_manage_threads)
    r.add_get(PREFIX + "/guilds/{guild_id}/bot_permissions", bot_permissions)
