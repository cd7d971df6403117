"""`discord-sync`: the operator's command line. Each subcommand lives in its own module and registers itself."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from discord_sync.cli import (
    api_commands,
    db_commands,
    demo_command,
    emulator_command,
    sync_commands,
    tenant_commands,
)
from discord_sync.settings import SettingsError
from discord_sync.store.api_keys import ApiKeyError
from discord_sync.store.tenants import TenantError

COMMAND_MODULES = [db_commands, tenant_commands, sync_commands, api_commands, demo_command, emulator_command]


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
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (SettingsError, TenantError, ApiKeyError, CommandError) as error:
        print(f"discord-sync: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def register_command_module(module: object) -> None:
    """Let a later module (the ops commands, the demo) add itself to the command line."""
    if module not in COMMAND_MODULES:
        COMMAND_MODULES.append(module)
