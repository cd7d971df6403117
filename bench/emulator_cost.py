"""What one full page of messages costs the emulator: wall time per round trip and the emulator's CPU per page.

    .venv/bin/python -m bench.emulator_cost            # 200 pages
    .venv/bin/python -m bench.emulator_cost 1000       # more pages, steadier figures

The emulator runs in its own process (`bench.infra.EmulatorProcess`) with no latency and rate limits off; one
keep-alive connection fetches `pages` distinct pages of 100 messages (`before=` cursors spread over one big
channel, none fetched twice), as a sync reading history does. The emulator's CPU comes from psutil, so the
client's own work (sending, reading the body) is not counted in `cpu_ms_per_page` but is in `ms_per_page`.
"""

from __future__ import annotations

import http.client
import sys
import time
from urllib.parse import urlsplit

from bench.infra import BENCH_TOKEN, EmulatorProcess
from discord_sync.emulator import GuildSpec

PAGE = 100
WARMUP_PAGES = 5


def measure_page_cost(pages: int = 200) -> dict[str, float]:
    """Fetch `pages` distinct full pages from a fresh emulator; returns ms_per_page and cpu_ms_per_page."""
    if pages < 1:
        raise ValueError("pages must be at least 1")
    total = (pages + WARMUP_PAGES) * PAGE + 1
    spec = GuildSpec(seed=1, layout="uniform", channels=1, threads_per_channel=0, messages_per_channel=total)
    with EmulatorProcess.start([spec], latency_ms=0) as emulator:
        emulator.client.enable_rate_limits(False)
        ((channel_id, ids),) = emulator.client.ground_truth(emulator.guild_ids[0]).items()
        # Page k holds ids[k * PAGE : (k + 1) * PAGE], asked for as the PAGE messages before the next id.
        cursors = [ids[(k + 1) * PAGE] for k in range(pages + WARMUP_PAGES)]
        url = urlsplit(emulator.base_url)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        headers = {"Authorization": f"Bot {BENCH_TOKEN}"}
        path = f"{url.path}/channels/{channel_id}/messages?limit={PAGE}&before="

        def fetch(cursor: int) -> int:
            connection.request("GET", f"{path}{cursor}", headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or response.getheader("Content-Type") != "application/json":
                raise RuntimeError(f"page before {cursor}: HTTP {response.status} {body[:200]!r}")
            return len(body)

        try:
            for cursor in cursors[pages:]:
                fetch(cursor)
            cpu_before, started = emulator.cpu_seconds(), time.perf_counter()
            size = sum(fetch(cursor) for cursor in cursors[:pages])
            elapsed, cpu = time.perf_counter() - started, emulator.cpu_seconds() - cpu_before
        finally:
            connection.close()
    return {
        "ms_per_page": round(elapsed / pages * 1000, 3),
        "cpu_ms_per_page": round(cpu / pages * 1000, 3),
        "kb_per_page": round(size / pages / 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    pages = int(args[0]) if args else 200
    figures = measure_page_cost(pages)
    print(f"{pages} pages of {PAGE} messages: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
