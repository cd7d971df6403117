"""`discord-sync api` (serve the HTTP API) and `discord-sync api-key create|list|revoke` (its keys)."""

from __future__ import annotations

import argparse
import os

from discord_sync.settings import Settings, SettingsError
from discord_sync.store.api_keys import create_key, list_keys, revoke_key
from discord_sync.store.migrate import migrated_engine
from discord_sync.store.tenants import get_tenant, validate_tenant_id


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("api", help="serve the tenant-facing HTTP API (docs at /api/docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.set_defaults(handler=run_api)

    keys = subparsers.add_parser("api-key", help="create, list or revoke API keys")
    commands = keys.add_subparsers(dest="api_key_command", required=True)
    create = commands.add_parser("create", help="create a key; it is printed once, on the last line")
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--admin", action="store_true", help="a key that may do everything")
    scope.add_argument("--tenant", help="a key that may only read and sync this tenant")
    create.add_argument("--name", default="", help="what the key is for (shown in listings)")
    create.set_defaults(handler=run_create)
    listing = commands.add_parser("list", help="list the keys (never the keys themselves)")
    listing.set_defaults(handler=run_list)
    revoke = commands.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id", help="the key's id (`api-key list`)")
    revoke.set_defaults(handler=run_revoke)


def run_api(args: argparse.Namespace) -> int:
    from discord_sync.api.app import create_app
    from discord_sync.api.server import serve

    settings = Settings.from_env()
    if not os.environ.get("DAGSTER_HOME"):
        raise SettingsError(
            "DAGSTER_HOME is not set: set it to the folder holding the deployment's dagster.yaml, as for the "
            "webserver and the daemon (the API reads runs from that instance)"
        )
    app = create_app(settings, engine=migrated_engine(settings))
    print(f"discord-sync API on http://{args.host}:{args.port} (docs: /api/docs)", flush=True)
    serve(app, settings, host=args.host, port=args.port)
    return 0


def run_create(args: argparse.Namespace) -> int:
    with migrated_engine().begin() as conn:
        tenant_id = None
        if args.tenant is not None:
            tenant_id = get_tenant(conn, validate_tenant_id(args.tenant)).id
        key, secret = create_key(conn, tenant_id=tenant_id, name=args.name)
    scope = "admin" if key.is_admin else f"tenant {key.tenant_id}"
    print(f"created API key {key.id} ({scope}); it is shown only now, store it safely:")
    print(secret)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with migrated_engine().connect() as conn:
        keys = list_keys(conn)
    if not keys:
        print("no API keys yet: discord-sync api-key create --admin")
        return 0
    print(f"{'KEY ID':<9} {'SCOPE':<24} {'CREATED':<20} {'LAST USED':<20} {'REVOKED':<20} NAME")
    for key in keys:
        scope = "admin" if key.is_admin else f"tenant {key.tenant_id}"

        def when(moment):
            return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"

        print(
            f"{key.id:<9} {scope:<24} {when(key.created_at):<20} {when(key.last_used_at):<20} "
            f"{when(key.revoked_at):<20} {key.name}"
        )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    with migrated_engine().begin() as conn:
        key = revoke_key(conn, args.key_id)
    print(f"revoked API key {key.id}; requests with it now answer 401")
    return 0
