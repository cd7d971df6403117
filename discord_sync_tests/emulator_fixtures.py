"""Helpers shared by the emulator tests: raw HTTP calls, the real discord.py client, and spec validation."""

from __future__ import annotations

import asyncio
import functools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import discord
from jsonschema import Draft202012Validator

from discord_sync.emulator import Emulator
from discord_sync.source.discord.api_base import use_api_base_url

# A subset of Discord's official spec, vendored with its licence (discord_openapi/README.md).
SPEC_PATH = Path(__file__).parent / "discord_openapi" / "openapi.json"
T = TypeVar("T")


@dataclass
class RawResponse:
    """Status, headers and decoded body of one HTTP answer."""

    status: int
    headers: dict[str, str]
    body: Any


def api_get(emulator: Emulator, path: str, token: str | None = None, **params: Any) -> RawResponse:
    """GET a Discord route of the emulator without any client-side rate-limit handling."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    request = urllib.request.Request(emulator.base_url + path + query)
    request.add_header("Authorization", f"Bot {token if token is not None else emulator.token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return RawResponse(response.status, dict(response.headers), json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return RawResponse(error.code, dict(error.headers), json.loads(error.read()))


def channel_ids(emulator: Emulator, guild_index: int = 0) -> dict[str, int]:
    """Channel and thread ids of a served guild by their (unique) names."""
    guild_id = emulator.guild_ids[guild_index]
    return {c["name"]: int(c["id"]) for c in emulator.client.channels(guild_id)}


def with_discord(
    emulator: Emulator, work: Callable[[discord.http.HTTPClient], Awaitable[T]], token: str | None = None
) -> T:
    """Run `work` with the product's real discord.py HTTP client logged in against the emulator."""

    async def run() -> T:
        use_api_base_url(emulator.base_url)
        http = discord.http.HTTPClient(asyncio.get_running_loop())
        try:
            await http.static_login(token if token is not None else emulator.token)
            return await work(http)
        finally:
            await http.close()

    return asyncio.run(run())


@functools.cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def spec_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for `schema` whose `$ref`s resolve against the whole OpenAPI document."""
    document = {**_spec(), **schema}
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def response_schema(path: str) -> dict[str, Any]:
    """The 200 response schema of `GET path` in the spec (path as written there, e.g. `/guilds/{guild_id}`)."""
    return _spec()["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
