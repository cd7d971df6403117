"""`/_control` routes (no auth): add guilds, mutate them, read ground truth and counters, inject faults."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import payloads
from .channel import Channel
from .discord_routes import STATE_KEY
from .guild import Guild
from .responses import json_response
from .spec import GuildSpec
from .state import EmulatorState

PREFIX = "/_control"


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def _channel(request: web.Request) -> tuple[Guild, Channel]:
    found = _state(request).find_channel(int(request.match_info["channel_id"]))
    if found is None:
        raise web.HTTPNotFound(text="unknown channel")
    return found


def _guild(request: web.Request) -> Guild:
    guild = _state(request).guilds.get(int(request.match_info["guild_id"]))
    if guild is None:
        raise web.HTTPNotFound(text="unknown guild")
    return guild


async def add_guild(request: web.Request) -> web.Response:
    """POST /guilds: serve another guild generated from a GuildSpec."""
    spec = GuildSpec.from_dict(await request.json())
    guild = _state(request).add_guild(spec)
    return json_response({"guild_id": str(guild.id)})


async def list_guilds(request: web.Request) -> web.Response:
    """GET /guilds: every served guild."""
    state = _state(request)
    return json_response(
        [
            {
                "id": str(g.id),
                "name": g.name,
                "spec": g.spec.to_dict(),
                "bot_present": g.id not in state.faults.removed_guilds,
            }
            for g in state.guilds.values()
        ]
    )


async def list_channels(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/channels: every channel and thread, hidden ones included."""
    guild = _guild(request)
    return json_response([payloads.channel(guild, c) for c in guild.channels.values()])


async def add_message(request: web.Request) -> web.Response:
    """POST /channels/{channel_id}/messages: post a message now."""
    guild, channel = _channel(request)
    body: dict[str, Any] = await request.json()
    record = guild.add_message(
        channel,
        content=body.get("content", ""),
        author_id=int(body["author_id"]) if body.get("author_id") else None,
        reply_to=int(body["reply_to"]) if body.get("reply_to") else None,
        mention_ids=tuple(int(i) for i in body.get("mention_ids", ())),
    )
    return json_response(payloads.message(guild, record))


async def edit_message(request: web.Request) -> web.Response:
    """PATCH /channels/{channel_id}/messages/{message_id}: change its content."""
    guild, channel = _channel(request)
    record = guild.edit_message(channel, int(request.match_info["message_id"]), (await request.json())["content"])
    if record is None:
        raise web.HTTPNotFound(text="unknown message")
    return json_response(payloads.message(guild, record))


async def delete_message(request: web.Request) -> web.Response:
    """DELETE /channels/{channel_id}/messages/{message_id}"""
    guild, channel = _channel(request)
    if not guild.delete_message(channel, int(request.match_info["message_id"])):
        raise web.HTTPNotFound(text="unknown message")
    return json_response({"deleted": True})


async def create_thread(request: web.Request) -> web.Response:
    """POST /channels/{channel_id}/threads: an empty thread the bot has joined (a public one in a text channel
    posts its THREAD_CREATED message in the parent, as Discord does)."""
    guild, parent = _channel(request)
    body = await request.json()
    thread = guild.create_thread(
        parent, body["name"], private=bool(body.get("private")), archived=bool(body.get("archived"))
    )
    return json_response(payloads.channel(guild, thread))


async def create_channel(request: web.Request) -> web.Response:
    """POST /guilds/{guild_id}/channels: an empty channel."""
    guild = _guild(request)
    body = await request.json()
    parent_id = int(body["parent_id"]) if body.get("parent_id") else None
    channel = guild.create_channel(body["name"], int(body.get("type", 0)), parent_id=parent_id)
    return json_response(payloads.channel(guild, channel))


async def delete_channel(request: web.Request) -> web.Response:
    """DELETE /channels/{channel_id}: the channel and its threads."""
    guild, channel = _channel(request)
    guild.delete_channel(channel.id)
    return json_response({"deleted": True})


