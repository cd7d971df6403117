"""API keys: created once, shown once, stored only as a SHA-256 hash, compared in constant time, revocable.

A key reads `dsk_<id>_<secret>`: `id` is 8 readable characters that name the key in listings, the audit log and
run tags; `secret` is 256 random bits. Only the hash of the whole key is stored, so a leaked table grants
nothing. An admin key may do everything; a tenant key only touches its own tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from discord_sync.store.schema import api_keys

KEY_PREFIX = "dsk"
LAST_USE_PRECISION = timedelta(minutes=1)
_ID_ALPHABET = string.ascii_lowercase + string.digits
_KEY_PATTERN = re.compile(r"dsk_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")


class ApiKeyError(ValueError):
    """A key command was refused; the message says why in plain words."""


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: never the key itself."""

    id: str
    tenant_id: str | None
    is_admin: bool
    name: str
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


def hash_key(key: str) -> str:
    """The stored form of a key (hex SHA-256): a 256-bit random secret needs no slow password hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(conn: sa.Connection, *, tenant_id: str | None, name: str = "") -> tuple[ApiKey, str]:
    """Store a new admin key (`tenant_id` None) or tenant key; return it with the full key, the only time it exists."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = conn.execute(
        api_keys.insert()
        .values(id=key_id, key_hash=hash_key(key), tenant_id=tenant_id, is_admin=tenant_id is None, name=name)
        .returning(*_columns())
    ).one()
    return ApiKey(**row._mapping), key


def _columns() -> list[sa.Column]:
    return [c for c in api_keys.c if c.name != "key_hash"]


def list_keys(conn: sa.Connection) -> list[ApiKey]:
    """Every key (revoked ones too), oldest first."""
    rows = conn.execute(sa.select(*_columns()).order_by(api_keys.c.created_at, api_keys.c.id)).mappings()
    return [ApiKey(**row) for row in rows]


def revoke_key(conn: sa.Connection, key_id: str) -> ApiKey:
    """Revoke a key for good; revoking it again changes nothing. Unknown ids are refused."""
    row = (
        conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id)
            .values(revoked_at=sa.func.coalesce(api_keys.c.revoked_at, sa.func.now()))
            .returning(*_columns())
        )
        .mappings()
        .first()
    )
    if row is None:
        raise ApiKeyError(f"no API key {key_id!r}; `discord-sync api-key list` shows the keys")
    return ApiKey(**row)


def key_id_of(presented: str) -> str | None:
    """The id part of a well-formed key, else None (a malformed key never reaches SQL)."""
    match = _KEY_PATTERN.fullmatch(presented)
    return match.group(1) if match else None


# How a presented key fared; the audit log records it for every refused call.
KEY_STATUSES = ("valid", "missing", "malformed", "unknown", "revoked", "wrong_secret")
# The id of a key whose secret is cut short or mangled still names the key it claims to be.
_KEY_ID_PREFIX = re.compile(r"dsk_([a-z0-9]{8})(?:_|$)")


@dataclass(frozen=True)
class KeyCheck:
    """What a presented key turned out to be: its status, the id it names (when that parses) and the live key."""

    status: str
    key_id: str | None = None
    key: ApiKey | None = None


def check_key(conn: sa.Connection, presented: str | None) -> KeyCheck:
    """Check a presented key: the live key (its last use recorded) or why it was refused. Never returns the secret."""
    if not presented:
        return KeyCheck("missing")
    key_id = key_id_of(presented)
    if key_id is None:
        prefix = _KEY_ID_PREFIX.match(presented)
        return KeyCheck("malformed", prefix.group(1) if prefix else None)
    row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
    # Compare digests in constant time, even for an unknown or revoked key, so timing tells nothing about the secret.
    expected = row["key_hash"] if row is not None else hash_key("")
    matches = hmac.compare_digest(expected, hash_key(presented))
    if row is None:
        return KeyCheck("unknown", key_id)
    if not matches:
        return KeyCheck("wrong_secret", key_id)
    if row["revoked_at"] is not None:
        return KeyCheck("revoked", key_id)
    # To the minute: a busy key would otherwise rewrite its row on every request.
    conn.execute(
        api_keys.update()
        .where(
            api_keys.c.id == key_id,
            sa.or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < sa.func.now() - LAST_USE_PRECISION),
        )
        .values(last_used_at=sa.func.now())
    )
    return KeyCheck("valid", key_id, ApiKey(**{k: v for k, v in row.items() if k != "key_hash"}))


def authenticate(conn: sa.Connection, presented: str) -> ApiKey | None:
    """The live key matching `presented`, with its last use recorded; None for a malformed, unknown or revoked key."""
    return check_key(conn, presented).key
