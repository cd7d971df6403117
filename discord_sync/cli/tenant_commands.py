"""`discord-sync tenant add|list|set|remove`: manage the communities this deployment syncs and their options."""

from __future__ import annotations

import argparse
import sys

from discord_sync.store.migrate import migrated_engine
from discord_sync.store.reactors import set_who_reacted
from discord_sync.store.tenants import add_tenant, get_tenant, list_tenants, remove_tenant


def register(subparsers: argparse._SubParsersAction) -> None:
    tenant = subparsers.add_parser("tenant", help="add, list or remove tenants")
    commands = tenant.add_subparsers(dest="tenant_command", required=True)

    add = commands.add_parser("add", help="add a tenant: a Discord guild to keep a copy of")
    add.add_argument("tenant", help="slug: a-z, 0-9, '_' and '-' (becomes the Dagster partition key)")
    add.add_argument("--guild", required=True, help="the Discord guild (server) id")
    add.add_argument("--name", help="display name (defaults to the slug)")
    add.set_defaults(handler=run_add)

    listing = commands.add_parser("list", help="list the tenants")
    listing.set_defaults(handler=run_list)

    options = commands.add_parser("set", help="change a tenant's options")
    options.add_argument("tenant")
    options.add_argument(
        "--who-reacted",
        choices=("on", "off"),
        required=True,
        help="list who reacted to recent messages into message_reactors (off by default; costs Discord requests "
        "within SYNC_REACTORS_REQUEST_BUDGET per run)",
    )
    options.set_defaults(handler=run_set)

    remove = commands.add_parser("remove", help="remove a tenant and all of its synced data")
    remove.add_argument("tenant")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(handler=run_remove)


def run_add(args: argparse.Namespace) -> int:
    with migrated_engine().begin() as conn:
        tenant = add_tenant(conn, args.tenant, args.guild, args.name)
    print(f"added tenant {tenant.id} (guild {tenant.guild_id}); its first sync starts on the sensor's next tick")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with migrated_engine().connect() as conn:
        rows = list_tenants(conn)
    if not rows:
        print("no tenants yet: discord-sync tenant add TENANT --guild GUILD_ID")
        return 0
    print(f"{'TENANT':<24} {'PLATFORM':<9} {'GUILD':<20} {'WHO-REACTED':<12} NAME")
    for tenant in rows:
        reacted = "on" if tenant.who_reacted else "off"
        print(f"{tenant.id:<24} {tenant.platform:<9} {tenant.guild_id:<20} {reacted:<12} {tenant.name}")
    return 0


def run_set(args: argparse.Namespace) -> int:
    with migrated_engine().begin() as conn:
        set_who_reacted(conn, args.tenant, args.who_reacted == "on")
    print(f"tenant {args.tenant}: who reacted {args.who_reacted}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    engine = migrated_engine()
    with engine.connect() as conn:
        tenant = get_tenant(conn, args.tenant)
    if not args.yes:
        if not sys.stdin.isatty():
            print("refusing to remove without confirmation: pass --yes", file=sys.stderr)
            return 1
        answer = input(f"Remove tenant {tenant.id} and ALL of its synced data? Type the tenant id to confirm: ")
        if answer.strip() != tenant.id:
            print("not removed")
            return 1
    with engine.begin() as conn:
        remove_tenant(conn, tenant.id)
    print(f"removed tenant {tenant.id} and its data")
    return 0
