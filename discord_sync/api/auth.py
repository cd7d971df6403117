"""Who is calling: the bearer key, checked against its stored hash; what it may touch.

No or unknown key: 401. A tenant key on an admin route: 403. A tenant key on another tenant's id answers exactly
as an unknown tenant does (404), so a key cannot learn which tenants exist.
"""

from __future__ import annotations

import re
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from discord_sync.api.errors import ApiError
from discord_sync.store.api_keys import ApiKey, authenticate
from discord_sync.store.schema import TENANT_ID_PATTERN
from discord_sync.store.tenants import Tenant, TenantError, get_tenant

bearer = HTTPBearer(auto_error=False, description="an API key from `discord-sync api-key create`")


def database(request: Request) -> sa.Engine:
    """The engine on the product's database, made once by the app."""
    return request.app.state.engine


def api_key(
    request: Request,
    engine: Annotated[sa.Engine, Depends(database)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """The caller's live key (its last use recorded), or 401."""
    if credentials is None:
        raise ApiError(401, "unauthorized", "an API key is required: send `Authorization: Bearer <key>`")
    with engine.begin() as conn:
        key = authenticate(conn, credentials.credentials)
    if key is None:
        raise ApiError(401, "unauthorized", "the API key is unknown or revoked")
    request.state.key_id = key.id
    return key


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
