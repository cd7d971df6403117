"""`discord-sync emulator`: run the emulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading

from .runner import DEFAULT_TOKEN, Emulator
from .spec import GuildSpec


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options of the emulator."""
    parser = argparse.ArgumentParser(prog="discord-sync emulator", description="Serve an emulated Discord REST API.")
    parser.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--guild-seed", type=int, action="append", help="seed of a generated guild (repeatable)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the default guild's message counts")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="artificial delay per request")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token the emulator accepts")
    parser.add_argument("--no-rate-limits", action="store_true", help="turn rate limits off")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run until interrupted; prints the base URL and guild ids on start."""
    args = parse_args(argv if argv is not None else sys.argv[1:])
    specs = [GuildSpec(seed=seed, scale=args.scale) for seed in (args.guild_seed or [1])]
    emulator = Emulator(
        specs, token=args.token, latency_ms=args.latency_ms, port=args.port, rate_limits=not args.no_rate_limits
    )
    with emulator:
        print(f"Discord emulator serving {emulator.base_url} (control: {emulator.control_url})", flush=True)
        for guild_id in emulator.guild_ids:
            print(f"guild {guild_id}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0
