"""`discord-sync`: the operator's command line. Each command group lives in its own module, which adds
its subcommands to the parser through its `register(subparsers)`; `COMMAND_MODULES` lists them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from discord_sync.cli import (
    api_commands,
    dagster_command,
    db_commands,
    demo_command,
    emulator_command,
    scrub_command,
    sync_commands,
    tenant_commands,
)
from discord_sync.control.runs import RunControlError
from discord_sync.settings import Settings, SettingsError
from discord_sync.store.api_keys import ApiKeyError
from discord_sync.store.database import export_dagster_postgres_environment
from discord_sync.store.migrate import SchemaVersionError
from discord_sync.store.tenants import TenantError

COMMAND_MODULES = [
    db_commands,
    tenant_commands,
    sync_commands,
    scrub_command,
    api_commands,
    demo_command,
    emulator_command,
    dagster_command,
]


class CommandError(Exception):
    """A command failed for a reason the operator can act on; printed as one line, exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="discord-sync", description="Keep a PostgreSQL copy of Discord communities, as Dagster assets."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `discord-sync` console command."""
    parser = build_parser()
    # Known-args parsing lets a command hand its options on untouched (`emulator --port 8765`); every other
    # command still refuses what it does not know, as `parse_args` would.
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "passes_on_options", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.passed_on = unknown
    try:
        _point_dagster_at_the_database()
        return int(args.handler(args) or 0)
    except (SettingsError, TenantError, ApiKeyError, CommandError, RunControlError, SchemaVersionError) as error:
        print(f"discord-sync: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _point_dagster_at_the_database() -> None:
    """Let `dagster.yaml`'s `DAGSTER_PG_*` follow `DATABASE_URL` in this process and the Dagster ones it starts."""
    database_url = Settings.from_env().database_url
    if database_url:
        export_dagster_postgres_environment(database_url)
