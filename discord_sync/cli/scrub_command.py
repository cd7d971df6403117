"""`discord-sync scrub-mentions`: rewrite raw user ids already stored (rows written before the scrubber covered
every text) through the same scrubber the sync uses. A command, not a migration: it needs ANONYMIZATION_KEY."""

from __future__ import annotations

import argparse

from discord_sync.settings import Settings, SettingsError
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.store.database import resolve_database_url, shared_engine
from discord_sync.store.migrate import require_current_schema
from discord_sync.store.raw_id_audit import scrub_stored_texts
from discord_sync.store.tenants import get_tenant, list_tenants


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scrub-mentions",
        help="rewrite user mentions and discord.com/users links still stored with a raw id (safe to run again)",
    )
    parser.add_argument("--tenant", help="only this tenant (default: every tenant)")
    parser.add_argument("--batch-size", type=_positive, default=1000, help="rows per transaction (default 1000)")
    parser.set_defaults(handler=run_scrub_mentions)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def run_scrub_mentions(args: argparse.Namespace) -> int:
    """Scrub the stored texts and JSON of one tenant or all, and print what was rewritten per table and column."""
    key = Settings.from_env().anonymization_key
    if not key:
        raise SettingsError(
            "ANONYMIZATION_KEY is not set: scrub-mentions hashes the ids it finds with the deployment's key, "
            "the same one the syncs use"
        )
    url = resolve_database_url()
    require_current_schema(url)
    engine = shared_engine(url)
    with engine.connect() as conn:
        tenants = [get_tenant(conn, args.tenant).id] if args.tenant else [t.id for t in list_tenants(conn)]
    report = scrub_stored_texts(engine, Anonymizer(key.reveal()), tenants, batch_size=args.batch_size)
    for place, count in sorted(report.rewritten.items()):
        print(f"{place}: {count} row(s) rewritten")
    for place, count in sorted(report.unchanged.items()):
        print(f"{place}: {count} row(s) matched but were left unchanged by the scrubber (check them by hand)")
    print(f"scrubbed {len(tenants)} tenant(s): {sum(report.rewritten.values())} value(s) rewritten")
    return 1 if report.unchanged else 0