async def ground_truth(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/ground_truth[?counts=1]: readable message ids (or counts) by channel."""
    guild = _guild(request)
    if request.query.get("counts"):
        return json_response({str(cid): sum(1 for _ in ids) for cid, ids in guild.ground_truth()})
    return json_response({str(cid): [str(i) for i in ids] for cid, ids in guild.ground_truth()})


async def ground_truth_messages(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/ground_truth_messages: full payloads, oldest first."""
    guild, channel = _channel(request)
    if not guild.readable(channel):
        return json_response([])
    records = [r for r in (guild.message(channel, i) for i in channel.all_ids()) if r is not None]
    return json_response(payloads.messages(guild, records))


async def user_ids(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/user_ids: every user id that can appear in payloads."""
    return json_response(sorted(str(i) for i in _guild(request).user_ids()))


async def request_log(request: web.Request) -> web.Response:
    """GET /requests: the newest Discord API requests."""
    return json_response(list(_state(request).stats.log))


async def counters(request: web.Request) -> web.Response:
    """GET /counters"""
    return json_response(_state(request).stats.counters())


async def reset_counters(request: web.Request) -> web.Response:
    """POST /counters/reset"""
    _state(request).stats.reset()
    return json_response({"reset": True})


async def inject_fault(request: web.Request) -> web.Response:
    """POST /faults: {kind, ...options}."""
    body = await request.json()
    try:
        _state(request).faults.inject(body.pop("kind"), **body)
    except (TypeError, ValueError, KeyError) as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    return json_response({"injected": True})


async def clear_faults(request: web.Request) -> web.Response:
    """DELETE /faults"""
    _state(request).faults.clear()
    return json_response({"cleared": True})


async def update_settings(request: web.Request) -> web.Response:
    """POST /settings: latency_ms, message_bucket, global_limit, rate_limits."""
    state = _state(request)
    body = await request.json()
    if "latency_ms" in body:
        state.latency_ms = float(body["latency_ms"])
    if "message_bucket" in body:
        limit, per = body["message_bucket"]
        state.limiter.message_bucket = (int(limit), float(per))
    if "global_limit" in body:
        state.limiter.global_limit = int(body["global_limit"])
    if "rate_limits" in body:
        state.limiter.enabled = bool(body["rate_limits"])
    return json_response(_settings(state))


async def read_settings(request: web.Request) -> web.Response:
    """GET /settings"""
    return json_response(_settings(_state(request)))


def _settings(state: EmulatorState) -> dict[str, Any]:
    limiter = state.limiter
    return {
        "latency_ms": state.latency_ms,
        "message_bucket": list(limiter.message_bucket),
        "global_limit": limiter.global_limit,
        "rate_limits": limiter.enabled,
    }


def add_control_routes(app: web.Application) -> None:
    """Register the control API under `/_control`."""
    r = app.router
    r.add_post(PREFIX + "/guilds", add_guild)
    r.add_get(PREFIX + "/guilds", list_guilds)
    r.add_get(PREFIX + "/guilds/{guild_id}/channels", list_channels)
    r.add_post(PREFIX + "/guilds/{guild_id}/channels", create_channel)
    r.add_get(PREFIX + "/guilds/{guild_id}/ground_truth", ground_truth)
    r.add_get(PREFIX + "/guilds/{guild_id}/user_ids", user_ids)
    r.add_post(PREFIX + "/channels/{channel_id}/messages", add_message)
    r.add_patch(PREFIX + "/channels/{channel_id}/messages/{message_id}", edit_message)
    r.add_delete(PREFIX + "/channels/{channel_id}/messages/{message_id}", delete_message)
    r.add_get(PREFIX + "/channels/{channel_id}/ground_truth_messages", ground_truth_messages)
    r.add_post(PREFIX + "/channels/{channel_id}/threads", create_thread)
    r.add_delete(PREFIX + "/channels/{channel_id}", delete_channel)
    r.add_get(PREFIX + "/requests", request_log)
    r.add_get(PREFIX + "/counters", counters)
    r.add_post(PREFIX + "/counters/reset", reset_counters)
    r.add_post(PREFIX + "/faults", inject_fault)
    r.add_delete(PREFIX + "/faults", clear_faults)
    r.add_get(PREFIX + "/settings", read_settings)
    r.add_post(PREFIX + "/settings", update_settings)
