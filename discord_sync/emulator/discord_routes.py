"""Handlers for the Discord REST API v10 routes the product reads."""

from __future__ import annotations

from aiohttp import web

from . import members, payloads
from .channel import BOT_USER_ID, MANAGE_THREADS, READ_MESSAGE_HISTORY, Channel
from .guild import Guild
from .responses import ApiError, json_response, missing_access
from .snowflakes import parse_iso_ms
from .state import EmulatorState

STATE_KEY = web.AppKey("state", EmulatorState)


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def _snowflake(raw: str | None, field: str) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise ApiError(400, f'Invalid Form Body ({field}: Value "{raw}" is not snowflake.)', 50035)
    return int(raw)


def _limit(request: web.Request, default: int, low: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= 100:
        raise ApiError(400, f"Invalid Form Body (limit: must be between {low} and 100.)", 50035)
    return int(raw)


def _guild(request: web.Request) -> Guild:
    state = _state(request)
    guild = state.guilds.get(_snowflake(request.match_info["guild_id"], "guild_id") or 0)
    if guild is None:
        raise ApiError(404, "Unknown Guild", 10004)
    if guild.id in state.faults.removed_guilds:
        raise missing_access()
    return guild


def _channel(request: web.Request) -> tuple[Guild, Channel]:
    state = _state(request)
    found = state.find_channel(_snowflake(request.match_info["channel_id"], "channel_id") or 0)
    if found is None:
        raise ApiError(404, "Unknown Channel", 10003)
    guild, channel = found
    if guild.id in state.faults.removed_guilds or not guild.visible(channel):
        raise missing_access()
    return guild, channel


async def get_me(request: web.Request) -> web.Response:
    """GET /users/@me"""
    return json_response(payloads.bot_user())


async def get_application(request: web.Request) -> web.Response:
    """GET /oauth2/applications/@me"""
    return json_response(payloads.application())


async def get_my_application(request: web.Request) -> web.Response:
    """GET /applications/@me: its flags say whether it has the Server Members intent."""
    return json_response(payloads.application(members.INTENT_FLAGS[_state(request).members_intent]))


async def list_members(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/members?limit=1..1000&after=: members by user id; refused (403 Missing Access) when
    the application lacks the Server Members intent, as Discord does."""
    guild = _guild(request)
    raw = request.query.get("limit", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "Invalid Form Body (limit: must be between 1 and 1000.)", 50035)
    after = _snowflake(request.query.get("after"), "after") or 0
    if _state(request).members_intent == "off":
        raise missing_access()
    page = members.listed(guild, after, int(raw))
    return json_response(
        [payloads.member(guild, m.user_id, m.joined_ms, m.role_ids, m.pending, m.premium_since_ms) for m in page]
    )


async def list_reactors(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}?type=0|1&after=&limit=1..100: who
    reacted, by user id; `type` 1 lists the burst (super) reactions."""
    guild, channel = _channel(request)
    message_id = _snowflake(request.match_info["message_id"], "message_id") or 0
    limit = _limit(request, 25, 1)
    after = _snowflake(request.query.get("after"), "after") or 0
    kind = request.query.get("type", "0")
    if kind not in ("0", "1"):
        raise ApiError(400, "Invalid Form Body (type: Value must be one of {0, 1}.)", 50035)
    if not guild.readable(channel):
        raise missing_access()
    record = guild.message(channel, message_id)
    if record is None:
        raise ApiError(404, "Unknown Message", 10008)
    reaction = members.find_reaction(record, request.match_info["emoji"])
    if reaction is None:
        raise ApiError(404, "Unknown Emoji", 10014)
    normal, burst = members.reactors(guild, record, reaction)
    ids = [u for u in (burst if kind == "1" else normal) if u > after][:limit]
    return json_response([payloads.reactor(guild, u) for u in ids])


async def get_guild(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}?with_counts="""
    with_counts = request.query.get("with_counts", "false").lower() in ("true", "1")
    return json_response(payloads.guild(_guild(request), with_counts))


async def get_guild_channels(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/channels: every channel, threads excluded (as on Discord)."""
    guild = _guild(request)
    return json_response([payloads.channel(guild, c) for c in guild.top_level()])


async def get_active_threads(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/threads/active"""
    guild = _guild(request)
    threads = [t for t in guild.threads() if not t.archived and guild.visible(t)]
    return json_response({"threads": [payloads.channel(guild, t) for t in threads], "members": [], "has_more": False})


async def get_member(request: web.Request) -> web.Response:
    """GET /guilds/{guild_id}/members/{user_id}: the emulator knows the bot's member object (its roles)."""
    guild = _guild(request)
    if _snowflake(request.match_info["user_id"], "user_id") != BOT_USER_ID:
        raise ApiError(404, "Unknown Member", 10007)
    return json_response(payloads.bot_member(guild))


async def get_channel(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}"""
    guild, channel = _channel(request)
    return json_response(payloads.channel(guild, channel))


async def get_messages(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/messages: newest first whatever the cursor, the cursor itself excluded."""
    guild, channel = _channel(request)
    limit = _limit(request, 50, 1)
    around = _snowflake(request.query.get("around"), "around")
    before = _snowflake(request.query.get("before"), "before")
    after = _snowflake(request.query.get("after"), "after")
    # Without READ_MESSAGE_HISTORY Discord answers an empty list rather than an error.
    if not guild.readable(channel):
        return json_response([])
    if around is not None:
        older = channel.ids_before(around, limit // 2)
        newer = channel.ids_after(around - 1, limit - len(older))
        ids = list(reversed(newer)) + older
    elif before is not None:
        ids = channel.ids_before(before, limit)
    elif after is not None:
        ids = list(reversed(channel.ids_after(after, limit)))
    else:
        ids = channel.ids_before(1 << 63, limit)
    records = [r for r in (guild.message(channel, i) for i in ids) if r is not None]
    return json_response(payloads.messages(guild, records))


async def get_message(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/messages/{message_id}"""
    guild, channel = _channel(request)
    message_id = _snowflake(request.match_info["message_id"], "message_id") or 0
    if not guild.readable(channel):
        raise missing_access()
    record = guild.message(channel, message_id)
    if record is None:
        raise ApiError(404, "Unknown Message", 10008)
    return json_response(payloads.message(guild, record))


def _page(guild: Guild, threads: list[Channel], limit: int) -> web.Response:
    body = {
        "threads": [payloads.channel(guild, t) for t in threads[:limit]],
        "members": [],
        "has_more": len(threads) > limit,
    }
    return json_response(body)


def _archived(guild: Guild, channel: Channel, thread_type: int) -> list[Channel]:
    return [t for t in guild.children(channel.id) if t.type == thread_type and t.archived]


async def get_public_archived_threads(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/threads/archived/public: newest archive first, `before` is an ISO timestamp."""
    return _archived_by_time(request, 11)


async def get_private_archived_threads(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/threads/archived/private (needs MANAGE_THREADS, which some channels deny)."""
    guild, channel = _channel(request)
    if not guild.bot_permissions(channel) & MANAGE_THREADS:
        raise ApiError(403, "Missing Permissions", 50013)
    return _archived_by_time(request, 12)


def _listable(request: web.Request) -> tuple[Guild, Channel]:
    """A channel whose archived threads the bot may list: Discord requires Read Message History."""
    guild, channel = _channel(request)
    if not guild.bot_permissions(channel) & READ_MESSAGE_HISTORY:
        raise ApiError(403, "Missing Permissions", 50013)
    return guild, channel


def _archived_by_time(request: web.Request, thread_type: int) -> web.Response:
    guild, channel = _listable(request)
    limit = _limit(request, 50, 2)
    raw_before = request.query.get("before")
    try:
        before_ms = parse_iso_ms(raw_before) if raw_before else 1 << 62
    except ValueError:
        raise ApiError(400, "Invalid Form Body (before: Could not parse timestamp.)", 50035) from None
    threads = [t for t in _archived(guild, channel, thread_type) if (t.archive_ms or 0) < before_ms]
    threads.sort(key=lambda t: (t.archive_ms or 0, t.id), reverse=True)
    return _page(guild, threads, limit)


async def get_joined_private_archived_threads(request: web.Request) -> web.Response:
    """GET /channels/{channel_id}/users/@me/threads/archived/private: `before` is a thread id."""
    guild, channel = _listable(request)
    limit = _limit(request, 50, 2)
    before = _snowflake(request.query.get("before"), "before") or 1 << 63
    threads = [t for t in _archived(guild, channel, 12) if t.bot_joined and t.id < before]
    threads.sort(key=lambda t: t.id, reverse=True)
    return _page(guild, threads, limit)


def add_discord_routes(app: web.Application, prefix: str = "/api/v10") -> None:
    """Register every Discord route under `prefix`."""
    routes = [
        ("/users/@me", get_me),
        ("/oauth2/applications/@me", get_application),
        ("/applications/@me", get_my_application),
        ("/guilds/{guild_id}/members", list_members),
        ("/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", list_reactors),
        ("/guilds/{guild_id}", get_guild),
        ("/guilds/{guild_id}/channels", get_guild_channels),
        ("/guilds/{guild_id}/threads/active", get_active_threads),
        ("/guilds/{guild_id}/members/{user_id}", get_member),
        ("/channels/{channel_id}", get_channel),
        ("/channels/{channel_id}/messages", get_messages),
        ("/channels/{channel_id}/messages/{message_id}", get_message),
        ("/channels/{channel_id}/threads/archived/public", get_public_archived_threads),
        ("/channels/{channel_id}/threads/archived/private", get_private_archived_threads),
        ("/channels/{channel_id}/users/@me/threads/archived/private", get_joined_private_archived_threads),
    ]
    for path, handler in routes:
        app.router.add_get(prefix + path, handler)
