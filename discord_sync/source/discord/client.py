"""The Discord side of the sync: every HTTP call goes through discord.py's REST client from here.

REST only (no gateway): `HTTPClient.static_login` and the raw-JSON endpoints, which are faster than building
model objects. `SYNC_REQUEST_TIMEOUT` bounds each request on the wire only (connecting, then every wait for answer
bytes), given to aiohttp per request: a 429's wait (up to `SYNC_MAX_RATE_LIMIT_WAIT`), which discord.py sleeps
between its tries of one call, and the waits for a rate-limit slot are never cut by it. An aiohttp trace hook sees every request discord.py sends, retries included: before it leaves, it
waits until its route's bucket has room (`route_buckets`) and for a slot of the limiter shared through PostgreSQL;
after, it learns the route's bucket from the headers and counts statuses, 429s and invalid requests.
The token is only ever handed to discord.py; it never reaches a log line or an exception text from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import discord.http

from discord_sync.source.discord.api_base import use_api_base_url
from discord_sync.source.discord.discovery import discover_channels
from discord_sync.source.discord.retry_policy import TRANSIENT_ERRORS, is_transient, retry_delay
from discord_sync.source.discord.route_buckets import RouteBuckets
from discord_sync.source.protocol import (
    ChannelListing,
    ChannelUnavailable,
    DiscoveryMemory,
    MemberAccess,
    RateLimitTooLong,
    SourceError,
    TransientFailure,
)
from discord_sync.source.rate_limiter import PostgresRateLimiter

log = logging.getLogger("discord_sync.discord")

INVALID_STATUSES = frozenset({401, 403, 429})
UNKNOWN_MESSAGE = 10008  # Discord's JSON error code of a 404 for a deleted (or never existing) message
# The application flags that grant the privileged Server Members intent (the limited one below 100 guilds).
GATEWAY_GUILD_MEMBERS = 1 << 14
GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
NO_MEMBERS_INTENT = (
    "the bot's application lacks the Server Members intent, which listing members needs: enable it in the Discord "
    "Developer Portal (your application > Bot > Privileged Gateway Intents > Server Members Intent); members are "
    "checked again at the next member sync"
)


def wire_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for one request on the wire: `seconds` to connect and `seconds` for each wait for answer
    bytes, with no total, so nothing that happens before the request leaves (rate-limit waits) counts."""
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=seconds, sock_read=seconds)


class WireTimedHTTPClient(discord.http.HTTPClient):
    """discord.py's HTTP client with a timeout on each request it sends, rather than around a whole call.

    A timeout around the call (`asyncio.wait_for`) would also cover the 429 waits discord.py sleeps inside it, and
    turn a 30-60 s wait that `SYNC_MAX_RATE_LIMIT_WAIT` allows into a timeout retried as a transient failure.
    """

    def __init__(self, *args: Any, request_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wire_timeout = wire_timeout(request_timeout)

    async def request(self, route: discord.http.Route, **kwargs: Any) -> Any:
        """Send through discord.py (which handles 429s and retries) with the wire timeout on each try."""
        kwargs.setdefault("timeout", self._wire_timeout)
        return await super().request(route, **kwargs)


@dataclass
class RequestStats:
    """What this process asked of Discord and how Discord answered."""

    requests: int = 0
    rate_limited: int = 0
    global_rate_limited: int = 0
    invalid_requests: int = 0
    retries: int = 0
    limiter_wait_seconds: float = 0.0
    limiter_late_requeues: int = 0
    bucket_wait_seconds: float = 0.0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "discord_requests": self.requests,
            "rate_limit_hits_429": self.rate_limited,
            "global_rate_limit_hits": self.global_rate_limited,
            "invalid_requests": self.invalid_requests,
            "transient_retries": self.retries,
            "limiter_wait_seconds": round(self.limiter_wait_seconds, 2),
            "limiter_late_requeues": self.limiter_late_requeues,
            "route_bucket_wait_seconds": round(self.bucket_wait_seconds, 2),
        }


