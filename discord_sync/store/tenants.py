"""Tenants: the communities this deployment keeps a copy of, one row in `tenants` each.

A tenant's id is an operator-chosen slug that doubles as its Dagster partition key, so it is checked against
`[a-z0-9][a-z0-9_-]{0,62}` here (Dagster does not validate dynamic partition keys) and by the table itself.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from discord_sync.store.schema import TENANT_ID_PATTERN, tenants


class TenantError(ValueError):
    """A tenant command was refused; the message says why in plain words."""


@dataclass(frozen=True)
class Tenant:
    """One community: its slug, display name, platform and the platform's id for it (the guild id)."""

    id: str
    name: str
    platform: str
    guild_id: int
    created_at: datetime | None = None
    # Opted into who reacted (`message_reactors`).
    who_reacted: bool = False


SLUG_RULE = (
    "use 1-63 characters from a-z, 0-9, '_' and '-', starting with a letter or digit (it becomes the Dagster "
    "partition key)"
)
SNOWFLAKE_RULE = "expected ASCII digits such as 81384788765712384"
NAME_RULE = "a name may not hold control characters or invisible format characters (such as U+200B or U+202E)"
# Control (Cc), format (Cf: zero-width and bidirectional marks), surrogate (Cs) and line/paragraph separators: they
# hide or reorder what an operator reads, or cannot be stored.
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")


def validate_tenant_id(tenant_id: str) -> str:
    """Return the slug if valid, else raise a `TenantError` that says what a valid slug looks like."""
    if not re.fullmatch(TENANT_ID_PATTERN, tenant_id or ""):
        raise TenantError(f"tenant id {tenant_id!r} is not a valid slug: {SLUG_RULE}")
    return tenant_id


def is_snowflake_text(text: str) -> bool:
    """ASCII digits only: `int()` and `str.isdigit()` also take other scripts' digits, `_` and spaces."""
    return text.isascii() and text.isdigit()


def validate_guild_id(guild_id: str | int) -> int:
    """A Discord guild id is a positive snowflake (ASCII digits only)."""
    text = str(guild_id).strip()
    if not is_snowflake_text(text) or not 0 < int(text) < 2**63:
        raise TenantError(f"guild id {guild_id!r} is not a Discord snowflake: {SNOWFLAKE_RULE}")
    return int(text)


def validate_tenant_name(name: str) -> str:
    """Return the display name if it holds no hidden characters, else raise a `TenantError` naming the rule."""
    if any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in name):
        raise TenantError(NAME_RULE)
    return name


def add_tenant(conn: sa.Connection, tenant_id: str, guild_id: str | int, name: str | None = None) -> Tenant:
    """Insert a tenant; refuse a bad slug, a bad guild id or a duplicate with a clear message."""
    tenant = Tenant(
        id=validate_tenant_id(tenant_id),
        name=validate_tenant_name(name) if name else tenant_id,
        platform="discord",
        guild_id=validate_guild_id(guild_id),
    )
    existing = conn.execute(
        sa.select(tenants.c.id).where(
            sa.or_(
                tenants.c.id == tenant.id,
                sa.and_(tenants.c.platform == tenant.platform, tenants.c.guild_id == tenant.guild_id),
            )
        )
    ).scalar()
    if existing is not None:
        raise TenantError(f"tenant {existing!r} already exists for that id or guild")
    conn.execute(
        tenants.insert().values(id=tenant.id, name=tenant.name, platform=tenant.platform, guild_id=tenant.guild_id)
    )
    return tenant


def list_tenants(conn: sa.Connection) -> list[Tenant]:
    """Every tenant, by id."""
    rows = conn.execute(sa.select(tenants).order_by(tenants.c.id)).mappings()
    return [Tenant(**row) for row in rows]


def get_tenant(conn: sa.Connection, tenant_id: str) -> Tenant:
    """One tenant, or a `TenantError` naming the unknown id."""
    row = conn.execute(sa.select(tenants).where(tenants.c.id == tenant_id)).mappings().first()
    if row is None:
        raise TenantError(f"no tenant {tenant_id!r}; `discord-sync tenant list` shows the tenants")
    return Tenant(**row)


def remove_tenant(conn: sa.Connection, tenant_id: str) -> None:
    """Delete a tenant and every row of its data (foreign keys, and a trigger on `tenants` for messages and their children)."""
    get_tenant(conn, tenant_id)
    conn.execute(tenants.delete().where(tenants.c.id == tenant_id))
