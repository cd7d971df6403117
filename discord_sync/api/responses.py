"""The documented error responses of each route, so the OpenAPI document lists every status a route can answer."""

from __future__ import annotations

from typing import Any

from discord_sync.api.schemas import ErrorBody

_MEANINGS = {
    400: "The body could not be read (not UTF-8 text)",
    401: "No API key, or an unknown or revoked one",
    403: "A tenant key on an admin route",
    404: "No such tenant (or not one this key may see), or no such channel",
    409: "Conflicts with the current state (a duplicate tenant, a sync in progress)",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "The body or a parameter is invalid",
    429: "Too many bad API keys from this address or for this key id: retry after `Retry-After` seconds",
    503: "A dependency (the database, Dagster) does not answer",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the one error shape (a route that may answer 401 may also answer
    429: the throttle on bad keys)."""
    if 401 in statuses and 429 not in statuses:
        statuses = (*statuses, 429)
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}
