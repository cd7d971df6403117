"""Who is calling: the bearer key, checked against its stored hash; what it may touch.

The key is checked by the app's middleware (`check_caller`) before anything of the request is read, for every
route that needs one (`needs_key`); the dependencies below take the result from the request. No or unknown key:
401 with `WWW-Authenticate`. A tenant key on an admin route: 403. A tenant key on another tenant's id answers
exactly as an unknown tenant does (404), so a key cannot learn which tenants exist.
"""

from __future__ import annotations

import re
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from discord_sync.api.errors import ApiError
from discord_sync.store.api_keys import ApiKey, KeyCheck, check_key
from discord_sync.store.schema import TENANT_ID_PATTERN
from discord_sync.store.tenants import Tenant, TenantError, get_tenant

bearer = HTTPBearer(auto_error=False, description="an API key from `discord-sync api-key create`")


def database(request: Request) -> sa.Engine:
    """The engine on the product's database, made once by the app."""
    return request.app.state.engine


# Answered with every 401 (RFC 6750): the scheme, and `invalid_token` when a key was sent but refused.
CHALLENGE = 'Bearer realm="discord-sync"'


def challenge(check: KeyCheck) -> str:
    """The `WWW-Authenticate` value for a refused key."""
    return CHALLENGE if check.status == "missing" else f'{CHALLENGE}, error="invalid_token"'


def presented_key(request: Request) -> str | None:
    """The credentials of an `Authorization: Bearer` header; "" for another scheme; None without the header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def check_caller(engine: sa.Engine, request: Request) -> KeyCheck:
    """Check the request's key (blocking SQL: call it from a worker thread); the result stays on the request."""
    presented = presented_key(request)
    if presented is None:
        check = KeyCheck("missing")
    else:
        with engine.begin() as conn:
            check = check_key(conn, presented) if presented else KeyCheck("malformed")
    request.state.key_check = check
    return check


def needs_key(route: APIRoute) -> bool:
    """Whether a route takes a key (it depends on `api_key`, directly or through another dependency)."""

    def depends_on_key(dependant: Dependant) -> bool:
        return any(sub.call is api_key or depends_on_key(sub) for sub in dependant.dependencies)

    return depends_on_key(route.dependant)


def api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """The caller's live key, as the middleware checked it before the body was read; else 401."""
    # `credentials` is here for the OpenAPI document (the bearer scheme); the middleware parsed the header.
    check: KeyCheck = getattr(request.state, "key_check", KeyCheck("missing"))
    if check.key is None:
        raise ApiError(
            401, "unauthorized", "the API key is unknown or revoked", headers={"WWW-Authenticate": challenge(check)}
        )
    return check.key


def admin_key(key: Annotated[ApiKey, Depends(api_key)]) -> ApiKey:
    """An admin key, or 403."""
    if not key.is_admin:
        raise ApiError(
            403, "forbidden", "this route needs an admin key; a tenant key may only read and sync its own tenant"
        )
    return key


def no_such_tenant() -> ApiError:
    """The one answer for an unknown tenant and for another tenant's: nothing tells them apart."""
    return ApiError(404, "not_found", "no such tenant (or not one this key may see)")


def visible_tenant(
    tenant_id: Annotated[str, Path(description="the tenant's slug")],
    key: Annotated[ApiKey, Depends(api_key)],
    engine: Annotated[sa.Engine, Depends(database)],
) -> Tenant:
    """The tenant named in the path if this key may see it, else 404 (the same answer as for an unknown id)."""
    if not re.fullmatch(TENANT_ID_PATTERN, tenant_id) or (not key.is_admin and key.tenant_id != tenant_id):
        raise no_such_tenant()
    try:
        with engine.connect() as conn:
            return get_tenant(conn, tenant_id)
    except TenantError:
        raise no_such_tenant() from None


def admin_tenant(
    _: Annotated[ApiKey, Depends(admin_key)], tenant: Annotated[Tenant, Depends(visible_tenant)]
) -> Tenant:
    """A tenant on an admin route: 403 for a tenant key (whatever the id), else the tenant or 404."""
    return tenant
