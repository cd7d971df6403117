"""One error shape for every refusal: `{"error": {"code": "...", "message": "..."}}`, in plain words.

Nothing else leaves the API on failure: no stack trace, SQL, file path, database URL or key. Validation errors
name the field and say what is wrong without echoing the value sent.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from discord_sync.api.schemas import ErrorBody

log = logging.getLogger("discord_sync.api")

_HTTP_CODES = {
    400: ("bad_request", "the request body could not be read: send UTF-8 JSON"),
    401: ("unauthorized", "an API key is required: send `Authorization: Bearer <key>`"),
    403: ("forbidden", "this API key may not do that"),
    404: ("not_found", "there is nothing at this address"),
    405: ("method_not_allowed", "this address does not accept that method"),
    413: ("body_too_large", "the request body is too large"),
    415: ("unsupported_media_type", "send the body as JSON with `Content-Type: application/json`"),
}


class ApiError(Exception):
    """A refusal the caller can act on: HTTP status, a stable machine code and a plain-words message."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def error_response(status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response of one error."""
    body = ErrorBody.model_validate({"error": {"code": code, "message": message}})
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        if item.get("type") == "json_invalid":
            return "the body is not valid JSON"
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body") or "body"
        text = str(item.get("msg", "is invalid"))
        # Pydantic prefixes our own validators' messages; the words after it are already plain.
        text = text.removeprefix("Value error, ")
        problems.append(f"{where}: {text}")
    return "; ".join(problems) or "the request is invalid"


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure to the one error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status_code, error.code, error.message)

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
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        return error_response(
            500, "internal_error", "something went wrong on our side; the operators can see it in the log"
        )
