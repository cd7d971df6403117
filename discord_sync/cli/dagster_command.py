"""`discord-sync dagster ...`: Dagster's own command line, pointed at the product's database.

`dagster.yaml` reads the database as `DAGSTER_PG_*` (so Dagster's stock images and its Helm chart can read it);
this command derives them from `DATABASE_URL`, as every `discord-sync` command does, then runs `dagster` with the
words that follow, unchanged: `discord-sync dagster dev -w workspace.yaml`, `discord-sync dagster asset materialize
...`. The variables go to the child's environment only; nothing is printed or written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dagster",
        help="run Dagster's command line on the product's database (DAGSTER_PG_* derived from DATABASE_URL)",
        add_help=False,
    )
    parser.set_defaults(handler=run_dagster, passes_on_options=True)


def run_dagster(args: argparse.Namespace) -> int:
    from discord_sync.settings import Settings

    # Refuses, naming the variable, when DATABASE_URL is unset: `dagster` would otherwise fail on DAGSTER_PG_*.
    Settings.from_env().require_database_url()
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), *args.passed_on])
