"""Rate limits answer like Discord's edge, counters count them, and injected faults hit exactly N requests."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import aiohttp
import discord
import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync_tests.emulator_fixtures import api_get, channel_ids, with_discord

SMALL = [GuildSpec(seed=5, scale=0.1)]


def test_exceeding_the_global_limit_answers_a_global_429_that_discord_py_honours() -> None:
    with Emulator(SMALL, global_limit=5) as emulator:
        answers = [api_get(emulator, "/users/@me") for _ in range(8)]
        refused = [a for a in answers if a.status == 429]
        assert len(refused) == 3
        first = refused[0]
        assert first.body["global"] is True and 0 < first.body["retry_after"] <= 1
        assert first.body["message"] == "You are being rate limited."
        assert first.headers["Via"] and first.headers["Retry-After"]
        assert first.headers["X-RateLimit-Global"] == "true" and first.headers["X-RateLimit-Scope"] == "global"
        counters = emulator.client.counters()
        assert counters["rate_limited"] == 3 and counters["invalid_requests"] == 3
        assert counters["peak_requests_per_second"] >= 8

        time.sleep(1.0)
        channel_id = channel_ids(emulator)["page-boundary-101"]

        async def burst(http: discord.http.HTTPClient) -> list:
            return await asyncio.gather(*(http.logs_from(channel_id, 10) for _ in range(8)))

        assert all(len(page) == 10 for page in with_discord(emulator, burst))


def test_route_buckets_send_honest_headers_and_refuse_when_spent() -> None:
    with Emulator(SMALL, message_bucket=(3, 10.0)) as emulator:
        ids = channel_ids(emulator)
        answers = [api_get(emulator, f"/channels/{ids['general']}/messages", limit=1) for _ in range(4)]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
        assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
        assert len({a.headers["X-RateLimit-Bucket"] for a in answers}) == 1
        assert 0 < float(answers[0].headers["X-RateLimit-Reset-After"]) <= 10
        assert float(answers[0].headers["X-RateLimit-Reset"]) > time.time()
        assert answers[3].status == 429 and answers[3].body["global"] is False and answers[3].headers["Via"]
        other_channel = api_get(emulator, f"/channels/{ids['announcements']}/messages", limit=1)
        assert other_channel.status == 200, "each channel has its own message bucket"


def test_injected_rate_limit_and_server_error_hit_only_the_next_matching_requests() -> None:
    with Emulator(SMALL) as emulator:
        client = emulator.client
        client.inject("rate_limit", route=r"/messages$", retry_after=0.2, count=1)
        client.inject("server_error", status=503, route=r"/guilds/", count=2)
        ids = channel_ids(emulator)
        path = f"/channels/{ids['general']}/messages"
        assert api_get(emulator, path).status == 429
        assert api_get(emulator, path).status == 200
        guild_path = f"/guilds/{emulator.guild_ids[0]}"
        assert [api_get(emulator, guild_path).status for _ in range(3)] == [503, 503, 200]

        client.inject("server_error", status=500, route=r"/messages$", count=1)

        async def survives(http: discord.http.HTTPClient) -> list:
            return await http.logs_from(ids["general"], 5)

        assert len(with_discord(emulator, survives)) == 5
        assert client.counters()["status_counts"]["500"] == 1


def test_dropped_connection_and_slow_answers() -> None:
    with Emulator(SMALL) as emulator:
        # aiohttp retries an idempotent request once after a dropped connection, so two drops reach the caller.
        emulator.client.inject("drop_connection", count=2)

        async def call() -> None:
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.ClientError):
                    await session.get(emulator.base_url + "/users/@me")
                await asyncio.to_thread(emulator.client.inject, "slow", delay=0.3, route="/users/@me", count=1)
                started = time.monotonic()
                async with session.get(
                    emulator.base_url + "/users/@me", headers={"Authorization": f"Bot {emulator.token}"}
                ) as r:
                    assert r.status == 200
                assert time.monotonic() - started >= 0.3
            assert (await asyncio.to_thread(emulator.client.counters))["status_counts"]["499"] == 2

        asyncio.run(call())


def test_revoked_token_and_removed_bot_last_until_cleared() -> None:
    with Emulator(SMALL) as emulator:
        guild_id = emulator.guild_ids[0]
        general = channel_ids(emulator)["general"]
        emulator.client.inject("remove_bot", guild_id=guild_id)
        assert api_get(emulator, f"/guilds/{guild_id}").status == 403
        assert api_get(emulator, f"/channels/{general}/messages").status == 403
        emulator.client.inject("revoke_token")
        assert api_get(emulator, "/users/@me").status == 401
        emulator.client.clear_faults()
        assert api_get(emulator, "/users/@me").status == 200
        assert api_get(emulator, f"/guilds/{guild_id}").status == 200


def test_latency_delays_every_answer() -> None:
    with Emulator(SMALL, latency_ms=100) as emulator:
        started = time.monotonic()
        api_get(emulator, "/users/@me")
        assert time.monotonic() - started >= 0.1
        emulator.client.set_latency(0)
        assert emulator.client.settings()["latency_ms"] == 0


def test_control_api_needs_no_auth_and_api_content_type_is_exact() -> None:
    with Emulator(SMALL) as emulator:
        with urllib.request.urlopen(emulator.control_url + "/counters") as response:
            assert response.status == 200
        assert api_get(emulator, "/nonexistent/route").status == 404
        assert api_get(emulator, "/users/@me").headers["Content-Type"] == "application/json"
        log = emulator.client.request_log()
        assert [entry["status"] for entry in log] == [404, 200]
        assert {"method", "path", "query", "status", "at"} <= set(log[0])
