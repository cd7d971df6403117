"""The API's app factory: routes, the one error shape, body limits, the audit log and request metrics.

`create_app(settings)` is what `discord-sync api` serves with uvicorn; tests serve it the same way on a free port.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from email.message import Message

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match

from discord_sync.api import admin_routes, health_routes, metrics, sync_routes, tenant_routes
from discord_sync.api.body_limit import BodyLimit
from discord_sync.api.errors import error_response, install_error_handlers
from discord_sync.settings import Settings
from discord_sync.store.audit import record_call
from discord_sync.store.database import resolve_database_url, shared_engine

log = logging.getLogger("discord_sync.api")

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length.strip() not in ("", "0")) or "transfer-encoding" in request.headers


def _declared_length(request: Request) -> int:
    length = request.headers.get("content-length", "").strip()
    return int(length) if length.isdigit() else 0


def _route_of(request: Request) -> tuple[APIRoute | None, dict[str, str]]:
    """The route a request addressed and its path parameters, also for one refused before routing (413, 415)."""
    route = request.scope.get("route")
    if route is not None:
        return route, request.path_params
    for candidate in request.app.state.routes:
        match, child = candidate.matches(request.scope)
        if match is Match.FULL and isinstance(candidate, APIRoute):
            return candidate, child.get("path_params", {})
    return None, {}


def _audit(engine: sa.Engine, request: Request, status_code: int) -> None:
    route, path_params = _route_of(request)
    if route is None:
        return  # no such address: nothing could change
    try:
        with engine.begin() as conn:
            record_call(
                conn,
                key_id=getattr(request.state, "key_id", None),
                tenant_id=path_params.get("tenant_id") or getattr(request.state, "audit_tenant_id", None),
                action=f"{request.method} {route.path}",
                status_code=status_code,
                run_id=getattr(request.state, "audit_run_id", None),
            )
    except sa.exc.SQLAlchemyError as error:
        log.error("could not write the audit log for %s %s: %s", request.method, route.path, type(error).__name__)


def create_app(settings: Settings | None = None, *, engine: sa.Engine | None = None) -> FastAPI:
    """The API on the deployment's database (its own engine unless one is given)."""
    settings = settings or Settings.from_env()
    engine = engine or shared_engine(resolve_database_url(settings))
    app = FastAPI(
        title="discord-sync API",
        version="1",
        description="Tenants, their syncs with live progress and history, the run queue, health and metrics. "
        "Send `Authorization: Bearer <key>`; keys come from `discord-sync api-key create`.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.metrics = metrics.ApiMetrics(engine)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    routers = [module.router for module in (tenant_routes, sync_routes, admin_routes, health_routes, metrics)]
    for router in routers:
        app.include_router(router)
    app.state.routes = [route for router in routers for route in router.routes]

    @app.middleware("http")
    async def guard_and_record(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Refuse non-JSON bodies; record state-changing calls in the audit log and every call in the metrics."""
        if _declared_length(request) > settings.api_max_body_bytes:
            # Refused before reading a byte; FastAPI's own limit still measures chunked bodies as they arrive.
            response: Response = error_response(
                413, "body_too_large", f"the request body is larger than {settings.api_max_body_bytes} bytes"
            )
        elif (
            request.method in STATE_CHANGING
            and _has_body(request)
            and not _is_json(request.headers.get("content-type"))
        ):
            response = error_response(
                415, "unsupported_media_type", "send the body as JSON with `Content-Type: application/json`"
            )
        else:
            try:
                response = await call_next(request)
            except Exception:
                if request.method in STATE_CHANGING:
                    await _run_sync(_audit, engine, request, 500)
                raise
        route, _ = _route_of(request)
        app.state.metrics.requests.labels(
            request.method, route.path if route is not None else "unmatched", str(response.status_code)
        ).inc()
        if request.method in STATE_CHANGING:
            await _run_sync(_audit, engine, request, response.status_code)
        return response

    return app


async def _run_sync(function: Callable[..., None], *args: object) -> None:
    # The audit write is blocking SQL: off the event loop, like the routes' own work.
    await run_in_threadpool(function, *args)
