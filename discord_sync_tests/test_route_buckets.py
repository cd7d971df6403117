"""A channel's windows share its message bucket: pacing by the announced bucket instead of by 429s."""

from __future__ import annotations

import asyncio
import time

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.source.discord.route_buckets import RouteBuckets
from discord_sync_tests.sync_harness import (
    TEST_TOKEN,
    create_tenant,
    expected_message_ids,
    materialize_tenant,
    stored_message_ids,
    sync_env,
)


def _most_in_any_stretch(times: list[float], stretch: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + stretch) for i, start in enumerate(times))


# Not `unit`: it waits out real bucket resets, about a second.
@pytest.mark.integration
def test_a_known_bucket_spaces_requests_and_an_unknown_route_goes_at_once():
    async def scenario() -> tuple[list[float], float]:
        buckets = RouteBuckets()
        started = time.monotonic()
        assert await buckets.reserve("GET /channels/2/messages") is False  # not known yet: no wait, nothing held
        unknown_wait = time.monotonic() - started
        buckets.learn("GET /channels/1/messages", "4", "0.3")
        buckets.learn("GET /channels/1/messages", "4", "0.1")  # later answers in a window report less time left
        sends: list[float] = []

        async def request() -> None:
            held = await buckets.reserve("GET /channels/1/messages")
            await asyncio.sleep(0.005)  # the global limiter's wait, between holding a place and sending
            buckets.sent("GET /channels/1/messages", held)
            sends.append(time.monotonic())

        await asyncio.gather(*(request() for _ in range(14)))
        return sends, unknown_wait

    sends, unknown_wait = asyncio.run(scenario())
    assert unknown_wait < 0.05
    assert len(sends) == 14
    # Never more than the bucket's 4 in any stretch of its 0.3 s period, so 14 requests take at least 3 periods.
    assert _most_in_any_stretch(sends, 0.3) <= 4
    assert max(sends) - min(sends) >= 0.9


def test_parallel_windows_of_one_channel_stay_inside_a_small_bucket(engine, monkeypatch):
    spec = GuildSpec(seed=21, layout="uniform", channels=1, messages_per_channel=3000)
    with Emulator(guilds=[spec], token=TEST_TOKEN, message_bucket=(10, 1.0)) as emulator:
        sync_env(monkeypatch, emulator, SYNC_MAX_WINDOWS_PER_CHANNEL="5", SYNC_MAX_CHANNEL_WORKERS="5")
        create_tenant(engine, "small-bucket", emulator.guild_ids[0])
        result = materialize_tenant("small-bucket")
        assert result.success
        truth = emulator.client.ground_truth(emulator.guild_ids[0])
        assert stored_message_ids(engine, "small-bucket") == expected_message_ids(truth)
        counters = emulator.client.counters()
    pages = counters["requests_by_route"]["GET /channels/{channel_id}/messages"]
    assert pages >= 15
    # Five windows on a 5-per-second bucket: discord.py alone drew a 429 on about one request in eight.
    assert counters["rate_limited"] == 0, counters
