import pytest
import sqlalchemy as sa

from discord_sync.cli import main
from discord_sync.store.schema import tenant_changes
from discord_sync.store.tenants import TenantError, add_tenant, list_tenants, remove_tenant


@pytest.mark.parametrize("slug", ["acme", "a", "team-1", "x_y", "0day", "a" * 63])
def test_valid_slugs_are_accepted(engine, slug):
    with engine.begin() as conn:
        add_tenant(conn, slug, 1000 + len(slug))
        assert [t.id for t in list_tenants(conn)] == [slug]


@pytest.mark.parametrize("slug", ["", "Acme", "-lead", "has space", "a" * 64, "semi;colon", "ünicode"])
def test_bad_slug_is_refused_with_a_clear_message(engine, slug):
    with engine.begin() as conn, pytest.raises(TenantError, match="not a valid slug"):
        add_tenant(conn, slug, 123)


@pytest.mark.parametrize("guild", ["abc", "12.5", "-4", "", "0"])
def test_non_numeric_guild_is_refused(engine, guild):
    with engine.begin() as conn, pytest.raises(TenantError, match="not a Discord snowflake"):
        add_tenant(conn, "acme", guild)


def test_duplicate_tenant_or_guild_is_refused(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
    with engine.begin() as conn, pytest.raises(TenantError, match="already exists"):
        add_tenant(conn, "other", 42)


def test_the_table_itself_refuses_a_bad_slug_inserted_by_sql(engine):
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO tenants (id, name, guild_id) VALUES ('Bad Slug', 'x', 1)"))


def test_adds_and_removes_are_recorded_for_the_sensor_even_by_plain_sql(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tenants (id, name, guild_id) VALUES ('by-sql', 'x', 7)"))
        add_tenant(conn, "by-cli", 8)
        remove_tenant(conn, "by-sql")
        changes = conn.execute(
            sa.select(tenant_changes.c.tenant_id, tenant_changes.c.change).order_by(tenant_changes.c.seq)
        ).all()
    assert [tuple(c) for c in changes] == [("by-sql", "added"), ("by-cli", "added"), ("by-sql", "removed")]


def test_cli_adds_lists_and_removes_a_tenant(engine, capsys):
    assert main(["tenant", "add", "acme", "--guild", "81384788765712384", "--name", "Acme"]) == 0
    assert main(["tenant", "list"]) == 0
    assert "81384788765712384" in capsys.readouterr().out
    assert main(["tenant", "add", "Bad!", "--guild", "1"]) == 1
    assert "not a valid slug" in capsys.readouterr().err
    assert main(["tenant", "remove", "acme", "--yes"]) == 0
    with engine.connect() as conn:
        assert list_tenants(conn) == []
