"""`discord-sync emulator`: run the Discord REST emulator in the foreground, with the emulator's own options."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    # No options of its own, and no REMAINDER positional (which takes no `--option` as its first word): the
    # command line passes every word after `emulator` on to the emulator's parser, `--help` included.
    parser = subparsers.add_parser(
        "emulator", help="serve an emulated Discord REST API on localhost (--help for its options)", add_help=False
    )
    parser.set_defaults(handler=run_emulator, passes_on_options=True)


def run_emulator(args: argparse.Namespace) -> int:
    from discord_sync.emulator import main

    return int(main(list(args.passed_on)) or 0)
