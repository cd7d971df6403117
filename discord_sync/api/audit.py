"""Recording API calls: every state-changing call and every refused key in `api_audit_log`, every call in the
request metrics.

The route is the template (`POST /api/tenants/{tenant_id}/sync`), found also for calls refused before routing.
The key check, the tenant named in a body and the runs queued or canceled are left on `request.state` by the
middleware and the routes. What the caller sent is cleaned and capped by the store before it is written.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import Request
from fastapi.routing import APIRoute
from starlette.routing import Match

from discord_sync.store.api_keys import KeyCheck
from discord_sync.store.audit import record_call

log = logging.getLogger("discord_sync.api")

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def route_of(request: Request) -> tuple[APIRoute | None, dict[str, str]]:
    """The route a request addressed and its path parameters, also for one refused before routing (413, 415)."""
    route = request.scope.get("route")
    if route is not None:
        return route, request.path_params
    for candidate in request.app.state.routes:
        match, child = candidate.matches(request.scope)
        if match is Match.FULL and isinstance(candidate, APIRoute):
            return candidate, child.get("path_params", {})
    return None, {}


def client_address(request: Request) -> str:
    """The caller's address: the connection's peer, or what a trusted proxy said (`API_TRUSTED_PROXIES`)."""
    return request.client.host if request.client else "unknown"


def _tenant_named(request: Request, path_params: dict[str, str]) -> str | None:
    return path_params.get("tenant_id") or getattr(request.state, "audit_tenant_id", None)


def record_refused_key(conn: sa.Connection, request: Request, check: KeyCheck, status_code: int) -> None:
    """Append a call refused for its key (any method): the key id it named and how the key fared, never the key."""
    route, path_params = route_of(request)
    record_call(
        conn,
        key_id=check.key_id,
        tenant_id=_tenant_named(request, path_params),
        action=f"{request.method} {route.path if route is not None else 'unmatched'}",
        status_code=status_code,
        key_status=check.status,
        client=client_address(request),
    )


def audit_call(engine: sa.Engine, request: Request, status_code: int) -> None:
    """Append a state-changing call to the audit log (blocking SQL: call it from a worker thread)."""
    if request.method not in STATE_CHANGING:
        return
    route, path_params = route_of(request)
    if route is None:
        return  # no such address: nothing could change
    check: KeyCheck | None = getattr(request.state, "key_check", None)
    try:
        with engine.begin() as conn:
            record_call(
                conn,
                key_id=check.key_id if check is not None else None,
                tenant_id=_tenant_named(request, path_params),
                action=f"{request.method} {route.path}",
                status_code=status_code,
                run_id=getattr(request.state, "audit_run_id", None),
                key_status=check.status if check is not None else None,
                client=client_address(request),
            )
    except sa.exc.SQLAlchemyError as error:
        log.error("could not write the audit log for %s %s: %s", request.method, route.path, type(error).__name__)


def route_label(request: Request) -> str:
    """The route template for the request metrics (`unmatched` for addresses the API does not have)."""
    route, _ = route_of(request)
    return route.path if route is not None else "unmatched"
