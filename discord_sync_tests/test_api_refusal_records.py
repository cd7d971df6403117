"""What the API stores and logs about a hostile call: cleaned, capped audit records, the throttle's counts in
PostgreSQL, the access log's redaction, and the input rules for snowflakes and names."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from discord_sync.api.server import redact, uvicorn_options
from discord_sync.settings import Settings
from discord_sync.store.audit import MAX_TEXT, clean_text, record_call, tenant_reference
from discord_sync.store.auth_failures import client_subject, failures_of, key_subject, record_failure
from discord_sync.store.schema import api_audit_log, api_auth_failures
from discord_sync.store.tenants import TenantError, validate_guild_id, validate_tenant_name

KEY = "dsk_abcd1234_" + "S" * 43


@pytest.mark.unit
@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (f"/api/tenants/acme?key={KEY}&limit=5", "/api/tenants/acme?key=[redacted]&limit=5"),
        (f"/api/{KEY}/sync", "/api/dsk_abcd1234_[redacted]/sync"),
        (f"/api/x?note={KEY}", "/api/x?note=dsk_abcd1234_[redacted]"),
        ("/api/x?access_token=t0k3n&API_KEY=k&offset=2", "/api/x?access_token=[redacted]&API_KEY=[redacted]&offset=2"),
        ("/api/x?password=p#frag", "/api/x?password=[redacted]#frag"),
        ("/api/tenants/acme/sync/history?limit=20", "/api/tenants/acme/sync/history?limit=20"),
        ("/a\nINFO: forged\x1b[31m", "/a\\x0aINFO: forged\\x1b[31m"),
    ],
)
def test_the_access_log_sees_keys_and_secret_parameters_redacted_and_control_characters_escaped(target, logged):
    assert redact(target) == logged


@pytest.mark.unit
def test_uvicorn_believes_forwarded_addresses_only_from_the_configured_proxies():
    assert uvicorn_options(Settings.from_env({})) == {"proxy_headers": False}
    options = uvicorn_options(Settings.from_env({"API_TRUSTED_PROXIES": "10.0.0.5,10.1.0.0/16"}))
    assert options == {"proxy_headers": True, "forwarded_allow_ips": ["10.0.0.5", "10.1.0.0/16"]}


@pytest.mark.unit
def test_audit_text_loses_hidden_characters_and_is_capped_and_odd_tenant_ids_become_hashes():
    assert clean_text("PO\x00ST\u202e /api\u200b\n\u2028") == "POST /api"
    assert len(clean_text("x" * 10_000) or "") == MAX_TEXT
    assert tenant_reference("acme") == "acme" and tenant_reference(None) is None
    odd = "Acme\x00" + "z" * 8000
    assert tenant_reference(odd) == "sha256:" + hashlib.sha256(odd.encode()).hexdigest()[:16]
    assert tenant_reference("\ud800") is not None  # a lone surrogate still hashes (it could not be stored)


@pytest.mark.unit
@pytest.mark.parametrize("guild_id", ["١٢٣٤", "１２３４", "12_34", "²", "-5", "0", "", "1e5", 0, -3])
def test_a_guild_id_is_ascii_digits_only(guild_id):
    with pytest.raises(TenantError, match="ASCII digits"):
        validate_guild_id(guild_id)


@pytest.mark.unit
def test_plain_guild_ids_and_unicode_names_pass():
    assert validate_guild_id("81384788765712384") == 81384788765712384 == validate_guild_id(81384788765712384)
    assert validate_tenant_name("Café 日本 — Ünïcödé 🎉") == "Café 日本 — Ünïcödé 🎉"


@pytest.mark.unit
@pytest.mark.parametrize(
    "name", ["a\x00b", "tab\there", "a\x7f", "nel\x85", "zw\u200bsp", "\u202eevil", "bom\ufeff", "ls\u2028"]
)
def test_a_name_with_control_or_invisible_format_characters_is_refused(name):
    with pytest.raises(TenantError, match="control characters or invisible format characters"):
        validate_tenant_name(name)


@pytest.mark.integration
def test_a_hostile_audit_record_is_written_cleaned_and_bounded(engine):
    with engine.begin() as conn:
        record_call(
            conn,
            key_id="abcd1234\x00",
            tenant_id="t\x00" * 4000,
            action="POST /api/tenants/{tenant_id}/sync\x00" + "A" * 5000,
            status_code=401,
            key_status="unknown",
            client="203.0.113.9\x00" + "9" * 500,
        )
        row = conn.execute(sa.select(api_audit_log).order_by(api_audit_log.c.id.desc())).mappings().first()
    assert row is not None
    assert row["key_id"] == "abcd1234" and row["key_status"] == "unknown" and row["outcome"] == "refused"
    assert row["tenant_id"].startswith("sha256:") and len(row["tenant_id"]) == 23
    assert len(row["action"]) == MAX_TEXT and "\x00" not in row["action"]
    assert row["client"].startswith("203.0.113.9") and len(row["client"]) == 64


@pytest.mark.integration
def test_failures_past_the_limit_ask_to_wait_until_the_window_ends_and_a_new_window_starts_over(engine):
    subjects = [client_subject("203.0.113.20"), key_subject("abcd1234")]
    with engine.begin() as conn:
        waits = [record_failure(conn, subjects, limit=3, window_seconds=120) for _ in range(5)]
        assert waits[:3] == [None, None, None]
        assert all(wait is not None and 1 <= wait <= 120 for wait in waits[3:])
        assert failures_of(conn, subjects[0]) == failures_of(conn, subjects[1]) == 5
        # Another subject's ended window is deleted by the next failure; this subject's own one starts over.
        conn.execute(
            api_auth_failures.update()
            .where(api_auth_failures.c.subject == subjects[0])
            .values(window_started_at=sa.text("now() - interval '1 hour'"))
        )
        assert record_failure(conn, [subjects[0]], limit=3, window_seconds=120) is None
        assert failures_of(conn, subjects[0]) == 1
        conn.execute(
            api_auth_failures.update()
            .where(api_auth_failures.c.subject == subjects[1])
            .values(window_started_at=sa.text("now() - interval '1 hour'"))
        )
        record_failure(conn, [client_subject("203.0.113.21")], limit=3, window_seconds=120)
        assert failures_of(conn, subjects[1]) == 0


@pytest.mark.integration
def test_failures_counted_at_once_by_many_connections_are_all_counted(engine):
    subject = client_subject("203.0.113.30")

    def fail(_: int) -> float | None:
        with engine.begin() as conn:
            return record_failure(conn, [subject, key_subject("zzzz0000")], limit=10, window_seconds=300)

    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(fail, range(40)))
    with engine.connect() as conn:
        assert failures_of(conn, subject) == 40
    assert sum(wait is None for wait in waits) == 10