class DiscordSource:
    """A logged-in REST session with Discord for one tenant run (implements `source.protocol.CommunitySource`)."""

    def __init__(
        self,
        *,
        token: str,
        api_base_url: str,
        limiter: PostgresRateLimiter | None,
        request_timeout: float,
        max_rate_limit_wait: float,
        transient_retries: int = 4,
        debug_rate_limits: bool = False,
    ) -> None:
        self._token = token
        self._api_base_url = api_base_url.rstrip("/")
        self._limiter = limiter
        self._request_timeout = request_timeout
        self._max_rate_limit_wait = max_rate_limit_wait
        self._transient_retries = transient_retries
        self._debug = debug_rate_limits
        self.stats = RequestStats()
        self._buckets = RouteBuckets()
        self._http: discord.http.HTTPClient | None = None
        self.bot_user: dict | None = None
        # The guild payload of `describe_community`, reused by discovery (its roles) instead of asked twice.
        self._guilds: dict[int, dict] = {}

    def __repr__(self) -> str:
        return f"DiscordSource(api_base_url={self._api_base_url!r})"

    @property
    def _session(self) -> discord.http.HTTPClient:
        """discord.py's logged-in HTTP client; exists between `__aenter__` and `__aexit__`."""
        if self._http is None:
            raise RuntimeError("DiscordSource is used outside `async with`")
        return self._http

    async def __aenter__(self) -> DiscordSource:
        use_api_base_url(self._api_base_url)
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._before_request)
        trace.on_request_end.append(self._after_response)
        self._http = WireTimedHTTPClient(
            asyncio.get_running_loop(),
            request_timeout=self._request_timeout,
            http_trace=trace,
            max_ratelimit_timeout=self._max_rate_limit_wait or None,
        )
        try:
            self.bot_user = await self._call(self._session.static_login, self._token)
        except discord.LoginFailure:
            await self._http.close()
            raise SourceError(
                "Discord rejected the bot token (401 Unauthorized): check DISCORD_BOT_TOKEN; "
                "the sync stopped at once, since repeated 401s get a bot banned"
            ) from None
        except BaseException:
            await self._http.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.close()
        if self._limiter is not None:
            await self._limiter.close()

    async def _before_request(self, session: object, context: object, params: aiohttp.TraceRequestStartParams) -> None:
        route = f"{params.method} {params.url.path}"
        held = await self._buckets.reserve(route)
        try:
            if self._limiter is not None:
                waited = await self._limiter.acquire()
                self.stats.limiter_wait_seconds += waited
                self.stats.limiter_late_requeues = self._limiter.late_requeues
        except BaseException:
            self._buckets.release(route, held)
            raise
        self._buckets.sent(route, held)
        self.stats.bucket_wait_seconds = self._buckets.waited_seconds

    async def _after_response(self, session: object, context: object, params: aiohttp.TraceRequestEndParams) -> None:
        status = params.response.status
        self.stats.requests += 1
        if status in INVALID_STATUSES:
            self.stats.invalid_requests += 1
        headers = params.response.headers
        self._buckets.learn(
            f"{params.method} {params.url.path}",
            headers.get("X-RateLimit-Limit"),
            headers.get("X-RateLimit-Reset-After"),
        )
        if status == 429:
            self.stats.rate_limited += 1
            if headers.get("X-RateLimit-Global") == "true" or headers.get("X-RateLimit-Scope") == "global":
                self.stats.global_rate_limited += 1
        if self._debug:
            # One line per response with every rate-limit header an operator needs to explain a wait or a 429;
            # WARNING so it passes the run logs' level (python_logs in dagster.yaml) when DEBUG_RATE_LIMITS is on.
            log.warning(
                "rate limit: method=%s path=%s status=%s limit=%s remaining=%s reset_after=%s scope=%s "
                "retry_after=%s bucket=%s",
                params.method,
                params.url.path,
                status,
                headers.get("X-RateLimit-Limit"),
                headers.get("X-RateLimit-Remaining"),
                headers.get("X-RateLimit-Reset-After"),
                headers.get("X-RateLimit-Scope"),
                headers.get("Retry-After"),
                headers.get("X-RateLimit-Bucket"),
            )

    async def _call(self, request: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """One logical request: transient failures retried with backoff, 401 ends the tenant, 429 past the
        allowed wait ends the channel."""
        for attempt in range(self._transient_retries + 1):
            try:
                # No timeout around the call: each request on the wire has its own (`WireTimedHTTPClient`).
                return await request(*args, **kwargs)
            except discord.RateLimited as error:
                raise RateLimitTooLong(
                    f"Discord asked to wait {error.retry_after:.1f} s, longer than SYNC_MAX_RATE_LIMIT_WAIT"
                ) from None
            except discord.HTTPException as error:
                if error.status == 401:
                    raise SourceError(
                        "Discord rejected the bot token (401 Unauthorized): the token was revoked or is wrong; "
                        "check DISCORD_BOT_TOKEN"
                    ) from None
                if not is_transient(error):
                    raise
                if attempt < self._transient_retries:
                    self.stats.retries += 1
                    await asyncio.sleep(retry_delay(attempt))
                    continue
                # A 5xx after every retry fails this channel, not the whole tenant run.
                raise TransientFailure(f"Discord kept failing: {error.status} {error.text or 'Server Error'}") from None
            except TRANSIENT_ERRORS as error:
                if attempt < self._transient_retries:
                    self.stats.retries += 1
                    await asyncio.sleep(retry_delay(attempt))
                    continue
                raise TransientFailure(f"Discord kept failing: {type(error).__name__}: {error}") from None
        raise AssertionError("unreachable")

    @property
    def requests_sent(self) -> int:
        """Requests this session sent so far (retries included)."""
        return self.stats.requests

    @property
    def bot_user_id(self) -> int:
        """The bot's user id, from `GET /users/@me` at login."""
        return int((self.bot_user or {})["id"])

    async def describe_community(self, community_id: int) -> dict:
        """The guild with its counts and roles; `SourceError` if the bot cannot see it."""
        try:
            payload = await self._call(self._session.get_guild, community_id, with_counts=True)
        except (discord.Forbidden, discord.NotFound) as error:
            raise SourceError(
                f"the bot cannot see guild {community_id} ({error.status} {error.text or 'Unknown Guild'}): "
                "it was removed from the guild, or the guild id is wrong"
            ) from None
        self._guilds[community_id] = payload
        return payload

    async def guild(self, guild_id: int) -> dict:
        """The guild payload (roles included), asked once per session."""
        if guild_id not in self._guilds:
            await self.describe_community(guild_id)
        return self._guilds[guild_id]

    async def list_channels(self, community_id: int, memory: DiscoveryMemory) -> ChannelListing:
        return await discover_channels(self, community_id, memory)

    async def bot_member(self, guild_id: int) -> dict:
        """The bot's member object in the guild (its roles decide its permissions)."""
        try:
            return await self._call(self._session.get_member, guild_id, self.bot_user_id)
        except (discord.Forbidden, discord.NotFound) as error:
            raise SourceError(
                f"the bot is not a member of guild {guild_id} ({error.status} {error.text or 'Unknown Member'})"
            ) from None

    async def thread(self, channel_id: int) -> dict:
        """One channel or thread by id; `ChannelUnavailable` when refused (403) or gone (404)."""
        try:
            return await self._call(self._session.get_channel, channel_id)
        except discord.Forbidden as error:
            raise ChannelUnavailable(channel_id, 403, error.text or "Missing Access") from None
        except discord.NotFound as error:
            raise ChannelUnavailable(channel_id, 404, error.text or "Unknown Channel") from None

    async def guild_channels(self, guild_id: int) -> list[dict]:
        return await self._call(self._session.get_all_guild_channels, guild_id)

    async def active_threads(self, guild_id: int) -> list[dict]:
        payload = await self._call(self._session.get_active_threads, guild_id)
        return list(payload.get("threads") or [])

    async def archived_threads(self, channel_id: int, kind: str, before: str | None, limit: int = 100) -> dict:
        """One page of a channel's archived threads; `kind` is public, private or joined_private.
        `ChannelUnavailable` when refused (403) or the channel is gone (404)."""
        request = {
            "public": self._session.get_public_archived_threads,
            "private": self._session.get_private_archived_threads,
            "joined_private": self._session.get_joined_private_archived_threads,
        }[kind]
        try:
            return await self._call(request, channel_id, before=before, limit=limit)
        except discord.Forbidden as error:
            raise ChannelUnavailable(channel_id, 403, error.text or "Missing Permissions") from None
        except discord.NotFound as error:
            raise ChannelUnavailable(channel_id, 404, error.text or "Unknown Channel") from None

    async def fetch_messages_after(self, channel_id: int, after: int, limit: int) -> list[dict]:
        try:
            page = await self._call(self._session.logs_from, channel_id, limit, after=after)
        except discord.Forbidden as error:
            raise ChannelUnavailable(channel_id, 403, error.text or "Missing Access") from None
        except discord.NotFound as error:
            raise ChannelUnavailable(channel_id, 404, error.text or "Unknown Channel") from None
        if not isinstance(page, list):
            raise TransientFailure(f"unexpected messages payload of type {type(page).__name__}")
        # Discord answers newest first even for `after=`; the sync writes and checkpoints oldest first.
        return sorted(page, key=_message_order)

    async def message_exists(self, channel_id: int, message_id: int) -> bool:
        try:
            await self._call(self._session.get_message, channel_id, message_id)
        except discord.Forbidden as error:
            raise ChannelUnavailable(channel_id, 403, error.text or "Missing Access") from None
        except discord.NotFound as error:
            if error.code == UNKNOWN_MESSAGE:
                return False
            raise ChannelUnavailable(channel_id, 404, error.text or "Unknown Channel") from None
        return True

    async def member_access(self) -> MemberAccess:
        """Whether the application has the Server Members intent (`GET /applications/@me` flags): without it, a
        member listing is refused with 403, so none is sent."""
        application = await self._call(self._session.request, discord.http.Route("GET", "/applications/@me"))
        flags = int(application.get("flags") or 0)
        if flags & (GATEWAY_GUILD_MEMBERS | GATEWAY_GUILD_MEMBERS_LIMITED):
            return MemberAccess(listable=True)
        return MemberAccess(listable=False, reason=NO_MEMBERS_INTENT)

    async def list_members(self, community_id: int, after: int, limit: int = 1000) -> list[dict]:
        """One page of `GET /guilds/{id}/members` (user id > `after`, by id); `SourceError` if refused."""
        try:
            page = await self._call(self._session.get_members, community_id, limit, after or None)
        except (discord.Forbidden, discord.NotFound) as error:
            raise SourceError(
                f"Discord refused the member list of guild {community_id} ({error.status} {error.text or ''})"
            ) from None
        if not isinstance(page, list):
            raise TransientFailure(f"unexpected members payload of type {type(page).__name__}")
        return page

    async def list_reactors(
        self, channel_id: int, message_id: int, emoji: str, *, burst: bool, after: int, limit: int = 100
    ) -> list[dict]:
        """One page of who reacted with `emoji` (`name:id` for a custom emoji); `ChannelUnavailable` when the
        channel is refused, an empty page when the message or the emoji is gone (404)."""
        try:
            page = await self._call(
                self._session.get_reaction_users,
                channel_id,
                message_id,
                emoji,
                limit,
                after=after or None,
                type=1 if burst else 0,
            )
        except discord.Forbidden as error:
            raise ChannelUnavailable(channel_id, 403, error.text or "Missing Access") from None
        except discord.NotFound:
            return []
        if not isinstance(page, list):
            raise TransientFailure(f"unexpected reactions payload of type {type(page).__name__}")
        return page


def _message_order(message: Any) -> int:
    """Sort key by numeric id; a malformed item sorts first and is reported by the row shaping."""
    try:
        return int(message["id"])
    except (TypeError, KeyError, ValueError):
        return -1
