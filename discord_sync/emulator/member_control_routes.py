"""`/_control` routes for members and reactors: joins, leaves, a member's roles, the application's Server Members
intent, and ground truth (the members listed now, who left, who reacted with what)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import members
from .control_routes import PREFIX, _channel, _guild, _state
from .responses import json_response


async def join_members(request: web.Request) -> web.Response:
    """POST /guilds/{guild_id}/members {count}: new members join now; answers their user ids."""
    count = int((await request.json()).get("count", 1))
    return json_response({"user_ids": [str(u) for u in members.join(_guild(request), count)]})


async def remove_member(request: web.Request) -> web.Response:
    """DELETE /guilds/{guild_id}/members/{user_id}: the member leaves."""
    if not members.leave(_guild(request), int(request.match_info["user_id"])):
        raise web.HTTPNotFound(text="not a member")
    return json_response({"left": True})


async def set_member_roles(request: web.Request) -> web.Response:
    """PUT /guilds/{guild_id}/members/{user_id}/roles {role_ids}: the member's roles, exactly."""
    role_ids = [int(r) for r in (await request.json())["role_ids"]]
    try:
        membership = members.set_roles(_guild(request), int(request.match_info["user_id"]), role_ids)
    except KeyError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    return json_response({"role_ids": [str(r) for r in membership.role_ids]})


async def member_truth(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/members: every current member (user id, joined, roles, bot, pending, boosting) and
    the user ids of those who left."""
    guild = _guild(request)
    roster = members.roster(guild)
    listed: list[dict[str, Any]] = [
        {
            "user_id": str(m.user_id),
            "joined_ms": m.joined_ms,
            "role_ids": [str(r) for r in m.role_ids],
            "bot": m.user_id in guild.users and guild.users[m.user_id].bot or m.user_id not in guild.users,
            "pending": m.pending,
            "premium_since_ms": m.premium_since_ms,
        }
        for m in roster.members.values()
    ]
    return json_response({"members": listed, "left": [str(u) for u in sorted(roster.left)]})


async def set_application_intent(request: web.Request) -> web.Response:
    """POST /application {members_intent: on|limited|off}: whether the application has the Server Members intent."""
    value = str((await request.json())["members_intent"])
    if value not in members.INTENT_FLAGS:
        raise web.HTTPBadRequest(text=f"members_intent must be one of {sorted(members.INTENT_FLAGS)}")
    _state(request).members_intent = value
    return json_response({"members_intent": value, "flags": members.INTENT_FLAGS[value]})


async def reactor_truth(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/messages/{message_id}/reactors: per emoji (as named in URLs), the user ids of its
    normal and burst reactors."""
    guild, channel = _channel(request)
    record = guild.message(channel, int(request.match_info["message_id"]))
    if record is None:
        raise web.HTTPNotFound(text="unknown message")
    truth = {}
    for reaction in record.reactions:
        normal, burst = members.reactors(guild, record, reaction)
        truth[members.emoji_key(reaction)] = {"normal": [str(u) for u in normal], "burst": [str(u) for u in burst]}
    return json_response(truth)


def add_member_control_routes(app: web.Application) -> None:
    """Register the member and reactor control routes under `/_control`."""
    r = app.router
    r.add_post(PREFIX + "/guilds/{guild_id}/members", join_members)
    r.add_get(PREFIX + "/guilds/{guild_id}/members", member_truth)
    r.add_delete(PREFIX + "/guilds/{guild_id}/members/{user_id}", remove_member)
    r.add_put(PREFIX + "/guilds/{guild_id}/members/{user_id}/roles", set_member_roles)
    r.add_post(PREFIX + "/application", set_application_intent)
    r.add_get(PREFIX + "/channels/{channel_id}/messages/{message_id}/reactors", reactor_truth)
