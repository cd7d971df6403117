"""One tenant sync in its own process, as a Dagster run would do it; prints what it did as one JSON line.

`python -m bench.sync_once TENANT` with the product's environment set. Runs in a child process so that its peak
resident memory (`ru_maxrss`) is the sync's own, and so that it never shares a GIL with the emulator.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main(tenant_id: str) -> dict:
    from discord_sync_tests.sync_harness import materialize_tenant

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = materialize_tenant(tenant_id)
    wall = time.monotonic() - started
    metadata = {}
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        metadata[key] = {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    return {
        "success": result.success,
        "wall_seconds": wall,
        "metadata": metadata,
        "baseline_rss_mb": baseline_kb / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
    }


if __name__ == "__main__":
    print("BENCH_RESULT " + json.dumps(main(sys.argv[1]), default=str), flush=True)
