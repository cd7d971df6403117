"""Response helpers: JSON with Content-Type exactly `application/json` (discord.py ignores bodies with a charset)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web


class ApiError(Exception):
    """A Discord error answer: `{"message": ..., "code": ...}` with an HTTP status."""

    def __init__(self, status: int, message: str, code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def missing_access() -> ApiError:
    """403 for a channel or guild the bot may not see."""
    return ApiError(403, "Missing Access", 50001)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Serialise once and send with the exact content type Discord uses."""
    return web.Response(
        body=dumps(body),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON, as `json.dumps(body, ensure_ascii=False, separators=(",", ":"))` writes it.

    orjson writes the same bytes for everything the emulator serves (str keys, 64-bit ints, str, bool, None,
    lists, tuples) several times faster; what it refuses (non-str keys, bigger ints) goes through `json`.
    """
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(error: ApiError) -> web.Response:
    """The JSON answer for an `ApiError`."""
    return json_response({"message": error.message, "code": error.code}, error.status, error.headers)
