"""One error shape for every refusal: `{"error": {"code": "...", "message": "..."}}`, in plain words.

Nothing else leaves the API on failure: no stack trace, SQL, file path, database URL or key. Validation errors
name the field and say what is wrong without echoing the value sent, nor pydantic's internals (its `input`,
`ctx`, `url`, or the union-member and validator names it puts in an error's location).
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from discord_sync.api.schemas import ErrorBody
from discord_sync.api.server import redact

log = logging.getLogger("discord_sync.api")

_HTTP_CODES = {
    400: ("bad_request", "the request body could not be read: send UTF-8 JSON"),
    401: ("unauthorized", "an API key is required: send `Authorization: Bearer <key>`"),
    403: ("forbidden", "this API key may not do that"),
    404: ("not_found", "there is nothing at this address"),
    405: ("method_not_allowed", "this address does not accept that method"),
    413: ("body_too_large", "the request body is too large"),
    415: ("unsupported_media_type", "send the body as JSON with `Content-Type: application/json`"),
    429: ("too_many_failures", "too many requests with a bad API key; try again later"),
}


class ApiError(Exception):
    """A refusal the caller can act on: HTTP status, a stable machine code and a plain-words message."""

    def __init__(self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers


# On every answer of the API, errors included: an answer about a tenant is for its caller only, never for a cache.
NO_STORE = {"Cache-Control": "no-store"}


def error_response(status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response of one error."""
    body = ErrorBody.model_validate({"error": {"code": code, "message": message}})
    return JSONResponse(body.model_dump(), status_code=status_code, headers={**NO_STORE, **(headers or {})})


# Where a value was sent; the field is the location's next part, and what follows it (pydantic's union members and
# validator names, such as `constrained-str` or `function-after[_slug(), str]`) is left out.
_SOURCES = ("body", "query", "path", "header", "cookie")


# A field name worth repeating: an unknown field's name is the caller's text, so anything else is not echoed.
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _field(location: tuple[object, ...]) -> str:
    parts = list(location)
    if parts and parts[0] in _SOURCES:
        source = parts.pop(0)
        if not parts:
            return str(source)
    name = str(parts[0]) if parts else "body"
    return name if _FIELD_NAME.fullmatch(name) else "a field with an unusable name"


def _validation_message(error: RequestValidationError) -> str:
    problems: dict[str, list[str]] = {}
    for item in error.errors():
        if item.get("type") == "json_invalid":
            return "the body is not valid JSON"
        # Only the message, never `input`, `ctx` or `url`; pydantic prefixes our own validators' plain words.
        text = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        sent = item.get("input")
        if isinstance(sent, str) and len(sent) > 2 and sent in text:
            text = "is invalid"  # a message that quotes what was sent would echo it
        messages = problems.setdefault(_field(tuple(item.get("loc", ()))), [])
        if text not in messages:
            messages.append(text)
    described = [f"{field}: {' or '.join(messages)}" for field, messages in list(problems.items())[:5]]
    return "; ".join(described) or "the request is invalid"


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure to the one error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status_code, error.code, error.message, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code, message = _HTTP_CODES.get(error.status_code, ("http_error", "the request was refused"))
        return error_response(error.status_code, code, message, headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(error))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # The details go to the server's log only; the caller learns that it was not their fault.
        log.error("unexpected error on %s %s", request.method, redact(request.url.path), exc_info=error)
        return error_response(
            500, "internal_error", "something went wrong on our side; the operators can see it in the log"
        )
