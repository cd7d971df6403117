"""A tenant's options (who reacted, off by default) set through the command line and through the API over real
HTTP, with the API's rules: its own tenant key or an admin key, another tenant's key sees no such tenant, and a bad
body changes nothing."""
# ruff: noqa: F811 (pytest fixtures imported from api_harness are parameters of the tests)

from __future__ import annotations

import pytest
import sqlalchemy as sa

from discord_sync.cli import main
from discord_sync.store.reactors import who_reacted
from discord_sync_tests.api_harness import admin_key, api_database, api_server  # noqa: F401 (fixtures)


@pytest.mark.integration
def test_cli_turns_who_reacted_on_and_off_and_refuses_an_unknown_tenant_or_value(engine, capsys):
    assert main(["tenant", "add", "acme", "--guild", "81384788765712384"]) == 0
    with engine.connect() as conn:
        assert who_reacted(conn, "acme") is False
    assert main(["tenant", "set", "acme", "--who-reacted", "on"]) == 0
    with engine.connect() as conn:
        assert who_reacted(conn, "acme") is True
    capsys.readouterr()
    assert main(["tenant", "list"]) == 0
    assert " on " in capsys.readouterr().out
    assert main(["tenant", "set", "acme", "--who-reacted", "off"]) == 0
    with engine.connect() as conn:
        assert who_reacted(conn, "acme") is False
    assert main(["tenant", "set", "nobody", "--who-reacted", "on"]) == 1
    assert "no tenant 'nobody'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tenant", "set", "acme", "--who-reacted", "maybe"])


@pytest.mark.e2e
def test_api_patch_sets_who_reacted_with_the_tenants_own_key_or_admin_and_refuses_others(api_server, admin_key):
    api_server.tenant("opt-a", 3001)
    api_server.tenant("opt-b", 3002)
    _, key_a = api_server.key("opt-a")
    with api_server.client(key_a) as client:
        assert client.get("/api/tenants/opt-a").json()["who_reacted"] is False
        changed = client.patch("/api/tenants/opt-a", json={"who_reacted": True})
        assert changed.status_code == 200, changed.text
        assert changed.json()["who_reacted"] is True
        assert client.patch("/api/tenants/opt-b", json={"who_reacted": True}).status_code == 404
        for bad in ({"who_reacted": "yes please"}, {"who_reacted": True, "admin": True}, ["who_reacted"]):
            refused = client.patch("/api/tenants/opt-a", json=bad)
            assert refused.status_code == 422 and set(refused.json()) == {"error"}, refused.text
    with api_server.client(admin_key) as client:
        assert client.patch("/api/tenants/opt-a", json={"who_reacted": False}).json()["who_reacted"] is False
        assert client.patch("/api/tenants/opt-b", json={}).json()["who_reacted"] is False
    with api_server.engine.connect() as conn:
        assert who_reacted(conn, "opt-a") is False and who_reacted(conn, "opt-b") is False
        actions = conn.execute(
            sa.text("SELECT action FROM api_audit_log WHERE tenant_id = 'opt-a' AND status_code = 200")
        ).scalars()
        assert "PATCH /api/tenants/{tenant_id}" in set(actions)
