"""The aiohttp application: Discord routes behind latency, faults, auth and rate limits, plus `/_control`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .control_routes import add_control_routes
from .discord_routes import STATE_KEY, add_discord_routes
from .guild_control_routes import add_guild_control_routes
from .member_control_routes import add_member_control_routes
from .message_control_routes import add_message_control_routes
from .responses import ApiError, error_response, json_response
from .state import EmulatorState

API_PREFIX = "/api/v10"
DROPPED = 499
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_of(request: web.Request) -> tuple[str, str]:
    info = request.match_info
    resource = info.route.resource
    template = resource.canonical[len(API_PREFIX) :] if resource is not None else "unknown"
    major = info.get("channel_id") or info.get("guild_id") or ""
    return template, major


@web.middleware
async def discord_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency, injected faults, auth, rate limits and accounting, in the order Discord's edge applies them."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    state: EmulatorState = request.app[STATE_KEY]
    # Requests are counted per second of arrival, as Discord's edge counts them, not of answer: a busy
    # emulator that answers a backlog at once must not look like a burst of requests.
    arrived = time.time()
    route, major = _route_of(request)
    response = await _answer(request, handler, state, route, major)
    state.stats.record(request.method, request.path, request.query_string, route, response.status, at=arrived)
    return response


async def _answer(
    request: web.Request, handler: Handler, state: EmulatorState, route: str, major: str
) -> web.StreamResponse:
    # Faults, auth and rate limits are decided on arrival, as Discord's edge does; the latency is the time the
    # answer takes, so a slow event loop cannot bunch arrivals into a false burst.
    for fault in state.faults.take(request.path):
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
        elif fault.kind == "drop_connection":
            # Aborting the socket is what a client sees when a load balancer drops it; the answer below is
            # never sent. aiohttp clients silently retry an idempotent request once, so count=1 is invisible to them.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=DROPPED)
        elif fault.kind == "server_error":
            return json_response({"message": f"{fault.status}: Server Error", "code": 0}, fault.status)
        elif fault.kind == "rate_limit":
            return _injected_429(fault.retry_after, fault.is_global)
    if request.headers.get("Authorization") != f"Bot {state.token}" or state.faults.token_revoked:
        return json_response({"message": "401: Unauthorized", "code": 0}, 401)
    verdict = state.limiter.check(state.token, route, major)
    if verdict.refusal is not None:
        return json_response(verdict.refusal, 429, verdict.headers)
    if state.latency_ms:
        await asyncio.sleep(state.latency_ms / 1000)
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(error)
    except web.HTTPNotFound:
        response = json_response({"message": "404: Not Found", "code": 0}, 404)
    except web.HTTPMethodNotAllowed:
        response = json_response({"message": "405: Method Not Allowed", "code": 0}, 405)
    response.headers.update(verdict.headers)
    return response


def _injected_429(retry_after: float, is_global: bool) -> web.Response:
    headers = {"Retry-After": str(max(1, round(retry_after))), "Via": "1.1 google"}
    headers["X-RateLimit-Scope"] = "global" if is_global else "user"
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
    return json_response(body, 429, headers)


def build_app(state: EmulatorState) -> web.Application:
    """The whole emulator as an aiohttp application."""
    app = web.Application(middlewares=[discord_middleware])
    app[STATE_KEY] = state
    add_discord_routes(app, API_PREFIX)
    add_control_routes(app)
    add_guild_control_routes(app)
    add_member_control_routes(app)
    add_message_control_routes(app)
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", _unknown_route)
    return app


async def _unknown_route(request: web.Request) -> web.Response:
    return json_response({"message": "404: Not Found", "code": 0}, 404)
