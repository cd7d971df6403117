"""`discord-sync emulator`: run the Discord REST emulator in the foreground."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("emulator", help="serve an emulated Discord REST API on localhost", add_help=False)
    parser.add_argument("emulator_args", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=run_emulator)


def run_emulator(args: argparse.Namespace) -> int:
    from discord_sync.emulator import main

    return int(main(list(args.emulator_args)) or 0)
