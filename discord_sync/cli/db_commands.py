"""`discord-sync migrate`: create or upgrade the product's tables."""

from __future__ import annotations

import argparse

from discord_sync.store.database import resolve_database_url
from discord_sync.store.migrate import migrate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="apply the database migrations (safe to run again)")
    parser.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    migrate(resolve_database_url())
    print("database schema is up to date")
    return 0
