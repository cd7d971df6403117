"""The API's app factory: its routes, the one error shape, the key check, request-body rules, the audit log and
request metrics.

`create_app(settings)` is what `discord-sync api` serves with uvicorn (`server.serve`); tests serve it the same way
on a free port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from discord_sync.api import admin_routes, health_routes, metrics, sync_routes, tenant_routes
from discord_sync.api.audit import audit_call, route_label, route_of
from discord_sync.api.auth import check_caller, needs_key
from discord_sync.api.bad_keys import refuse_key
from discord_sync.api.errors import NO_STORE, install_error_handlers
from discord_sync.api.request_bodies import BodyLimit, body_refusal
from discord_sync.control.runs import RunControl
from discord_sync.settings import Settings
from discord_sync.store.database import resolve_database_url, shared_engine

ROUTE_MODULES = (tenant_routes, sync_routes, admin_routes, health_routes, metrics)


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
        # Starlette's redirect of `/path/` to `/path` builds its Location from the Host header: an attacker's host.
        redirect_slashes=False,
    )
    app.state.engine = engine
    app.state.run_control = RunControl(settings)
    app.state.metrics = metrics.ApiMetrics(engine)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    routers = [module.router for module in ROUTE_MODULES]
    for router in routers:
        app.include_router(router)
    app.state.routes = [route for router in routers for route in router.routes]

    @app.middleware("http")
    async def guard_and_record(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Check the key before reading anything else; refuse oversized and non-JSON bodies; audit state-changing
        calls and refused keys; count every call; mark every answer `no-store`."""
        response = None
        route, _ = route_of(request)
        if isinstance(route, APIRoute) and needs_key(route):
            # The SQL blocks: it runs in a worker thread, like the routes' own work.
            check = await run_in_threadpool(check_caller, engine, request)
            if check.key is None:
                response = await run_in_threadpool(refuse_key, engine, request, check, settings)
        if response is None:
            response = body_refusal(request, settings.api_max_body_bytes)
            if response is None:
                try:
                    response = await call_next(request)
                except Exception:
                    await run_in_threadpool(audit_call, engine, request, 500)
                    raise
            await run_in_threadpool(audit_call, engine, request, response.status_code)
        app.state.metrics.requests.labels(request.method, route_label(request), str(response.status_code)).inc()
        for name, value in NO_STORE.items():
            response.headers[name] = value
        return response

    return app
