"""API keys: only a hash is stored, a key is recognised only whole, revoked keys stop working, last use recorded."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from discord_sync.store.api_keys import (
    authenticate,
    check_key,
    create_key,
    hash_key,
    key_id_of,
    list_keys,
    revoke_key,
)
from discord_sync.store.schema import api_keys
from discord_sync.store.tenants import add_tenant


@pytest.mark.unit
@pytest.mark.parametrize(
    ("presented", "key_id"),
    [
        ("dsk_abcd1234_" + "A" * 43, "abcd1234"),
        ("dsk_abcd1234_" + "A" * 42, None),
        ("dsk_ABCD1234_" + "A" * 43, None),
        ("Bearer dsk_abcd1234_" + "A" * 43, None),
        ("dsk_abcd1234_" + "A" * 43 + "\n", None),
        ("", None),
        ("'; DROP TABLE api_keys; --", None),
    ],
)
def test_only_a_well_formed_key_yields_an_id_to_look_up(presented, key_id):
    assert key_id_of(presented) == key_id


@pytest.mark.integration
def test_a_key_is_stored_as_its_hash_and_authenticates_only_whole_until_revoked(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 1)
        stored, key = create_key(conn, tenant_id="acme", name="backend")
        admin, admin_secret = create_key(conn, tenant_id=None)
    assert (stored.tenant_id, stored.is_admin, admin.is_admin, admin.tenant_id) == ("acme", False, True, None)
    assert key.startswith(f"dsk_{stored.id}_") and len(key.split("_", 2)[2]) == 43
    with engine.begin() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.id == stored.id)).one()
        assert row.key_hash == hash_key(key) and key not in str(tuple(row)) and row.last_used_at is None
        assert authenticate(conn, key).id == stored.id
        assert authenticate(conn, key[:-1] + ("B" if key[-1] != "B" else "C")) is None
        assert authenticate(conn, admin_secret.replace(admin.id, stored.id)) is None  # another key's secret
        assert conn.execute(sa.select(api_keys.c.last_used_at).where(api_keys.c.id == stored.id)).scalar()
        revoke_key(conn, stored.id)
        assert authenticate(conn, key) is None
        revoked_at = conn.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.id == stored.id)).scalar()
        revoke_key(conn, stored.id)  # revoking again keeps the first revocation time
        assert conn.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.id == stored.id)).scalar() == revoked_at
        assert sorted(k.id for k in list_keys(conn)) == sorted([stored.id, admin.id])


@pytest.mark.integration
def test_a_presented_key_is_told_apart_as_missing_malformed_unknown_wrong_revoked_or_valid(engine):
    with engine.begin() as conn:
        add_tenant(conn, "told", 2)
        stored, key = create_key(conn, tenant_id="told")
        gone, gone_key = create_key(conn, tenant_id="told")
        revoke_key(conn, gone.id)
    wrong = key[:-1] + ("B" if key[-1] != "B" else "C")
    with engine.begin() as conn:
        checks = {
            name: check_key(conn, presented)
            for name, presented in {
                "none": None,
                "empty": "",
                "short": f"dsk_{stored.id}_short",
                "garbage": "'; DROP TABLE api_keys; --",
                "unknown": "dsk_zzzzzzzz_" + "z" * 43,
                "wrong": wrong,
                "revoked": gone_key,
                "valid": key,
            }.items()
        }
    assert {name: (c.status, c.key_id) for name, c in checks.items()} == {
        "none": ("missing", None),
        "empty": ("missing", None),
        "short": ("malformed", stored.id),  # the id still names the key the caller claims
        "garbage": ("malformed", None),
        "unknown": ("unknown", "zzzzzzzz"),
        "wrong": ("wrong_secret", stored.id),
        "revoked": ("revoked", gone.id),
        "valid": ("valid", stored.id),
    }
    assert checks["valid"].key is not None and checks["valid"].key.tenant_id == "told"
    assert all(c.key is None for name, c in checks.items() if name != "valid")
