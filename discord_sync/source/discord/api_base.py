"""Where discord.py sends its requests: the one place that points it at Discord, or at the emulator.

discord.py builds every URL from the class attribute `discord.http.Route.BASE`; it has no per-client setting. So
the base URL is global to the process: every client in it talks to the same server. That holds here, since one
process syncs against one Discord (the real one, or the emulator in tests, the demo and benchmarks), and every
setter goes through `use_api_base_url` so the process-wide effect is visible in one place.
"""

from __future__ import annotations

import discord.http


def use_api_base_url(base_url: str) -> None:
    """Send every discord.py request of this process to `base_url` (e.g. `https://discord.com/api/v10`)."""
    discord.http.Route.BASE = base_url.rstrip("/")
